// The window (issue 9): Redis holds a window of work, the backlog stays in PostgreSQL. A job that
// would enqueue much (discover: every listed project; project: its files without a result)
// instead records the work in the database, as it already did, and *defers* it here: a small
// mark per queue ("work waits in the database from this file id on"). Feeders (packages/pipeline/
// src/feeder.ts) turn the marks into jobs, a page at a time, while each queue has room.
import type { Redis } from 'ioredis';
import type { PipelineContext } from './context';

/** The queues whose backlog waits in the database: pending_projects, and files without a result. */
export const FED_QUEUES = ['project', 'wheel-metadata', 'sdist-extract'] as const;
export type FedQueue = (typeof FED_QUEUES)[number];

/** What a job uses to say "work for this queue waits in the database". */
export interface Backlog {
  /**
   * Work for `queue` waits in the database: for files, from file id `fromId` on (0 or absent: from
   * the start); for projects, in pending_projects. `priority`: the most urgent it was asked with.
   */
  defer(queue: FedQueue, fromId?: number, priority?: number): Promise<void>;
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
 */
export interface BacklogStore extends Backlog {
  /** A pass is running, or deferrals wait for one. */
  pending(queue: FedQueue): Promise<boolean>;
  /** Runs `fn` holding the queue's feeding lock; undefined when another feeder holds it. */
  withLock<T>(queue: FedQueue, fn: () => Promise<T>): Promise<T | undefined>;
  /** The running pass, or a new one when deferrals wait; undefined when there is nothing to feed. */
  startPass(queue: FedQueue): Promise<FeedPass | undefined>;
  /** Moves the running pass's cursor. */
  advance(queue: FedQueue, cursor: string): Promise<void>;
  /** The pass reached the end of the backlog: the deferrals it covers are fed. */
  finishPass(queue: FedQueue, pass: FeedPass): Promise<void>;
}

/** The backlog a processor defers to: only when a window is set (QUEUE_WINDOW > 0). */
export function deferring(ctx: PipelineContext): Backlog | undefined {
  return ctx.config.queueWindow > 0 ? ctx.backlog : undefined;
}

/** The start cursor of a pass that begins at file id `from` (files are fed after the cursor). */
function startCursor(queue: FedQueue, from: number | undefined): string {
  if (queue === 'project') return '';
  return String((from ?? 0) - 1);
}

/** One process's marks (the embedded runner): the same rules, no lock needed across processes. */
export class MemoryBacklog implements BacklogStore {
  private readonly marks = new Map<
    FedQueue,
    { gen: number; fed: number; from?: number; priority?: number; pass?: FeedPass }
  >();
  private readonly locked = new Set<FedQueue>();

  private mark(queue: FedQueue) {
    let m = this.marks.get(queue);
    if (!m) {
      m = { gen: 0, fed: 0 };
      this.marks.set(queue, m);
    }
    return m;
  }

  async defer(queue: FedQueue, fromId = 0, priority?: number): Promise<void> {
    const m = this.mark(queue);
    m.gen++;
    m.from = Math.min(m.from ?? fromId, fromId);
    if (priority !== undefined) m.priority = Math.min(m.priority ?? priority, priority);
  }

  async pending(queue: FedQueue): Promise<boolean> {
    const m = this.mark(queue);
    return m.pass !== undefined || m.gen > m.fed;
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

  async startPass(queue: FedQueue): Promise<FeedPass | undefined> {
    const m = this.mark(queue);
    if (m.pass) return { ...m.pass };
    if (m.gen <= m.fed) return undefined;
    m.pass = { gen: m.gen, cursor: startCursor(queue, m.from), priority: m.priority };
    m.from = undefined;
    m.priority = undefined;
    return { ...m.pass };
  }

  async advance(queue: FedQueue, cursor: string): Promise<void> {
    const m = this.mark(queue);
    if (m.pass) m.pass.cursor = cursor;
  }

  async finishPass(queue: FedQueue, pass: FeedPass): Promise<void> {
    const m = this.mark(queue);
    m.fed = Math.max(m.fed, pass.gen);
    m.pass = undefined;
  }
}

// Redis: one hash per queue, `<prefix>:backlog:<queue>`, fields gen (deferrals so far), fed (the
// deferrals covered by finished passes), from/prio (the smallest file id and priority deferred
// since the last pass started), and the running pass (passGen, cursor, passPrio).
const DEFER = `
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
local from = redis.call('HGET', KEYS[1], 'from')
if (not from) or tonumber(ARGV[1]) < tonumber(from) then redis.call('HSET', KEYS[1], 'from', ARGV[1]) end
if ARGV[2] ~= '' then
  local prio = redis.call('HGET', KEYS[1], 'prio')
  if (not prio) or tonumber(ARGV[2]) < tonumber(prio) then redis.call('HSET', KEYS[1], 'prio', ARGV[2]) end
end
return gen`;

// Returns {passGen, cursor, passPrio or ''} of the running pass, starting one when deferrals wait.
const START_PASS = `
local passGen = redis.call('HGET', KEYS[1], 'passGen')
if passGen then
  return {passGen, redis.call('HGET', KEYS[1], 'cursor'), redis.call('HGET', KEYS[1], 'passPrio') or ''}
end
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
local fed = tonumber(redis.call('HGET', KEYS[1], 'fed') or '0')
if gen <= fed then return false end
local from = redis.call('HGET', KEYS[1], 'from')
local cursor = ARGV[1]
if ARGV[1] ~= '' then cursor = tostring(tonumber(from or '0') - 1) end
local prio = redis.call('HGET', KEYS[1], 'prio') or ''
redis.call('HDEL', KEYS[1], 'from', 'prio')
redis.call('HSET', KEYS[1], 'passGen', tostring(gen), 'cursor', cursor, 'passPrio', prio)
return {tostring(gen), cursor, prio}`;

// Only the lock's holder moves the cursor or ends the pass (a feeder whose lock expired does not).
const ADVANCE = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
return 1`;

const FINISH_PASS = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local fed = tonumber(redis.call('HGET', KEYS[1], 'fed') or '0')
if tonumber(ARGV[2]) > fed then redis.call('HSET', KEYS[1], 'fed', ARGV[2]) end
redis.call('HDEL', KEYS[1], 'passGen', 'cursor', 'passPrio')
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

  private lockKey(queue: FedQueue): string {
    return `${this.prefix}:backlog:${queue}:lock`;
  }

  async defer(queue: FedQueue, fromId = 0, priority?: number): Promise<void> {
    await this.redis.eval(DEFER, 1, this.key(queue), String(fromId), priority === undefined ? '' : priority);
  }

  async pending(queue: FedQueue): Promise<boolean> {
    const [gen, fed, passGen] = await this.redis.hmget(this.key(queue), 'gen', 'fed', 'passGen');
    return passGen !== null || Number(gen ?? 0) > Number(fed ?? 0);
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

  async startPass(queue: FedQueue): Promise<FeedPass | undefined> {
    const out = (await this.redis.eval(START_PASS, 1, this.key(queue), queue === 'project' ? '' : 'files')) as
      | [string, string, string]
      | null;
    if (!out) return undefined;
    return { gen: Number(out[0]), cursor: out[1], priority: out[2] === '' ? undefined : Number(out[2]) };
  }

  async advance(queue: FedQueue, cursor: string): Promise<void> {
    const token = this.tokens.get(queue) ?? '';
    await this.redis.eval(ADVANCE, 2, this.key(queue), this.lockKey(queue), token, cursor);
    // Renewed with every page: a feeder that stops renewing hands the pass to the next one.
    await this.redis.pexpire(this.lockKey(queue), LOCK_MS);
  }

  async finishPass(queue: FedQueue, pass: FeedPass): Promise<void> {
    const token = this.tokens.get(queue) ?? '';
    await this.redis.eval(FINISH_PASS, 2, this.key(queue), this.lockKey(queue), token, String(pass.gen));
  }
}
