import { setMaxListeners } from 'node:events';
import { CrawlError, type Logger } from '@pypi-graph/core';
import { MemoryBacklog } from './backlog';
import type { AnyQueueDefinition, Enqueue, EnqueueOptions, PipelineContext, QueueName } from './context';
import { JobExecutor, queueStats } from './executor';
import { Feeder } from './feeder';
import { type PipelineMetrics, processMetrics } from './metrics';
import { emptyStats, FEED_FAILURE_LIMIT_MS, type Runner, type RunnerStats, sleep } from './runner';

interface PendingJob {
  queue: QueueName;
  id: string;
  payload: unknown;
  priority: number;
  seq: number;
}

/**
 * Runs the processors in this process with bounded concurrency per queue (no Redis). Only the
 * transport: jobs wait in memory and retries wait out their delay here; what an attempt's outcome
 * is (and what follows from it) is the JobExecutor's, as in the BullMQ runner. Closing aborts the
 * running jobs and drops the others (`crawl --resume` finds them again in the database).
 */
export class EmbeddedRunner implements Runner {
  readonly kind = 'embedded';
  private readonly pending = new Map<QueueName, PendingJob[]>();
  private readonly active = new Map<QueueName, number>();
  private readonly known = new Set<string>();
  private readonly controller = new AbortController();
  private seq = 0;
  private readonly stats: RunnerStats = emptyStats();
  private readonly ctx: PipelineContext;
  private readonly metrics: PipelineMetrics;
  private readonly executor: JobExecutor;
  private readonly removeDepthSource: () => void;
  readonly backlog = new MemoryBacklog();
  private readonly feeder: Feeder;
  /** Called when a job ends or one is added: the drain loop looks again. */
  private readonly changeWaiters: Array<() => void> = [];

  constructor(
    base: Omit<PipelineContext, 'enqueue'>,
    private readonly queues: Partial<Record<QueueName, AnyQueueDefinition>>,
    private readonly logger: Logger = base.logger,
  ) {
    this.metrics = base.metrics ?? processMetrics();
    this.ctx = { ...base, metrics: this.metrics, enqueue: this.enqueue, backlog: this.backlog };
    this.executor = new JobExecutor(this.ctx, this.stats, this.metrics, this.logger);
    this.feeder = new Feeder(base.db, this.backlog, this.enqueue, {
      window: base.config.queueWindow,
      queues: Object.keys(queues) as QueueName[],
      logger: this.logger,
    });
    // Queue depths of this process, as the BullMQ runner reports Redis's.
    this.removeDepthSource = this.metrics.addQueueDepthSource(async () =>
      Object.fromEntries(
        Object.entries(this.stats.queues).map(([q, s]) => [q, { waiting: s.waiting, active: s.active }]),
      ),
    );
    // Every running job (and each of its requests) listens to this one signal: many at once is normal.
    setMaxListeners(0, this.controller.signal);
  }

  readonly enqueue: Enqueue = async (queue, payload, options: EnqueueOptions = {}) => {
    const def = this.definition(queue);
    const parsed = def.payload.safeParse(payload);
    if (!parsed.success) {
      throw new CrawlError('job-payload-invalid', `invalid ${queue} payload: ${parsed.error.message}`);
    }
    const id = def.jobId(parsed.data);
    if (this.known.has(id)) return false;
    this.known.add(id);
    const list = this.pending.get(queue) ?? [];
    list.push({ queue, id, payload: parsed.data, priority: options.priority ?? 5, seq: this.seq++ });
    this.pending.set(queue, list);
    queueStats(this.stats, queue).waiting++;
    queueMicrotask(() => this.pump());
    return true;
  };

  private definition(queue: QueueName): AnyQueueDefinition {
    const def = this.queues[queue];
    if (!def) throw new CrawlError('internal-error', `no processor for queue ${queue}`);
    return def;
  }

  private pump(): void {
    for (const [queue, list] of this.pending) {
      const def = this.definition(queue);
      const limit = def.concurrency(this.ctx.config);
      while (list.length > 0 && (this.active.get(queue) ?? 0) < limit && !this.controller.signal.aborted) {
        // Lowest priority number first, then first come first served.
        let best = 0;
        for (let i = 1; i < list.length; i++) {
          const a = list[i]!;
          const b = list[best]!;
          if (a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq)) best = i;
        }
        const [job] = list.splice(best, 1);
        this.active.set(queue, (this.active.get(queue) ?? 0) + 1);
        void this.run(def, job!);
      }
    }
    this.checkIdle();
  }

  /** Carries one job through its attempts: the executor decides, this waits out each retry. */
  private async run(def: AnyQueueDefinition, job: PendingJob): Promise<void> {
    const stats = queueStats(this.stats, job.queue);
    stats.waiting--;
    stats.active++;
    const signal = this.controller.signal;
    try {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.executor.execute(def, {
          id: job.id,
          payload: job.payload,
          attempt,
          attempts: def.attempts,
          signal,
        });
        if (outcome.kind !== 'retry') return;
        // The runner closing drops a job waiting for its retry, as it drops those not yet started.
        const waited = await sleep(outcome.delayMs, signal).then(
          () => true,
          () => false,
        );
        if (!waited) return;
      }
    } finally {
      stats.active--;
      this.known.delete(job.id);
      this.active.set(job.queue, (this.active.get(job.queue) ?? 1) - 1);
      this.pump();
    }
  }

  private isIdle(): boolean {
    for (const n of this.active.values()) if (n > 0) return false;
    for (const list of this.pending.values()) if (list.length > 0) return false;
    return true;
  }

  private checkIdle(): void {
    for (const wake of this.changeWaiters.splice(0)) wake();
  }

  async start(): Promise<void> {}

  /** Jobs the feeder enqueued from the database, per queue. */
  get fed() {
    return this.feeder.fed;
  }

  async drain(
    onProgress?: (stats: RunnerStats) => void,
    intervalMs = 250,
    signal?: AbortSignal,
  ): Promise<RunnerStats> {
    signal?.throwIfAborted();
    const timer = onProgress ? setInterval(() => onProgress(this.snapshotStats()), intervalMs) : undefined;
    try {
      let quiet = 0;
      let feedFailingSince: number | undefined;
      // Idle with nothing deferred, twice in a row: a job that just ended may have deferred work.
      while (quiet < 2) {
        signal?.throwIfAborted();
        let feeding = true;
        try {
          feeding = await this.feeder.tick(async (q) => this.pending.get(q)?.length ?? 0);
          feedFailingSince = undefined;
        } catch (err) {
          feedFailingSince ??= Date.now();
          if (Date.now() - feedFailingSince > FEED_FAILURE_LIMIT_MS) throw err;
          this.logger.warn({ err: (err as Error).message }, 'feeding the queues from the database failed');
        }
        quiet = !feeding && this.isIdle() ? quiet + 1 : 0;
        if (quiet < 2) await this.nextChange(feeding ? 50 : intervalMs, signal);
      }
    } finally {
      if (timer) clearInterval(timer);
    }
    const out = this.snapshotStats();
    onProgress?.(out);
    return out;
  }

  /** Waits until a job ends or is added, or `ms` pass. */
  private nextChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(done, ms);
      this.changeWaiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private snapshotStats(): RunnerStats {
    return structuredClone(this.stats);
  }

  async close(): Promise<void> {
    this.removeDepthSource();
    this.controller.abort(new CrawlError('aborted', 'runner closed'));
    for (const list of this.pending.values()) list.length = 0;
  }
}
