import { createHash } from 'node:crypto';
import { httpError, internalError } from '@pypi-graph/core';
import type { Redis } from 'ioredis';
import { sleep, throwIfAborted } from './common';
import { intervalMs, type RateLimiter, type RateOf } from './rate-limiter';

// "Next free slot" scheduling, atomically, on Redis's clock (`TIME`), so every worker on every
// machine shares one schedule per key and clock skew between machines does not matter.
// The key holds the next free slot in microseconds; the caller gets its own slot and how long
// to sleep until it. Values are formatted with %.0f because Lua 5.1's tostring keeps only 14
// significant digits and microsecond timestamps have 16.
// KEYS[1] = limiter key; ARGV[1] = interval between requests, microseconds.
const RESERVE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local slot = now
if nextFree > now then slot = nextFree end
local after = slot + interval
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return string.format('%.0f', slot - now)
`;

const RESERVE_SLOT_SHA = createHash('sha1').update(RESERVE_SLOT).digest('hex');

export interface RedisRateLimiterOptions {
  /** The connection to use; the limiter never closes it. */
  redis: Redis;
  /** Key prefix (QUEUE_PREFIX); keys are `${prefix}:ratelimit:<key>`. */
  prefix: string;
  /** Requests per second per key. */
  rates: RateOf;
}

/** A limiter shared by every process that uses the same Redis and prefix. */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #rateOf: RateOf;

  constructor(options: RedisRateLimiterOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#rateOf = options.rates;
  }

  /** The Redis key that holds the schedule of `key`. */
  redisKey(key: string): string {
    return `${this.#prefix}:ratelimit:${key}`;
  }

  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const interval = intervalMs(this.#rateOf(key));
    if (interval === 0) return;
    const waitUs = await this.#reserve(this.redisKey(key), Math.round(interval * 1000));
    await sleep(waitUs / 1000, signal);
  }

  async #reserve(redisKey: string, intervalUs: number): Promise<number> {
    let reply: unknown;
    try {
      try {
        reply = await this.#redis.evalsha(RESERVE_SLOT_SHA, 1, redisKey, intervalUs);
      } catch (err) {
        // Redis forgets scripts on restart or SCRIPT FLUSH; EVAL loads it again.
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        reply = await this.#redis.eval(RESERVE_SLOT, 1, redisKey, intervalUs);
      }
    } catch (err) {
      // Redis unreachable: retryable, like any other network failure.
      throw httpError('network-error', `rate limiter: ${(err as Error).message}`, { cause: err });
    }
    const wait = Number(reply);
    if (!Number.isFinite(wait) || wait < 0) {
      throw internalError(`rate limiter: unexpected reply ${String(reply)}`);
    }
    return wait;
  }
}
