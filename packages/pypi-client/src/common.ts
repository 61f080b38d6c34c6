import { setTimeout as delay } from 'node:timers/promises';
import { type CrawlError, httpError, jobError } from '@pypi-graph/core';

/** Sleeps `ms` milliseconds; an abort ends the wait at once with code `aborted`. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    throw abortedError(err);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal.reason);
}

export function abortedError(cause: unknown): CrawlError {
  return jobError('aborted', 'the operation was aborted', { cause });
}

// https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
/**
 * `Retry-After` as milliseconds from `now`: either delay-seconds or an HTTP-date.
 * Undefined when absent or unreadable, so callers fall back to their own backoff.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Retry timing of the HTTP layer. */
export interface RetryPolicy {
  /** First backoff delay in milliseconds; doubles with every attempt. */
  baseMs: number;
  /** Largest backoff delay in milliseconds. */
  maxMs: number;
  /**
   * Longest server-requested wait (`Retry-After`, XML-RPC "reset in N seconds") we sleep
   * through in-process; a longer one fails the call so the job layer can delay the job instead.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  baseMs: 500,
  maxMs: 30_000,
  maxRetryAfterMs: 60_000,
});

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so that
 * workers which failed together do not retry together. `attempt` counts from 1.
 */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Parses a URL that may be relative to `base`; undefined when it is not http(s). */
export function resolveHttpUrl(url: string, base?: string | URL): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  return parsed;
}

/**
 * Accepts a URL only when its host (with port) is one of `allowedHosts`, so that an index
 * answer cannot point the crawler at arbitrary machines (internal services, other ports).
 */
export function checkAllowedUrl(url: string | URL, allowedHosts: ReadonlySet<string>, base?: string): URL {
  const parsed = typeof url === 'string' ? resolveHttpUrl(url, base) : url;
  if (parsed === undefined) {
    throw httpError('url-host-not-allowed', `not an http(s) URL: ${String(url)}`, {
      details: { url: String(url) },
    });
  }
  if (!allowedHosts.has(parsed.host.toLowerCase())) {
    throw httpError('url-host-not-allowed', `host ${parsed.host} is not an allowed files host`, {
      hint: 'add the host to PYPI_FILES_HOSTS if it is trustworthy',
      details: { url: parsed.href, host: parsed.host },
    });
  }
  return parsed;
}
