import type { Config } from '@pypi-graph/config';
import type { CrawlError, Logger } from '@pypi-graph/core';
import type { Db, WheelToRead } from '@pypi-graph/db';
import type { SdistExtractor, WheelMetadataResult } from '@pypi-graph/model';
import type { z } from 'zod';
import type { PypiApi } from './api';
import type { Backlog } from './backlog';
import type { PipelineMetrics } from './metrics';

export const QUEUE_NAMES = ['discover', 'project', 'wheel-metadata', 'sdist-extract', 'snapshot'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Priorities of the work a job enqueues (lower runs first): fresh changelog work, and backfill. */
export const PRIORITY_FRESH = 1;
export const PRIORITY_BACKFILL = 10;

export interface EnqueueOptions {
  /** Lower runs first (BullMQ's convention). Fresh changelog work uses 1, backfill 10. */
  priority?: number;
}

/** Adds a job; a job whose id is already queued or running is not added twice. */
export type Enqueue = (queue: QueueName, payload: unknown, options?: EnqueueOptions) => Promise<boolean>;

export interface WheelMetadataReader {
  read(file: WheelToRead, signal: AbortSignal): Promise<WheelMetadataResult>;
}

export interface PipelineContext {
  readonly config: Config;
  readonly db: Db;
  readonly api: PypiApi;
  readonly logger: Logger;
  readonly enqueue: Enqueue;
  /** Reads wheel METADATA; without it, project jobs store files only. */
  readonly wheels?: WheelMetadataReader;
  /** Learns sdist dependencies (static metadata, else setup.py in the sandbox); without it, none. */
  readonly sdists?: SdistExtractor;
  /** Where job metrics go; the runners fill in `processMetrics()` when it is absent. */
  readonly metrics?: PipelineMetrics;
  /**
   * Where big fan-outs go instead of the queue when QUEUE_WINDOW > 0 (the runners fill it in):
   * the work stays in the database and feeders enqueue it as the window drains.
   */
  readonly backlog?: Backlog;
}

export interface JobInfo {
  readonly id: string;
  readonly signal: AbortSignal;
  /** A child logger carrying the job's queue, id and subject (the definition's `describe`). */
  readonly log: Logger;
  readonly attempt: number;
}

/** A queue, defined as data: its payload schema, its id scheme and its processor. */
export interface QueueDefinition<P = unknown> {
  readonly name: QueueName;
  readonly payload: z.ZodType<P>;
  /** Deterministic job id, so that enqueuing the same work twice is harmless. */
  jobId(payload: P): string;
  /** The job's subject as log fields (`{ project }`, `{ file, sha256 }`), bound to its child logger. */
  describe?(payload: P): Record<string, string | number>;
  /** Attempts for retryable failures (network, 5xx, 429) before the failure is recorded. */
  readonly attempts: number;
  concurrency(config: Config): number;
  process(ctx: PipelineContext, payload: P, job: JobInfo): Promise<unknown>;
  /** Records a final failure against its subject in the database. */
  onFailed?(ctx: PipelineContext, payload: P, error: CrawlError): Promise<void>;
}

// The registry holds definitions of different payload types; payloads are validated by each
// definition's own schema before `process` sees them, so erasing the type here is safe.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type AnyQueueDefinition = QueueDefinition<any>;
