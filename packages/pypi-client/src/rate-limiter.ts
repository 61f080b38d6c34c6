import type { Config } from '@pypi-graph/config';
import { sleep, throwIfAborted } from './common';

/**
 * Spaces requests that share a key. `acquire` resolves when the caller may send one request.
 * Keys: `xmlrpc` for PyPI's XML-RPC endpoint, `host:<host>` for everything else.
 */
export interface RateLimiter {
  acquire(key: string, signal?: AbortSignal): Promise<void>;
}

/** Requests per second allowed for a key; 0 (or Infinity) means unlimited. */
export type RateOf = (key: string) => number;

/** Key of the XML-RPC limiter. */
export const XMLRPC_KEY = 'xmlrpc';

/** Limiter key of an HTTP host (`host:port` as in `URL.host`). */
export function hostKey(host: string): string {
  return `host:${host.toLowerCase()}`;
}

/**
 * The rates of the configuration: `xmlrpc` at XMLRPC_RPS (PyPI asks for at most 1/s,
 * https://warehouse.pypa.io/api-reference/xml-rpc.html), every host at HTTP_RPS_PER_HOST.
 */
export function ratesFromConfig(config: Pick<Config, 'xmlrpcRps' | 'httpRpsPerHost'>): RateOf {
  return (key) =>
    key === XMLRPC_KEY ? config.xmlrpcRps : key.startsWith('host:') ? config.httpRpsPerHost : 0;
}

/** Milliseconds between two requests at `rps`; 0 when unlimited. */
export function intervalMs(rps: number): number {
  return rps > 0 && Number.isFinite(rps) ? 1000 / rps : 0;
}

/**
 * A limiter for one process. "Next free slot" scheduling: each caller reserves the slot after
 * the last reserved one and sleeps until it, so requests leave evenly spaced, in arrival order.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #rateOf: RateOf;
  readonly #next = new Map<string, number>();

  constructor(options: { rates: RateOf }) {
    this.#rateOf = options.rates;
  }

  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const interval = intervalMs(this.#rateOf(key));
    if (interval === 0) return;
    const now = performance.now();
    const slot = Math.max(now, this.#next.get(key) ?? 0);
    this.#next.set(key, slot + interval);
    await sleep(slot - now, signal);
  }
}

/** A limiter that never waits. */
export const unlimitedRateLimiter: RateLimiter = Object.freeze({
  async acquire(_key: string, signal?: AbortSignal) {
    throwIfAborted(signal);
  },
});
