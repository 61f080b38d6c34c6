import type { Config } from '@pypi-graph/config';
import { type CrawlError, httpError, isCrawlError } from '@pypi-graph/core';
import { createPypiClient } from './client';

/** How long a first request to the index may take before we say it is not reachable. */
export const PROBE_TIMEOUT_MS = 10_000;

const UNREACHABLE = new Set<string>(['network-error', 'dns-error', 'tls-error', 'http-timeout']);

export type IndexProbe =
  | { reachable: true; lastSerial: number | undefined }
  | { reachable: false; error: CrawlError };

/**
 * One XML-RPC `changelog_last_serial` to `url`, one attempt, a short timeout, so that an index
 * that cannot be reached at all (DNS failure, connection refused, nothing answering) is known at
 * once instead of after every job has spent its retries. Any HTTP answer, even an error status,
 * means the index is reachable: the jobs then deal with what it says.
 */
export async function probeIndex(
  config: Config,
  url: string = config.pypiUrl,
  timeoutMs: number = PROBE_TIMEOUT_MS,
): Promise<IndexProbe> {
  const client = createPypiClient({
    ...config,
    pypiUrl: url,
    httpAttempts: 1,
    httpTimeoutMs: Math.min(config.httpTimeoutMs, timeoutMs),
  });
  try {
    return { reachable: true, lastSerial: await client.changelogLastSerial() };
  } catch (err) {
    // A name that does not resolve, a refused connection, a failed TLS handshake, no answer.
    if (isCrawlError(err) && UNREACHABLE.has(err.code)) {
      return { reachable: false, error: err };
    }
    return { reachable: true, lastSerial: undefined };
  } finally {
    await client.close();
  }
}

/** Throws `index-unreachable` (with a hint) unless the configured index answers a first request. */
export async function requireIndex(config: Config): Promise<number | undefined> {
  const probe = await probeIndex(config);
  if (probe.reachable) return probe.lastSerial;
  const cause = probe.error.message.replace(/ \(https?:[^)]*\)$/, '');
  throw httpError('index-unreachable', `the index at ${config.pypiUrl} is not reachable: ${cause}`, {
    cause: probe.error,
    hint:
      probe.error.code === 'http-timeout'
        ? `it did not answer within ${Math.min(config.httpTimeoutMs, PROBE_TIMEOUT_MS) / 1000} s; check PYPI_URL and the network`
        : "check PYPI_URL and this machine's network and DNS; without network, serve a local index with `pnpm pypi-server --dir test/fixtures/index` and set PYPI_URL to the URL it prints",
  });
}
