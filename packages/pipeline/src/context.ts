import type { Config } from '@pypi-graph/config';
import type { CrawlError, Logger } from '@pypi-graph/core';
import type { BuildProvenance, Db, WheelToRead } from '@pypi-graph/db';
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

/** What reading one wheel's METADATA gave (packages/extractor implements it). */
export interface WheelMetadataResult {
  /** `pep658`, `range` or `download`. */
  method: string;
  bytesTransferred: number;
  requests: number;
  metadata: Buffer;
}

export interface WheelMetadataReader {
  read(file: WheelToRead, signal: AbortSignal): Promise<WheelMetadataResult>;
}

/** Dependency fields of one sdist result, as pypi-deps-db names them (docs/formats.md §B1). */
export interface SdistDeps {
  install_requires: string[];
  setup_requires: string[];
  tests_require: string[];
  /** In the order setup() or the static metadata gave them; keys may be `extra:marker`. */
  extras_require: Array<[string, string[]]>;
  python_requires: string | null;
}

export type SdistOutcome =
  | {
      kind: 'static';
      method: string;
      deps: SdistDeps;
      bytesTransferred: number;
      /** Repairs made reading the metadata (PKG-INFO lines not UTF-8, undecodable pyproject.toml bytes). */
      textRepairs?: number;
    }
  | {
      kind: 'setup.py';
      /**
       * Per Python key. `method`: `setup.py` (default) or `pep517`; `provenance`: the build
       * backend and the build dependencies (wheels from the crawled index) the result was computed
       * with (issue 11), absent when none was used.
       */
      results: Record<
        string,
        ({ ok: SdistDeps } | { error: { code: string; log: string } }) & {
          method?: 'setup.py' | 'pep517';
          provenance?: BuildProvenance;
        }
      >;
      bytesTransferred: number;
      /** Frees what the run left behind (its Nix store paths); called once the results are stored. */
      release?: () => Promise<void>;
    };

export interface SdistExtractor {
  /** Throws `sandbox-unavailable` when the file needs setup.py run and there is no proven sandbox. */
  extract(file: WheelToRead, signal: AbortSignal): Promise<SdistOutcome>;
  /**
   * `unavailable` once this process knows it has no sandbox (no Nix, SDIST_EXTRACTION=static, a
   * failed probe): a file already known to wait for one is then not downloaded again.
   */
  sandboxState?(): 'unchecked' | 'proven' | 'unavailable';
  /** Proves the sandbox now: a worker does it before it takes its first sdist. */
  prepare?(): Promise<void>;
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
