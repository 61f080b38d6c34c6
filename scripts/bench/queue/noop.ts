// Part 1's jobs and workers: the crawl's `project` jobs, shaped as BullmqRunner shapes them, and
// a BullmqRunner whose processor does nothing; the warm-up every process runs first.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@pypi-graph/config';
import { createLogger } from '@pypi-graph/core';
import type { Db } from '@pypi-graph/db';
import {
  type AnyQueueDefinition,
  BullmqRunner,
  bullmqJobId,
  PRIORITY_BACKFILL,
  type PypiApi,
  projectQueue,
} from '@pypi-graph/pipeline';
import { type JobsOptions, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

/** The queue every job of part 1 goes to: the crawl's busiest queue, with its payload and id scheme. */
export const QUEUE = 'project';
/** Jobs run untimed through each kind of worker first, in every process that processes. */
export const WARM_UP_JOBS = 2000;

function noopDefinition(onJob: () => void, concurrency: number): AnyQueueDefinition {
  return {
    ...(projectQueue as AnyQueueDefinition),
    concurrency: () => concurrency,
    async process() {
      onJob();
      return { status: 'saved', filesAdded: 0, filesRemoved: 0 };
    },
    onFailed: undefined,
  };
}

/** A BullmqRunner whose only queue is `project` with a no-op processor (nothing else is touched). */
export function noopRunner(opts: {
  redisUrl: string;
  prefix: string;
  work: boolean;
  concurrency: number;
  onJob?: () => void;
}): BullmqRunner {
  const config = loadConfig({ LOG_LEVEL: 'warn', PROJECT_CONCURRENCY: String(opts.concurrency) });
  const logger = createLogger({ level: 'warn' });
  return new BullmqRunner(
    { config, db: {} as Db, api: {} as PypiApi, logger },
    { [QUEUE]: noopDefinition(opts.onJob ?? (() => {}), opts.concurrency) },
    { redisUrl: opts.redisUrl, prefix: opts.prefix, work: opts.work, concurrency: opts.concurrency },
    logger,
  );
}

/** The payload, id and options BullmqRunner.enqueue gives a backfill project job. */
export function jobOf(i: number): { name: string; data: Record<string, unknown>; opts: JobsOptions } {
  const data = { name: `bench-project-${i}`, serial: i + 1, priority: PRIORITY_BACKFILL };
  return {
    name: QUEUE,
    data,
    opts: {
      jobId: bullmqJobId(projectQueue.jobId(data)),
      attempts: projectQueue.attempts,
      backoff: { type: 'pypi-graph' },
      priority: PRIORITY_BACKFILL,
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  };
}

export function freshPrefix(what: string): string {
  return `bench-queue-${randomBytes(4).toString('hex')}-${what}`;
}

export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Runs `jobs` jobs through a bare Worker and through a no-op BullmqRunner under a throw-away
 * prefix, untimed: the timed rows then run on warm (JIT-compiled) code, whatever their order.
 */
export async function warmUp(redisUrl: string, jobs: number): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    for (const kind of ['worker', 'runner'] as const) {
      const prefix = freshPrefix(`warm-${kind}`);
      const queue = new Queue(QUEUE, { connection, prefix });
      try {
        await addBulk(queue, jobs);
        let stop: () => Promise<void>;
        if (kind === 'worker') {
          const workerConnection = connection.duplicate({ maxRetriesPerRequest: null });
          const worker = new Worker(QUEUE, async () => {}, {
            connection: workerConnection,
            prefix,
            concurrency: 16,
          });
          stop = async () => {
            await worker.close();
            await workerConnection.quit().catch(() => workerConnection.disconnect());
          };
        } else {
          const runner = noopRunner({ redisUrl, prefix, work: true, concurrency: 16 });
          await runner.start();
          stop = () => runner.close();
        }
        while ((await pending(queue)) > 0) await new Promise((r) => setTimeout(r, 20));
        await stop();
      } finally {
        await queue.close();
        await deletePrefix(connection, prefix);
      }
    }
  } finally {
    await connection.quit().catch(() => connection.disconnect());
  }
}

export async function addBulk(queue: Queue, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => jobOf(i + k)));
  }
}

const PENDING = ['waiting', 'paused', 'prioritized', 'active', 'delayed'] as const;

export async function pending(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts(...PENDING);
  return PENDING.reduce((a, s) => a + (counts[s] ?? 0), 0);
}
