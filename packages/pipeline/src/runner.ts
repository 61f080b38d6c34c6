import { type CrawlError, isEnvironmentFault } from '@pypi-graph/core';
import type { BacklogStore } from './backlog';
import type { Enqueue, QueueName } from './context';

export interface QueueStats {
  waiting: number;
  active: number;
  completed: number;
  /** Jobs that failed for good (counted once each, whatever their attempts). */
  failed: number;
  /** Attempts that failed and were scheduled again. */
  retried: number;
}

export interface RunnerStats {
  queues: Partial<Record<QueueName, QueueStats>>;
  /** Final job failures by code, as seen by this runner. */
  failures: Record<string, number>;
}

/** How long a crawl waits out a feeder that keeps failing (the database down) before it gives up. */
export const FEED_FAILURE_LIMIT_MS = 120_000;

export function emptyStats(): RunnerStats {
  return { queues: {}, failures: {} };
}

/** The two runners (embedded, BullMQ) behind one interface. */
export interface Runner {
  readonly kind: 'embedded' | 'bullmq';
  readonly enqueue: Enqueue;
  /** The marks of work deferred to the database (shared through Redis by the BullMQ runner). */
  readonly backlog: BacklogStore;
  /** Starts processing (BullMQ: local workers, when this process works). */
  start(): Promise<void>;
  /**
   * Feeds deferred work from the database as the window drains, and resolves when every queue
   * is empty, nothing runs, and no work waits in the database for a feeder.
   */
  drain(
    onProgress?: (stats: RunnerStats) => void,
    intervalMs?: number,
    signal?: AbortSignal,
  ): Promise<RunnerStats>;
  close(): Promise<void>;
}

/**
 * Delay before retry `attempt` (1-based): the server's Retry-After when it gave one,
 * else exponential from 500 ms with ±25 % jitter, capped at 60 s.
 */
export function backoffMs(attempt: number, err?: Pick<CrawlError, 'retryAfterMs'>): number {
  if (err?.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, 15 * 60_000);
  const base = Math.min(500 * 2 ** (attempt - 1), 60_000);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Whether a job's final failure is recorded against its subject (a file, a project). Not for an
 * abort (the process is stopping) nor for a fault of the machine (`disk-full`, `io-error`,
 * `dns-error`, `database-unavailable`): the file did nothing wrong, so it keeps "no result",
 * and `crawl --resume` (or the next refresh) takes it again once the machine is fixed.
 */
export function recordsFailure(err: CrawlError): boolean {
  return err.code !== 'aborted' && !isEnvironmentFault(err.code);
}

/** Resolves after `ms`, or rejects with the signal's reason once it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export type { QueueName };
