// One attempt of one job, decided in one place for both runners: validate the payload, run the
// processor, classify the outcome (completed, retry after a delay, final failure), record a final
// failure (`onFailed`) and count it. The runners (embedded-runner.ts, bullmq-runner.ts) only carry
// jobs: how one is taken, delayed for its retry, acknowledged (docs/architecture.md §5).
import { CrawlError, type Logger, toCrawlError } from '@pypi-graph/core';
import type { AnyQueueDefinition, PipelineContext, QueueName } from './context';
import type { PipelineMetrics } from './metrics';
import { backoffMs, type QueueStats, type RunnerStats, recordsFailure } from './runner';

/** One attempt of a job, as the runner that took it knows it. */
export interface JobAttempt {
  readonly id: string;
  /** As the transport holds it: validated again here, whoever enqueued it. */
  readonly payload: unknown;
  /** 1-based. */
  readonly attempt: number;
  /** Attempts the transport will make at most (the definition's, or fewer). */
  readonly attempts: number;
  /** Aborted when the runner stops the job (the embedded runner closing, a BullMQ job cancelled). */
  readonly signal: AbortSignal;
}

/** What the runner does with the job next. */
export type AttemptOutcome =
  /** Done; `value` is the processor's result. */
  | { readonly kind: 'completed'; readonly value: unknown }
  /** Try again after `delayMs` (the server's Retry-After, else `backoffMs`). */
  | { readonly kind: 'retry'; readonly error: CrawlError; readonly delayMs: number }
  /** Failed for good: already counted, and recorded against its subject when it should be. */
  | { readonly kind: 'failed'; readonly error: CrawlError };

export class JobExecutor {
  constructor(
    private readonly ctx: PipelineContext,
    private readonly stats: RunnerStats,
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs one attempt. Never throws: a payload that fails validation, a processor's error and an
   * error of `onFailed` all become an outcome. `onFailed` failing is logged; for a retryable
   * code (the database restarting) the job is tried again while attempts remain, else it keeps
   * its own failure.
   *
   * Abort: when the job's signal is aborted by the time its processor fails, the job ends as
   * `aborted` whatever the processor threw (a request cut short shows up as any network code):
   * final, not retried, and not recorded against its subject (the subject did nothing wrong; it
   * keeps "no result", and `crawl --resume` or the next refresh takes it again).
   */
  async execute(def: AnyQueueDefinition, job: JobAttempt): Promise<AttemptOutcome> {
    const stats = queueStats(this.stats, def.name);
    const timer = this.metrics.startJob(def.name);
    const parsed = def.payload.safeParse(job.payload);
    if (!parsed.success) {
      // No payload to record a failure against: counted and logged, never retried.
      const err = new CrawlError(
        'job-payload-invalid',
        `invalid ${def.name} payload: ${parsed.error.message}`,
      );
      timer.failed(err.code);
      this.countFailure(stats, err);
      this.logger
        .child({ queue: def.name, job: job.id })
        .error({ err: parsed.error.message }, 'job payload invalid');
      return { kind: 'failed', error: err };
    }
    const log = this.logger.child({ queue: def.name, job: job.id, ...def.describe?.(parsed.data) });
    const { attempt } = job;
    let err: CrawlError;
    try {
      const value = await def.process(this.ctx, parsed.data, {
        id: job.id,
        signal: job.signal,
        log,
        attempt,
      });
      timer.completed(value);
      stats.completed++;
      return { kind: 'completed', value };
    } catch (thrown) {
      err = toCrawlError(thrown);
    }
    if (job.signal.aborted && err.code !== 'aborted') {
      err = new CrawlError('aborted', `aborted: ${err.message}`, { cause: err });
    }
    if (err.retryable && attempt < job.attempts && !job.signal.aborted) {
      const delayMs = backoffMs(attempt, err);
      timer.retried(err.code);
      stats.retried++;
      log.warn({ code: err.code, attempt, waitMs: delayMs, err: err.message }, 'job failed, retrying');
      return { kind: 'retry', error: err, delayMs };
    }
    if (recordsFailure(err) && def.onFailed) {
      try {
        await def.onFailed(this.ctx, parsed.data, err);
      } catch (thrown) {
        const e = toCrawlError(thrown);
        const fields = { code: err.code, attempt, recordCode: e.code, err: e.message };
        if (e.retryable && attempt < job.attempts && !job.signal.aborted) {
          // Not recorded, for a fault that may pass (the database restarting, which may also be
          // what failed the job): the job is tried again rather than left without a result.
          const delayMs = backoffMs(attempt, e);
          timer.retried(err.code);
          stats.retried++;
          log.warn({ ...fields, waitMs: delayMs }, 'recording the failure failed, retrying the job');
          return { kind: 'retry', error: err, delayMs };
        }
        // The job keeps its own failure; its subject keeps "no result" (a project stays pending),
        // so `crawl --resume` takes it again.
        log.error(fields, 'recording the failure failed');
      }
    }
    timer.failed(err.code);
    this.countFailure(stats, err);
    log.error({ code: err.code, attempt, err: err.message, hint: err.hint }, 'job failed');
    return { kind: 'failed', error: err };
  }

  private countFailure(stats: QueueStats, err: CrawlError): void {
    stats.failed++;
    this.stats.failures[err.code] = (this.stats.failures[err.code] ?? 0) + 1;
  }
}

/** The statistics of one queue, made on first use. */
export function queueStats(stats: RunnerStats, name: QueueName): QueueStats {
  stats.queues[name] ??= { waiting: 0, active: 0, completed: 0, failed: 0, retried: 0 };
  return stats.queues[name];
}
