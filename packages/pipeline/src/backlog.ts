// The window (issue 9): Redis holds a window of work, the backlog stays in PostgreSQL. A job that
// would enqueue much (discover: every listed project; project: its files without a result)
// instead records the work in the database, as it already did, and *defers* it here: a small
// mark per queue ("work waits in the database from this file id on"). Feeders (packages/pipeline/
// src/feeder.ts) turn the marks into jobs, a page at a time, while each queue has room.

import type { Config } from '@pypi-graph/config';
import type { Redis } from 'ioredis';

/** The queues whose backlog waits in the database: pending_projects, and files without a result. */
export const FED_QUEUES = ['project', 'wheel-metadata', 'sdist-extract'] as const;
export type FedQueue = (typeof FED_QUEUES)[number];

/** What a job uses to say "work for this queue waits in the database". */
export interface Backlog {
  /**
   * Work for `queue` waits in the database. Projects: in pending_projects. Files: these ids (a
   * project's files without a result, just committed), in id order. `priority`: the most urgent
   * it was asked with.
   */
  defer(queue: FedQueue, priority?: number, fileIds?: readonly number[]): Promise<void>;
  /** Every file from id `fromId` on is walked again (`crawl --resume`, the scheduler's start). */
  deferFrom(queue: FedQueue, fromId: number, priority?: number): Promise<void>;
}

/** One walk through a queue's backlog in the database, in key order. */
export interface FeedPass {
  /** The deferrals this pass covers: every one counted up to here was made before it started. */
  gen: number;
  /** The last key fed (a file id, or a pending project's normalized name); '' or -1 before the first. */
  cursor: string;
  priority: number | undefined;
}

/**
 * The marks, shared by every process that enqueues or feeds (Redis), or held by one process (the
 * embedded runner). A pass starts only when there are deferrals it has not covered; it walks on
 * from where the previous feeder left it (the cursor is in the store), so several feeders share
 * one pass and a feeder that dies mid-way loses nothing.
 *
 * Files: passes walk ids upwards and never walk an id twice (the *horizon* is the highest id a
 * pass has walked). A project's files committed after a page had already walked past their ids
 * (concurrent transactions commit out of id order), or while a page is being read, are deferred
 * by id instead and fed from a short list before the next page; so each file is offered once,
 * plus at most once more when it raced a page.
 */
export interface BacklogStore extends Backlog {
  /** A pass is running, or deferrals wait for one. */
  pending(queue: FedQueue): Promise<boolean>;
  /** Runs `fn` holding the queue's feeding lock; undefined when another feeder holds it. */
  withLock<T>(queue: FedQueue, fn: () => Promise<T>): Promise<T | undefined>;
  /** Up to `n` file ids deferred by id (they raced a page), first in first out, left on the list. */
  peekIds(queue: FedQueue, n: number): Promise<number[]>;
  /** Removes the first `n` ids from the list (once they are enqueued). */
  dropIds(queue: FedQueue, n: number): Promise<void>;
  /** The running pass, or a new one when deferrals wait; undefined when there is nothing to feed. */
  startPass(queue: FedQueue): Promise<FeedPass | undefined>;
  /**
   * A page is about to be read: until `advance`, files deferred may be on either side of the
   * page's unknown end, so they are deferred by id.
   */
  beginRead(queue: FedQueue): Promise<void>;
  /** Moves the running pass's cursor (and, for files, the horizon); the page read is over. */
  advance(queue: FedQueue, cursor: string): Promise<void>;
  /** The pass reached the end of the backlog: the deferrals it covers are fed. */
  finishPass(queue: FedQueue, pass: FeedPass): Promise<void>;
}

/** The backlog a processor defers to: only when a window is set (QUEUE_WINDOW > 0). */
export function deferring(ctx: { readonly config: Config; readonly backlog?: Backlog }): Backlog | undefined {
  return ctx.config.queueWindow > 0 ? ctx.backlog : undefined;
}

interface Mark {
  gen: number;
  fed: number;
  /** Files: the highest id a pass has walked (-1: none). */
  horizon: number;
  /** The smallest file id deferred beyond the horizon since the last pass started. */
  from?: number;
  /** The smallest id a forced walk (deferFrom) starts at. */
  rewalk?: number;
  priority?: number;
  ids: number[];
  pass?: FeedPass;
  reading: boolean;
}

/** One process's marks (the embedded runner): the same rules, no lock needed across processes. */
export class MemoryBacklog implements BacklogStore {
  private readonly marks = new Map<FedQueue, Mark>();
  private readonly locked = new Set<FedQueue>();

  private mark(queue: FedQueue): Mark {
    let m = this.marks.get(queue);
    if (!m) {
      m = { gen: 0, fed: 0, horizon: -1, ids: [], reading: false };
      this.marks.set(queue, m);
    }
    return m;
  }

  async defer(queue: FedQueue, priority?: number, fileIds: readonly number[] = []): Promise<void> {
    const m = this.mark(queue);
    m.gen++;
    if (priority !== undefined) m.priority = Math.min(m.priority ?? priority, priority);
    for (const id of fileIds) {
      if (id <= m.horizon || m.reading) m.ids.push(id);
      else m.from = Math.min(m.from ?? id, id);
    }
  }

  async deferFrom(queue: FedQueue, fromId: number, priority?: number): Promise<void> {
    const m = this.mark(queue);
    m.gen++;
    if (priority !== undefined) m.priority = Math.min(m.priority ?? priority, priority);
    m.rewalk = Math.min(m.rewalk ?? fromId, fromId);
  }

  async pending(queue: FedQueue): Promise<boolean> {
    const m = this.mark(queue);
    return m.pass !== undefined || m.gen > m.fed || m.ids.length > 0;
  }

  async withLock<T>(queue: FedQueue, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.locked.has(queue)) return undefined;
    this.locked.add(queue);
    try {
      return await fn();
    } finally {
      this.locked.delete(queue);
    }
  }

  async peekIds(queue: FedQueue, n: number): Promise<number[]> {
    return this.mark(queue).ids.slice(0, n);
  }

  async dropIds(queue: FedQueue, n: number): Promise<void> {
    this.mark(queue).ids.splice(0, n);
  }

  async startPass(queue: FedQueue): Promise<FeedPass | undefined> {
    const m = this.mark(queue);
    if (m.pass) return { ...m.pass };
    if (m.gen <= m.fed) return undefined;
    let cursor = '';
    if (queue !== 'project') {
      let c = Math.max(m.horizon, (m.from ?? 0) - 1);
      if (m.rewalk !== undefined) c = Math.min(c, m.rewalk - 1);
      cursor = String(c);
    }
    m.pass = { gen: m.gen, cursor, priority: m.priority };
    m.from = undefined;
    m.rewalk = undefined;
    m.priority = undefined;
    return { ...m.pass };
  }

  async beginRead(queue: FedQueue): Promise<void> {
    if (queue !== 'project') this.mark(queue).reading = true;
  }

  async advance(queue: FedQueue, cursor: string): Promise<void> {
    const m = this.mark(queue);
    m.reading = false;
    if (!m.pass) return;
    m.pass.cursor = cursor;
    if (queue !== 'project') m.horizon = Math.max(m.horizon, Number(cursor));
  }

  async finishPass(queue: FedQueue, pass: FeedPass): Promise<void> {
    const m = this.mark(queue);
    m.fed = Math.max(m.fed, pass.gen);
    m.pass = undefined;
    m.reading = false;
  }
}

// Redis: one hash per queue, `<prefix>:backlog:<queue>`: gen (deferrals so far), fed (deferrals
// covered by finished passes), horizon (files: the highest id walked), from/rewalk/prio (since
// the last pass started), the running pass (passGen, cursor, passPrio); and a list
// `<prefix>:backlog:<queue>:ids` of file ids deferred by id.
const DEFER = `
redis.call('HINCRBY', KEYS[1], 'gen', 1)
if ARGV[1] ~= '' then
  local prio = redis.call('HGET', KEYS[1], 'prio')
  if (not prio) or tonumber(ARGV[1]) < tonumber(prio) then redis.call('HSET', KEYS[1], 'prio', ARGV[1]) end
end
local horizon = tonumber(redis.call('HGET', KEYS[1], 'horizon') or '-1')
local reading = redis.call('HGET', KEYS[1], 'reading')
local from = nil
for i = 2, #ARGV do
  local id = tonumber(ARGV[i])
  if id <= horizon or reading then redis.call('RPUSH', KEYS[2], ARGV[i])
  elseif (not from) or id < from then from = id end
end
if from then
  local cur = redis.call('HGET', KEYS[1], 'from')
  if (not cur) or from < tonumber(cur) then redis.call('HSET', KEYS[1], 'from', tostring(from)) end
end
return 1`;

const DEFER_FROM = `
redis.call('HINCRBY', KEYS[1], 'gen', 1)
if ARGV[2] ~= '' then
  local prio = redis.call('HGET', KEYS[1], 'prio')
  if (not prio) or tonumber(ARGV[2]) < tonumber(prio) then redis.call('HSET', KEYS[1], 'prio', ARGV[2]) end
end
local cur = redis.call('HGET', KEYS[1], 'rewalk')
if (not cur) or tonumber(ARGV[1]) < tonumber(cur) then redis.call('HSET', KEYS[1], 'rewalk', ARGV[1]) end
return 1`;

// Returns {passGen, cursor, passPrio or ''} of the running pass, starting one when deferrals wait.
// ARGV[1]: 'files' for the file queues (a numeric cursor from the horizon), '' for projects.
const START_PASS = `
local passGen = redis.call('HGET', KEYS[1], 'passGen')
if passGen then
  return {passGen, redis.call('HGET', KEYS[1], 'cursor'), redis.call('HGET', KEYS[1], 'passPrio') or ''}
end
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
local fed = tonumber(redis.call('HGET', KEYS[1], 'fed') or '0')
if gen <= fed then return false end
local cursor = ''
if ARGV[1] ~= '' then
  local c = tonumber(redis.call('HGET', KEYS[1], 'horizon') or '-1')
  local from = redis.call('HGET', KEYS[1], 'from')
  if from and tonumber(from) - 1 > c then c = tonumber(from) - 1 end
  local rewalk = redis.call('HGET', KEYS[1], 'rewalk')
  if rewalk and tonumber(rewalk) - 1 < c then c = tonumber(rewalk) - 1 end
  cursor = tostring(c)
end
local prio = redis.call('HGET', KEYS[1], 'prio') or ''
redis.call('HDEL', KEYS[1], 'from', 'rewalk', 'prio')
redis.call('HSET', KEYS[1], 'passGen', tostring(gen), 'cursor', cursor, 'passPrio', prio)
return {tostring(gen), cursor, prio}`;

// Only the lock's holder moves the cursor or ends the pass (a feeder whose lock expired does not).
const ADVANCE = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'reading')
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
if ARGV[3] ~= '' then
  local h = tonumber(redis.call('HGET', KEYS[1], 'horizon') or '-1')
  if tonumber(ARGV[2]) > h then redis.call('HSET', KEYS[1], 'horizon', ARGV[2]) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`;

const FINISH_PASS = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local fed = tonumber(redis.call('HGET', KEYS[1], 'fed') or '0')
if tonumber(ARGV[2]) > fed then redis.call('HSET', KEYS[1], 'fed', ARGV[2]) end
redis.call('HDEL', KEYS[1], 'passGen', 'cursor', 'passPrio', 'reading')
return 1`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** How long a feeder may hold a queue's lock without renewing it (it renews every page). */
const LOCK_MS = 60_000;

/** The marks in Redis, under the deployment's QUEUE_PREFIX: shared by every process. */
export class RedisBacklog implements BacklogStore {
  /** The lock token of each queue this process feeds now. */
  private readonly tokens = new Map<FedQueue, string>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(queue: FedQueue): string {
    return `${this.prefix}:backlog:${queue}`;
  }

  private idsKey(queue: FedQueue): string {
    return `${this.prefix}:backlog:${queue}:ids`;
  }

  private lockKey(queue: FedQueue): string {
    return `${this.prefix}:backlog:${queue}:lock`;
  }

  async defer(queue: FedQueue, priority?: number, fileIds: readonly number[] = []): Promise<void> {
    await this.redis.eval(
      DEFER,
      2,
      this.key(queue),
      this.idsKey(queue),
      priority === undefined ? '' : String(priority),
      ...fileIds.map(String),
    );
  }

  async deferFrom(queue: FedQueue, fromId: number, priority?: number): Promise<void> {
    await this.redis.eval(
      DEFER_FROM,
      1,
      this.key(queue),
      String(fromId),
      priority === undefined ? '' : String(priority),
    );
  }

  async pending(queue: FedQueue): Promise<boolean> {
    const [[, fields], [, ids]] = (await this.redis
      .multi()
      .hmget(this.key(queue), 'gen', 'fed', 'passGen')
      .llen(this.idsKey(queue))
      .exec()) as [[unknown, Array<string | null>], [unknown, number]];
    const [gen, fed, passGen] = fields;
    return passGen !== null || Number(gen ?? 0) > Number(fed ?? 0) || ids > 0;
  }

  async withLock<T>(queue: FedQueue, fn: () => Promise<T>): Promise<T | undefined> {
    const token = `${process.pid}:${Math.random().toString(36).slice(2)}`;
    const ok = await this.redis.set(this.lockKey(queue), token, 'PX', LOCK_MS, 'NX');
    if (ok !== 'OK') return undefined;
    this.tokens.set(queue, token);
    try {
      return await fn();
    } finally {
      this.tokens.delete(queue);
      await this.redis.eval(UNLOCK, 1, this.lockKey(queue), token);
    }
  }

  async peekIds(queue: FedQueue, n: number): Promise<number[]> {
    if (n <= 0) return [];
    return (await this.redis.lrange(this.idsKey(queue), 0, n - 1)).map(Number);
  }

  async dropIds(queue: FedQueue, n: number): Promise<void> {
    // Under the feeding lock: nobody else removes from the list meanwhile (deferrals only append).
    if (n > 0) await this.redis.ltrim(this.idsKey(queue), n, -1);
  }

  async startPass(queue: FedQueue): Promise<FeedPass | undefined> {
    const out = (await this.redis.eval(START_PASS, 1, this.key(queue), queue === 'project' ? '' : 'files')) as
      | [string, string, string]
      | null;
    if (!out) return undefined;
    return { gen: Number(out[0]), cursor: out[1], priority: out[2] === '' ? undefined : Number(out[2]) };
  }

  async beginRead(queue: FedQueue): Promise<void> {
    if (queue !== 'project') await this.redis.hset(this.key(queue), 'reading', '1');
  }

  async advance(queue: FedQueue, cursor: string): Promise<void> {
    const token = this.tokens.get(queue) ?? '';
    await this.redis.eval(
      ADVANCE,
      2,
      this.key(queue),
      this.lockKey(queue),
      token,
      cursor,
      queue === 'project' ? '' : 'files',
      String(LOCK_MS),
    );
  }

  async finishPass(queue: FedQueue, pass: FeedPass): Promise<void> {
    const token = this.tokens.get(queue) ?? '';
    await this.redis.eval(FINISH_PASS, 2, this.key(queue), this.lockKey(queue), token, String(pass.gen));
  }
}
