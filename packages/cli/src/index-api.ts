import type { Config } from '@pypi-graph/config';
import { type CrawlError, httpError, isCrawlError, type Logger } from '@pypi-graph/core';
import type { PypiApi } from '@pypi-graph/pipeline';
import {
  createPypiClient,
  MemoryRateLimiter,
  type PypiClient,
  type RateLimiter,
  RedisRateLimiter,
  ratesFromConfig,
  type TrafficObserver,
} from '@pypi-graph/pypi-client';
import { Redis } from 'ioredis';

export interface IndexApi {
  api: PypiApi;
  client: PypiClient;
  close(): Promise<void>;
}

/**
 * The index client as the pipeline sees it. With Redis, the rate limits (XML-RPC ≤ 1/s, HTTP
 * per host) are shared by every process of the deployment; without, they hold in this process.
 */
export function createIndexApi(
  config: Config,
  logger: Logger,
  options: { onBytes?: TrafficObserver } = {},
): IndexApi {
  let redis: Redis | undefined;
  let rateLimiter: RateLimiter;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
    redis.on('error', (err) => logger.warn({ err: err.message }, 'redis (rate limiter) error'));
    rateLimiter = new RedisRateLimiter({ redis, prefix: config.queuePrefix, rates: ratesFromConfig(config) });
  } else {
    rateLimiter = new MemoryRateLimiter({ rates: ratesFromConfig(config) });
  }
  const client = createPypiClient(config, { logger, rateLimiter, onBytes: options.onBytes });
  const api = pipelineApi(client);
  return {
    api,
    client,
    async close() {
      await client.close();
      await redis?.quit().catch(() => {});
    },
  };
}

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

/** The pipeline's view of a client: what a project job reads of the Simple and JSON APIs. */
export function pipelineApi(client: PypiClient): PypiApi {
  return {
    changelogLastSerial: (signal) => client.changelogLastSerial({ signal }),
    changelogSinceSerial: (serial, signal) => client.changelogSinceSerial(serial, { signal }),
    listPackagesWithSerial: (signal) => client.listPackagesWithSerial({ signal }),
    changelogSerialAt: async (time, signal) => (await client.changelogSerialAt(time, { signal })).serial,
    async getSimpleProject(name, signal) {
      const page = await client.getSimpleProject(name, { signal });
      return {
        name: page.name,
        lastSerial: page.lastSerial ?? undefined,
        versions: page.versions ?? undefined,
        files: page.files.map((f) => ({
          filename: f.filename,
          url: f.url,
          sha256: f.sha256 ?? undefined,
          yanked: f.yanked,
          coreMetadata: f.coreMetadata,
          size: f.size ?? undefined,
          uploadTime: f.uploadTime ?? undefined,
          requiresPython: f.requiresPython ?? undefined,
        })),
      };
    },
    async getProjectJson(name, signal) {
      const page = await client.getProjectJson(name, { signal });
      const releases = new Map(
        [...page.releases].map(([version, files]) => [
          version,
          files.map((f) => ({
            filename: f.filename,
            url: f.url,
            sha256: f.sha256,
            packagetype: f.packagetype,
            pythonVersion: f.pythonVersion ?? (f.packagetype === 'sdist' ? 'source' : ''),
            size: f.size,
            uploadTime: f.uploadTime ?? undefined,
            requiresPython: f.requiresPython,
            yanked: f.yanked,
            yankedReason: f.yankedReason,
          })),
        ]),
      );
      return { name: page.name, lastSerial: page.lastSerial, releases };
    },
  };
}
