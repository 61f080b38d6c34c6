import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter, ratesFromConfig } from '../src';
import { expectCode } from './helpers';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Acquires `key` `n` times concurrently on each limiter; returns the elapsed milliseconds. */
async function timeAcquires(limiters: RateLimiter[], key: string, n: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(limiters.flatMap((l) => Array.from({ length: n }, () => l.acquire(key))));
  return performance.now() - t0;
}

describe('ratesFromConfig', () => {
  it('gives xmlrpc its own rate and every host the per-host rate', () => {
    const rates = ratesFromConfig({ xmlrpcRps: 1, httpRpsPerHost: 20 });
    expect(rates('xmlrpc')).toBe(1);
    expect(rates('host:pypi.org')).toBe(20);
    expect(rates('other')).toBe(0);
  });
});

describe('MemoryRateLimiter', () => {
  it('spaces acquisitions of one key, and keys do not share a budget', async () => {
    const limiter = new MemoryRateLimiter({ rates: () => 20 });
    // Five acquisitions at 20/s: four intervals of 50 ms at least.
    expect(await timeAcquires([limiter], 'host:a', 5)).toBeGreaterThanOrEqual(195);
    const t0 = performance.now();
    await limiter.acquire('host:b');
    expect(performance.now() - t0).toBeLessThan(40);
  });

  it('never waits for an unlimited key', async () => {
    const limiter = new MemoryRateLimiter({ rates: () => 0 });
    expect(await timeAcquires([limiter], 'host:a', 100)).toBeLessThan(50);
  });

  it('stops waiting when aborted', async () => {
    const limiter = new MemoryRateLimiter({ rates: () => 1 });
    await limiter.acquire('k');
    const t0 = performance.now();
    await expectCode(limiter.acquire('k', AbortSignal.timeout(50)), 'aborted');
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('RedisRateLimiter (real Redis)', () => {
  const prefix = `test-${randomUUID()}`;
  const connections: Redis[] = [];
  const connect = () => {
    const r = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
    connections.push(r);
    return r;
  };
  let admin: Redis;

  beforeAll(() => {
    admin = connect();
  });

  afterAll(async () => {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    expect(await admin.keys(`${prefix}:*`)).toEqual([]);
    for (const r of connections) r.disconnect();
  });

  it('makes two limiters on two connections share one rate', async () => {
    const a = new RedisRateLimiter({ redis: connect(), prefix, rates: () => 20 });
    const b = new RedisRateLimiter({ redis: connect(), prefix, rates: () => 20 });
    // Four acquisitions on each, eight in all at 20/s combined: seven intervals of 50 ms.
    // Each limiter alone would need only 150 ms.
    expect(await timeAcquires([a, b], 'host:shared', 4)).toBeGreaterThanOrEqual(340);
    expect(await admin.exists(`${prefix}:ratelimit:host:shared`)).toBe(1);
    expect(a.redisKey('xmlrpc')).toBe(`${prefix}:ratelimit:xmlrpc`);
  });

  it('keeps keys independent and lets the schedule key expire', async () => {
    const limiter = new RedisRateLimiter({ redis: connect(), prefix, rates: () => 10 });
    await limiter.acquire('host:x');
    const t0 = performance.now();
    await limiter.acquire('host:y');
    expect(performance.now() - t0).toBeLessThan(80);
    const ttl = await admin.pttl(`${prefix}:ratelimit:host:x`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1100);
  });

  it('falls back to EVAL when Redis does not know the script, and skips Redis for unlimited keys', async () => {
    const redis = connect();
    let evalshaCalls = 0;
    // As after a Redis restart or SCRIPT FLUSH (not issued here: the Redis is shared).
    redis.evalsha = (async () => {
      evalshaCalls++;
      throw new Error('NOSCRIPT No matching script. Please use EVAL.');
    }) as unknown as Redis['evalsha'];
    const limiter = new RedisRateLimiter({ redis, prefix, rates: (k) => (k === 'free' ? 0 : 50) });
    await limiter.acquire('host:z');
    expect(evalshaCalls).toBe(1);
    expect(await admin.exists(`${prefix}:ratelimit:host:z`)).toBe(1);
    await limiter.acquire('free');
    expect(evalshaCalls).toBe(1);
    expect(await admin.exists(`${prefix}:ratelimit:free`)).toBe(0);
  });

  it('stops waiting when aborted', async () => {
    const limiter = new RedisRateLimiter({ redis: connect(), prefix, rates: () => 1 });
    await limiter.acquire('slow');
    await expectCode(limiter.acquire('slow', AbortSignal.timeout(50)), 'aborted');
  });
});
