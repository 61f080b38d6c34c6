import type { IncomingHttpHeaders } from 'node:http';
import { rootCertificates } from 'node:tls';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import type { Config } from '@pypi-graph/config';
import { CrawlError, type FailureCode, httpError, type Logger, toCrawlError } from '@pypi-graph/core';
import { Agent, type Dispatcher } from 'undici';
import {
  abortedError,
  backoffDelay,
  checkAllowedUrl,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  resolveHttpUrl,
  sleep,
  throwIfAborted,
} from './common';
import {
  DNS_FAILURE_TTL_MS,
  deadlineError,
  dnsError,
  errorForFailure,
  errorForStatus,
  type FailureContext,
  insecureRedirectError,
  invalidResponse,
  RETRIED_CODES,
  tooLargeError,
  truncatedError,
} from './http-errors';
import { hostKey, type RateLimiter } from './rate-limiter';
import type { HttpStats, TrafficKind, TrafficMeter, TrafficObserver } from './types';

const gunzipAsync = promisify(gunzip);

/** Redirects followed for one request; PyPI needs one (non-normalized name → normalized). */
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export type HttpConfig = Pick<
  Config,
  | 'userAgent'
  | 'httpConnectionsPerHost'
  | 'httpTimeoutMs'
  | 'httpDeadlineMs'
  | 'httpAttempts'
  | 'httpMaxResponseBytes'
>;

export interface HttpClientOptions {
  config: HttpConfig;
  logger: Logger;
  rateLimiter: RateLimiter;
  /** Hosts (`host[:port]`) any request or redirect may go to. */
  allowedHosts: ReadonlySet<string>;
  retry?: Partial<RetryPolicy>;
  /** Told about every body chunk received, with the request's kind. */
  onBytes?: TrafficObserver;
  /**
   * Certificates (PEM) trusted besides Node's own roots: a mirror behind a private CA, or a test
   * server with a self-signed one.
   */
  ca?: string | Buffer;
  /** How long a host name that did not resolve is not asked again; 60 s by default. */
  dnsFailureTtlMs?: number;
}

export interface HttpRequest {
  url: URL;
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Rate-limiter key of the first hop; `host:<host>` by default. */
  limiterKey?: string;
  /** Ask for gzip and decode it in `buffer()`; only for answers we buffer anyway. */
  gzip?: boolean;
  /** Which statuses the caller handles; 2xx by default. Others become errors. */
  accept?: (status: number) => boolean;
  /** Codes for particular statuses, e.g. `{ 404: 'project-not-found' }`. */
  statusCodes?: Partial<Record<number, FailureCode>>;
  /** Per-call counters, incremented alongside the client's own (every attempt and hop included). */
  meter?: TrafficMeter;
  /** What the body is fetched for, as the traffic observer hears it; `api` by default. */
  kind?: TrafficKind;
}

/** A response whose status was accepted; its body is read once, through the methods below. */
export class HttpResponse {
  readonly url: URL;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Content-Length, when the server sent one. */
  readonly contentLength: number | undefined;
  readonly #body: Dispatcher.ResponseData['body'];
  readonly #stats: HttpStats;
  readonly #signal: AbortSignal | undefined;
  readonly #method: string;
  readonly #meter: TrafficMeter | undefined;
  readonly #observe: ((bytes: number) => void) | undefined;
  #received = 0;
  #complete = false;

  constructor(
    url: URL,
    method: string,
    data: Dispatcher.ResponseData,
    stats: HttpStats,
    signal: AbortSignal | undefined,
    meter?: TrafficMeter,
    observe?: (bytes: number) => void,
  ) {
    this.url = url;
    this.#meter = meter;
    this.#observe = observe;
    this.#method = method;
    this.status = data.statusCode;
    this.headers = data.headers as IncomingHttpHeaders;
    this.#body = data.body;
    // Destroying an unread body makes undici emit an abort error; nobody needs to hear it.
    this.#body.on('error', () => undefined);
    this.#stats = stats;
    this.#signal = signal;
    const length = headerValue(this.headers, 'content-length');
    this.contentLength = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  }

  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  /**
   * The raw body, chunk by chunk. Transport failures come out as CrawlErrors, and a body that
   * ends before its Content-Length as `body-truncated`. Leaving the loop early closes the connection.
   */
  async *chunks(): AsyncGenerator<Buffer, void, undefined> {
    const ctx = (): FailureContext => ({
      url: this.url.href,
      signal: this.#signal,
      phase: 'body',
      expectedBytes: this.#method === 'HEAD' ? undefined : this.contentLength,
      receivedBytes: this.#received,
    });
    try {
      for await (const chunk of this.#body) {
        const buf = chunk as Buffer;
        this.#received += buf.length;
        this.#stats.bytesReceived += buf.length;
        if (this.#meter) this.#meter.bytesReceived += buf.length;
        this.#observe?.(buf.length);
        yield buf;
      }
    } catch (err) {
      throw errorForFailure(err, ctx());
    }
    this.#complete = true;
    const c = ctx();
    if (c.expectedBytes !== undefined && this.#received < c.expectedBytes) throw truncatedError(c);
  }

  /** Whether the body is gzip; any Content-Encoding but gzip and identity is refused. */
  #gzipped(): boolean {
    const encoding = (this.header('content-encoding') ?? 'identity').trim().toLowerCase();
    if (encoding === 'gzip' || encoding === 'x-gzip') return true;
    if (encoding === 'identity' || encoding === '') return false;
    throw invalidResponse(this.url.href, `unsupported Content-Encoding ${encoding}`);
  }

  /** Refuses at once, unread, a body whose Content-Length is already over `maxBytes`. */
  #refuseDeclaredOver(maxBytes: number): void {
    if (this.contentLength !== undefined && this.contentLength > maxBytes) {
      this.destroy();
      throw tooLargeError(this.url.href, maxBytes, this.contentLength);
    }
  }

  /**
   * The whole body, at most `maxBytes` after decoding; stops reading as soon as the cap is
   * passed (or at once when Content-Length says it will be), so a huge answer is never buffered.
   */
  async buffer(maxBytes: number): Promise<Buffer> {
    this.#refuseDeclaredOver(maxBytes);
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.chunks()) {
      size += chunk.length;
      if (size > maxBytes) throw tooLargeError(this.url.href, maxBytes);
      parts.push(chunk);
    }
    const raw = Buffer.concat(parts, size);
    if (!this.#gzipped()) return raw;
    try {
      // maxOutputLength bounds the decoded size too: a small gzip bomb cannot blow the cap.
      return await gunzipAsync(raw, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw tooLargeError(this.url.href, maxBytes);
      }
      throw invalidResponse(this.url.href, 'corrupt gzip body', err);
    }
  }

  /**
   * The body decoded (gzip undone) chunk by chunk, at most `maxBytes` decoded in all: for an
   * answer read as it arrives (`list_packages_with_serial`), never held whole.
   */
  async *decodedChunks(maxBytes: number): AsyncGenerator<Buffer, void, undefined> {
    this.#refuseDeclaredOver(maxBytes);
    const gzipped = this.#gzipped();
    let size = 0;
    const counted = (buf: Buffer): Buffer => {
      size += buf.length;
      if (size > maxBytes) throw tooLargeError(this.url.href, maxBytes);
      return buf;
    };
    if (!gzipped) {
      for await (const chunk of this.chunks()) yield counted(chunk);
      return;
    }
    const gunzipper = createGunzip();
    let failed: unknown;
    const feed = (async () => {
      try {
        for await (const chunk of this.chunks()) {
          // The reader stopped (it destroys the gunzipper): leaving the loop closes the connection.
          if (gunzipper.destroyed) return;
          if (!gunzipper.write(chunk)) {
            await new Promise((r) => {
              gunzipper.once('drain', r);
              gunzipper.once('close', r);
            });
          }
        }
        gunzipper.end();
      } catch (err) {
        failed = err;
        gunzipper.destroy();
      }
    })();
    try {
      for await (const out of gunzipper) yield counted(out as Buffer);
    } catch (err) {
      if (failed !== undefined) throw failed;
      if (err instanceof CrawlError) throw err;
      throw invalidResponse(this.url.href, 'corrupt gzip body', err);
    } finally {
      gunzipper.destroy();
      await feed;
    }
    if (failed !== undefined) throw failed;
  }

  /** The body as UTF-8 text, capped like `buffer()`. */
  async text(maxBytes: number): Promise<string> {
    return (await this.buffer(maxBytes)).toString('utf8');
  }

  /**
   * Closes the body without reading it, which also closes the connection. A no-op once the
   * body was read to its end, so that the connection goes back to the pool.
   */
  destroy(): void {
    if (!this.#complete && !this.#body.destroyed) this.#body.destroy();
  }

  /** Frees the connection: a read or empty body is left alone, anything else is destroyed. */
  async release(): Promise<void> {
    if (this.#complete || this.#body.destroyed) return;
    if (this.#method === 'HEAD' || this.status === 204 || this.status === 304) {
      await this.#body.dump().catch(() => undefined);
      return;
    }
    this.#body.destroy();
  }
}

/**
 * The total time of one attempt (HTTP_DEADLINE_MS), started when its first request is sent. Its
 * signal aborts on the deadline and on the caller's own abort; `expired` tells the two apart.
 */
class Deadline {
  readonly #controller = new AbortController();
  readonly #ms: number;
  readonly #outer: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  expired = false;

  constructor(ms: number, outer: AbortSignal | undefined) {
    this.#ms = ms;
    this.#outer = outer;
    if (outer?.aborted) this.#controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = () => this.#controller.abort(this.#outer?.reason);

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  start(): void {
    if (this.#timer !== undefined || this.#controller.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.expired = true;
      this.#controller.abort(httpError('http-timeout', `deadline of ${this.#ms} ms`));
    }, this.#ms);
    this.#timer.unref();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onAbort);
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The only HTTP layer of pypi-graph: keep-alive connections (at most HTTP_CONNECTIONS_PER_HOST
 * per host), per-host (or per-key) throttling, timeouts, size caps, redirects restricted to
 * allowed hosts, and retries with backoff that honour Retry-After.
 */
export class HttpClient {
  readonly stats: HttpStats = {
    requests: 0,
    bytesReceived: 0,
    retries: 0,
    throttleWaitMs: 0,
    droppedEntries: 0,
    failures: {},
  };
  readonly config: HttpConfig;
  readonly logger: Logger;
  readonly #agent: Agent;
  readonly #limiter: RateLimiter;
  readonly #allowedHosts: ReadonlySet<string>;
  readonly #retry: RetryPolicy;
  readonly #onBytes: TrafficObserver | undefined;
  readonly #dnsFailureTtlMs: number;
  /** Host names that did not resolve, with when to ask again and what the resolver said. */
  readonly #dnsFailures = new Map<string, { until: number; cause: unknown }>();

  constructor(options: HttpClientOptions) {
    this.config = options.config;
    this.#onBytes = options.onBytes;
    this.logger = options.logger;
    this.#limiter = options.rateLimiter;
    this.#allowedHosts = options.allowedHosts;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#dnsFailureTtlMs = options.dnsFailureTtlMs ?? DNS_FAILURE_TTL_MS;
    const timeout = options.config.httpTimeoutMs;
    this.#agent = new Agent({
      // An Agent keeps one Pool per origin; `connections` caps each of them.
      connections: options.config.httpConnectionsPerHost,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      // `ca` replaces Node's roots in tls.connect: keep them and add the extra one.
      connect: options.ca === undefined ? { timeout } : { timeout, ca: [...rootCertificates, options.ca] },
    });
  }

  /** Checks a URL against the allowed hosts (`url-host-not-allowed` otherwise). */
  allowedUrl(url: string | URL, base?: string): URL {
    return checkAllowedUrl(url, this.#allowedHosts, base);
  }

  /**
   * Sends `req` and hands the accepted response to `consume`, retrying the whole exchange
   * (request and body) on retryable failures. The response body is closed afterwards.
   */
  async request<T>(req: HttpRequest, consume: (res: HttpResponse) => Promise<T>): Promise<T> {
    const attempts = this.config.httpAttempts;
    for (let attempt = 1; ; attempt++) {
      let err: CrawlError;
      const deadline = new Deadline(this.config.httpDeadlineMs, req.signal);
      try {
        throwIfAborted(req.signal);
        const res = await this.#send(req, deadline);
        try {
          return await consume(res);
        } finally {
          await res.release();
        }
      } catch (thrown) {
        err = req.signal?.aborted
          ? abortedError(thrown)
          : deadline.expired
            ? deadlineError(req.url.href, this.config.httpDeadlineMs)
            : toCrawlError(thrown);
      } finally {
        deadline.clear();
      }
      const waitMs = this.#retryDelay(err, attempt, attempts);
      if (waitMs === undefined) {
        this.stats.failures[err.code] = (this.stats.failures[err.code] ?? 0) + 1;
        throw err;
      }
      this.stats.retries++;
      this.logger.warn(
        { url: req.url.href, code: err.code, attempt, attempts, waitMs, err: err.message },
        'retrying request',
      );
      await sleep(waitMs, req.signal);
    }
  }

  /** How long to wait before the next attempt, or undefined to give up now. */
  #retryDelay(err: CrawlError, attempt: number, attempts: number): number | undefined {
    if (!RETRIED_CODES.has(err.code) || attempt >= attempts) return undefined;
    if (err.retryAfterMs !== undefined) {
      // The server said when; waiting longer than our bound is the job layer's business.
      if (err.retryAfterMs > this.#retry.maxRetryAfterMs) return undefined;
      return err.retryAfterMs;
    }
    return backoffDelay(this.#retry, attempt);
  }

  /** Throws the remembered `dns-error` while `host` is in its quiet minute. */
  #checkDns(url: URL): void {
    const failed = this.#dnsFailures.get(url.hostname);
    if (failed === undefined) return;
    if (Date.now() >= failed.until) {
      this.#dnsFailures.delete(url.hostname);
      return;
    }
    throw dnsError(url.href, url.hostname, failed.cause, this.#dnsFailureTtlMs, new Date(failed.until));
  }

  async #send(req: HttpRequest, deadline: Deadline): Promise<HttpResponse> {
    const method = req.method ?? 'GET';
    const follow = method === 'GET' || method === 'HEAD';
    const accept = req.accept ?? ((s: number) => s >= 200 && s < 300);
    let url = this.allowedUrl(req.url);
    for (let hop = 0; ; hop++) {
      this.#checkDns(url);
      const started = performance.now();
      await this.#limiter.acquire(
        hop === 0 && req.limiterKey ? req.limiterKey : hostKey(url.host),
        req.signal,
      );
      // The deadline runs from the first byte sent, not from a wait for the rate limiter.
      deadline.start();
      const sent = performance.now();
      this.stats.throttleWaitMs += sent - started;
      this.stats.requests++;
      if (req.meter) req.meter.requests++;
      let data: Dispatcher.ResponseData;
      try {
        data = await this.#agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method,
          headers: {
            'user-agent': this.config.userAgent,
            'accept-encoding': req.gzip ? 'gzip' : 'identity',
            ...req.headers,
          },
          body: req.body,
          signal: deadline.signal,
        });
      } catch (err) {
        const failure = errorForFailure(err, {
          url: url.href,
          signal: deadline.signal,
          phase: 'request',
          dnsFailureTtlMs: this.#dnsFailureTtlMs,
        });
        if (failure.code === 'dns-error') {
          this.#dnsFailures.set(url.hostname, { until: Date.now() + this.#dnsFailureTtlMs, cause: err });
          this.logger.warn(
            { host: url.hostname, err: failure.message, hint: failure.hint },
            'host name does not resolve',
          );
        }
        throw failure;
      }
      const status = data.statusCode;
      this.logger.debug(
        { method, url: url.href, status, ms: Math.round(performance.now() - sent) },
        'http response',
      );
      if (follow && REDIRECT_STATUSES.has(status)) {
        const location = headerValue(data.headers as IncomingHttpHeaders, 'location');
        await data.body.dump().catch(() => undefined);
        if (location === undefined) throw invalidResponse(url.href, `HTTP ${status} without Location`);
        if (hop >= MAX_REDIRECTS) throw invalidResponse(url.href, 'too many redirects');
        const next = resolveHttpUrl(location, url);
        // Before the host check: a downgrade is refused whatever host it goes to.
        if (url.protocol === 'https:' && next?.protocol === 'http:') {
          throw insecureRedirectError(url.href, next.href);
        }
        url = this.allowedUrl(location, url.href);
        continue;
      }
      if (!accept(status)) {
        await data.body.dump().catch(() => undefined);
        throw errorForStatus(status, data.headers, url.href, req.statusCodes);
      }
      const onBytes = this.#onBytes;
      const kind = req.kind ?? 'api';
      const observe = onBytes ? (bytes: number) => onBytes(kind, bytes) : undefined;
      return new HttpResponse(url, method, data, this.stats, deadline.signal, req.meter, observe);
    }
  }

  /** Counts entries dropped by tolerant parsing (a bad file, a bad changelog row). */
  countDropped(n: number): void {
    this.stats.droppedEntries += n;
  }

  snapshot(): HttpStats {
    return { ...this.stats, failures: { ...this.stats.failures } };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
