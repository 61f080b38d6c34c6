import {
  type CrawlError,
  crawlError,
  type FailureCode,
  httpError,
  internalError,
  isCrawlError,
} from '@pypi-graph/core';
import { abortedError, parseRetryAfter } from './common';

// The one place where HTTP outcomes become failure codes: 429 and 5xx are mapped to a typed
// error here and nowhere else. Everything else in the package throws what these functions return.

/** Codes the HTTP layer retries itself, with backoff; everything else goes to the caller at once. */
export const RETRIED_CODES: ReadonlySet<FailureCode> = new Set<FailureCode>([
  'network-error',
  'http-timeout',
  'http-429',
  'http-5xx',
  'body-truncated',
  'xmlrpc-rate-limited',
]);

type Headers = Record<string, string | string[] | undefined>;

/** The error for a non-2xx status; `overrides` lets a caller name a status (404 → project-not-found). */
export function errorForStatus(
  status: number,
  headers: Headers,
  url: string,
  overrides: Partial<Record<number, FailureCode>> = {},
): CrawlError {
  const details = { url, status };
  const override = overrides[status];
  if (override !== undefined) return crawlError(override, `HTTP ${status} from ${url}`, { details });
  if (status === 429) {
    return httpError('http-429', `HTTP 429 Too Many Requests from ${url}`, {
      retryAfterMs: parseRetryAfter(headers['retry-after']),
      hint: 'lower HTTP_RPS_PER_HOST or XMLRPC_RPS',
      details,
    });
  }
  if (status >= 500) {
    // https://www.rfc-editor.org/rfc/rfc9110#status.503: 503 may carry Retry-After too.
    return httpError('http-5xx', `HTTP ${status} from ${url}`, {
      retryAfterMs: status === 503 ? parseRetryAfter(headers['retry-after']) : undefined,
      details,
    });
  }
  if (status >= 300 && status < 400) {
    return httpError('response-invalid', `unexpected redirect (HTTP ${status}) from ${url}`, {
      details,
    });
  }
  return httpError('http-4xx', `HTTP ${status} from ${url}`, { details });
}

/** Where in the exchange a transport failure happened; decides body-truncated vs network-error. */
export interface FailureContext {
  url: string;
  signal?: AbortSignal;
  /** Set once the status line and headers arrived. */
  phase: 'request' | 'body';
  /** Content-Length of the response, when the server sent one. */
  expectedBytes?: number;
  /** Raw body bytes received so far. */
  receivedBytes?: number;
  /** For the hint of a `dns-error`: how long the failure is remembered. */
  dnsFailureTtlMs?: number;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** OpenSSL's verification failures as Node names them (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, …). */
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|HOSTNAME_MISMATCH)/;
/** getaddrinfo's answers for a name that does not resolve (now, or at all). */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME', 'EAI_FAIL']);

/** How long a host whose name did not resolve is not asked again. */
export const DNS_FAILURE_TTL_MS = 60_000;

/** The error for a host name that did not resolve; `cachedUntil` when it is a remembered failure. */
export function dnsError(
  url: string,
  host: string,
  cause: unknown,
  ttlMs: number,
  cachedUntil?: Date,
): CrawlError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return httpError(
    'dns-error',
    cachedUntil
      ? `${host} did not resolve a moment ago (${why}); not asked again before ${cachedUntil.toISOString()} (${url})`
      : `${host} does not resolve: ${why} (${url})`,
    {
      cause,
      hint: `check the host name in PYPI_URL / PYPI_FILES_HOSTS and this machine's DNS resolver (/etc/resolv.conf); requests to ${host} fail at once for ${Math.round(ttlMs / 1000)} s`,
      details: { url, host, cached: cachedUntil !== undefined },
    },
  );
}

/** The error for anything thrown while sending a request or reading its body. */
export function errorForFailure(err: unknown, ctx: FailureContext): CrawlError {
  // An abort we asked for wins over whatever undici reports about the torn-down socket.
  if (ctx.signal?.aborted) return abortedError(err);
  if (isCrawlError(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const details = { url: ctx.url, phase: ctx.phase, cause: code };
  if (typeof code === 'string' && DNS_CODES.has(code)) {
    return dnsError(ctx.url, new URL(ctx.url).hostname, err, ctx.dnsFailureTtlMs ?? DNS_FAILURE_TTL_MS);
  }
  if (typeof code === 'string' && TLS_CODE.test(code)) {
    return httpError('tls-error', `TLS: ${(err as Error).message} (${ctx.url})`, {
      cause: err,
      hint: "the server's certificate does not verify (expired, another name, an unknown CA); for a mirror behind a private CA, give its certificate to the client (NODE_EXTRA_CA_CERTS)",
      details,
    });
  }
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    return httpError('http-timeout', `timed out (${ctx.phase}) on ${ctx.url}`, {
      cause: err,
      hint: 'raise HTTP_TIMEOUT_MS if the index is slow',
      details,
    });
  }
  const truncated =
    code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' ||
    (ctx.phase === 'body' && ctx.expectedBytes !== undefined && (ctx.receivedBytes ?? 0) < ctx.expectedBytes);
  if (truncated) return truncatedError(ctx, err);
  if (
    (typeof code === 'string' && (code.startsWith('UND_ERR') || /^E[A-Z]+$/.test(code))) ||
    (err instanceof Error && err.name === 'SocketError')
  ) {
    return httpError('network-error', `${(err as Error).message} (${ctx.url})`, { cause: err, details });
  }
  return internalError(`${err instanceof Error ? err.message : String(err)} (${ctx.url})`, {
    cause: err,
    details,
  });
}

export function truncatedError(ctx: FailureContext, cause?: unknown): CrawlError {
  return httpError(
    'body-truncated',
    `body ended after ${ctx.receivedBytes ?? 0} of ${ctx.expectedBytes ?? '?'} bytes (${ctx.url})`,
    { cause, details: { url: ctx.url, received: ctx.receivedBytes, expected: ctx.expectedBytes } },
  );
}

export function tooLargeError(url: string, limit: number, size?: number): CrawlError {
  return httpError('response-too-large', `response from ${url} exceeds ${limit} bytes`, {
    hint: 'raise HTTP_MAX_RESPONSE_BYTES if the answer is legitimate',
    details: { url, limit, size },
  });
}

export function invalidResponse(url: string, message: string, cause?: unknown): CrawlError {
  return httpError('response-invalid', `${message} (${url})`, { cause, details: { url } });
}

/** The error for a request that did not complete within HTTP_DEADLINE_MS (a server dripping bytes). */
export function deadlineError(url: string, deadlineMs: number, receivedBytes?: number): CrawlError {
  return httpError('http-timeout', `no complete answer within ${deadlineMs} ms (${url})`, {
    hint: 'raise HTTP_DEADLINE_MS if large files come over a slow link',
    details: { url, deadlineMs, receivedBytes, phase: 'deadline' },
  });
}

/** A redirect from https to plain http: never followed (the rest would travel unencrypted). */
export function insecureRedirectError(from: string, to: string): CrawlError {
  return httpError('insecure-redirect', `${from} redirects to ${to}: from https to plain http`, {
    hint: 'the index or a files host downgrades to http; give pypi-graph an https URL that stays https',
    details: { url: from, location: to },
  });
}
