import { CrawlError, type Logger } from '@pypi-graph/core';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type FedQueue, RedisBacklog } from './backlog';
import type { AnyQueueDefinition, Enqueue, EnqueueOptions, PipelineContext, QueueName } from './context';
import { JobExecutor, queueStats } from './executor';
import { Feeder } from './feeder';
import { type PipelineMetrics, processMetrics } from './metrics';
import { backoffMs, emptyStats, FEED_FAILURE_LIMIT_MS, type Runner, type RunnerStats, sleep } from './runner';

export interface BullmqRunnerOptions {
  redisUrl: string;
  /** Redis key prefix (QUEUE_PREFIX): one per deployment, one per test. */
  prefix: string;
  /** Run workers in this process; false = only enqueue and watch. */
  work: boolean;
  /** Only these queues get local workers (default: all defined). */
  queues?: QueueName[];
  /** Overrides each queue's own concurrency. */
  concurrency?: number;
}

/** BullMQ forbids ':' in custom ids (beyond its own 3-part form); ours use '~' on the wire. */
export function bullmqJobId(id: string): string {
  return id.replaceAll(':', '~');
}

/**
 * Runs the processors on BullMQ: any number of processes on any number of machines share
 * one Redis. Only the transport: what an attempt's outcome is (payload validation, retry or
 * final failure, `onFailed`, statistics) is the JobExecutor's, as in the embedded runner.
 */
export class BullmqRunner implements Runner {
  readonly kind = 'bullmq';
  private readonly connection: Redis;
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  /** Connections made for the workers: BullMQ leaves connections it was given open. */
  private readonly workerConnections: Redis[] = [];
  private readonly stats: RunnerStats = emptyStats();
  private readonly ctx: PipelineContext;
  private readonly metrics: PipelineMetrics;
  private readonly executor: JobExecutor;
  private readonly removeDepthSource: () => void;
  readonly backlog: RedisBacklog;
  private readonly feeder: Feeder;
  /** Workers feed too (every FEED_INTERVAL_MS), so deferred work moves with no crawl watching. */
  private feedTimer: NodeJS.Timeout | undefined;

  constructor(
    base: Omit<PipelineContext, 'enqueue'>,
    private readonly definitions: Partial<Record<QueueName, AnyQueueDefinition>>,
    private readonly options: BullmqRunnerOptions,
    private readonly logger: Logger = base.logger,
  ) {
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true });
    this.connection.on('error', (err) => this.logger.warn({ err: err.message }, 'redis connection error'));
    this.metrics = base.metrics ?? processMetrics();
    this.backlog = new RedisBacklog(this.connection, options.prefix);
    this.ctx = { ...base, metrics: this.metrics, enqueue: this.enqueue, backlog: this.backlog };
    this.executor = new JobExecutor(this.ctx, this.stats, this.metrics, this.logger);
    for (const name of Object.keys(definitions) as QueueName[]) {
      this.queues.set(name, new Queue(name, { connection: this.connection, prefix: options.prefix }));
    }
    this.feeder = new Feeder(base.db, this.backlog, this.enqueue, {
      window: base.config.queueWindow,
      queues: Object.keys(definitions) as QueueName[],
      logger: this.logger,
    });
    // Depths across every process sharing this Redis, read when the metrics are scraped.
    this.removeDepthSource = this.metrics.addQueueDepthSource(() => this.counts());
  }

  readonly enqueue: Enqueue = async (queue, payload, options: EnqueueOptions = {}) => {
    const def = this.definition(queue);
    const parsed = def.payload.safeParse(payload);
    if (!parsed.success) {
      throw new CrawlError('job-payload-invalid', `invalid ${queue} payload: ${parsed.error.message}`);
    }
    const id = bullmqJobId(def.jobId(parsed.data));
    const q = this.queues.get(queue)!;
    const existing = await q.getJob(id);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') return false;
      // A finished job of the same id: the work is asked for again.
      await existing.remove().catch(() => {});
    }
    await q.add(queue, parsed.data, {
      jobId: id,
      attempts: def.attempts,
      backoff: { type: 'pypi-graph' },
      priority: options.priority,
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    queueStats(this.stats, queue);
    return true;
  };

  private definition(queue: QueueName): AnyQueueDefinition {
    const def = this.definitions[queue];
    if (!def) throw new CrawlError('internal-error', `no processor for queue ${queue}`);
    return def;
  }

  async start(): Promise<void> {
    if (!this.options.work) return;
    const names = this.options.queues ?? (Object.keys(this.definitions) as QueueName[]);
    for (const name of names) {
      const def = this.definition(name);
      const connection = this.connection.duplicate();
      this.workerConnections.push(connection);
      const worker = new Worker(name, (job, _token, signal) => this.process(def, job, signal), {
        connection,
        prefix: this.options.prefix,
        concurrency: this.options.concurrency ?? def.concurrency(this.ctx.config),
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
            err instanceof RetryLater ? err.delayMs : backoffMs(attemptsMade),
        },
      });
      worker.on('error', (err) => this.logger.warn({ queue: name, err: err.message }, 'worker error'));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.feedTimer = setInterval(() => {
      this.feed().catch((err: unknown) =>
        this.logger.warn({ err: (err as Error).message }, 'feeding the queues from the database failed'),
      );
    }, FEED_INTERVAL_MS);
    this.feedTimer.unref();
  }

  /** Jobs not yet taken (waiting, prioritized, delayed for a retry) in one queue, across processes. */
  async waiting(queue: FedQueue): Promise<number> {
    const q = this.queues.get(queue);
    if (!q) return 0;
    const c = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'waiting-children');
    return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c['waiting-children'] ?? 0);
  }

  /** Tops up the queues from the database once; true while deferred work waits there. */
  feed(): Promise<boolean> {
    return this.feeder.tick((q) => this.waiting(q));
  }

  /** Jobs the feeder of this process enqueued from the database, per queue. */
  get fed(): Readonly<Record<FedQueue, number>> {
    return this.feeder.fed;
  }

  /**
   * Carries one attempt of a job: the executor decides; a retry goes back to Redis delayed by the
   * executor's delay (RetryLater, read by the backoff strategy), a final failure is not retried.
   */
  private async process(def: AnyQueueDefinition, job: Job, signal?: AbortSignal): Promise<unknown> {
    const outcome = await this.executor.execute(def, {
      id: job.id ?? '',
      payload: job.data,
      attempt: job.attemptsMade + 1,
      // BullMQ retries a job no more than it was added with (none, for a job added without attempts).
      attempts: Math.min(def.attempts, job.opts.attempts || 1),
      signal: signal ?? new AbortController().signal,
    });
    if (outcome.kind === 'completed') return outcome.value;
    if (outcome.kind === 'retry') throw new RetryLater(outcome.error, outcome.delayMs);
    throw new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
  }

  /** Aborts the jobs this process runs: each ends as `aborted` (see JobExecutor). close() lets them finish. */
  cancelRunning(reason = 'cancelled'): void {
    for (const worker of this.workers) worker.cancelAllJobs(reason);
  }

  /** Queue depths across every process sharing this Redis. */
  async counts(): Promise<Partial<Record<QueueName, Record<string, number>>>> {
    const out: Partial<Record<QueueName, Record<string, number>>> = {};
    for (const [name, q] of this.queues) {
      out[name] = await q.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
        'failed',
      );
    }
    return out;
  }

  async drain(
    onProgress?: (stats: RunnerStats) => void,
    intervalMs = 250,
    signal?: AbortSignal,
  ): Promise<RunnerStats> {
    let quiet = 0;
    let feedFailingSince: number | undefined;
    // Idle twice in a row: a job that just finished may be enqueuing its follow-ups.
    while (quiet < 2) {
      signal?.throwIfAborted();
      // Deferred work waiting in the database keeps the crawl going (and is fed here). The
      // database restarting is waited out, as the workers' jobs wait it out with their retries.
      let feeding = true;
      try {
        feeding = await this.feed();
        feedFailingSince = undefined;
      } catch (err) {
        feedFailingSince ??= Date.now();
        if (Date.now() - feedFailingSince > FEED_FAILURE_LIMIT_MS) throw err;
        this.logger.warn({ err: (err as Error).message }, 'feeding the queues from the database failed');
      }
      const counts = await this.counts();
      let busy = 0;
      for (const [name, c] of Object.entries(counts) as Array<[QueueName, Record<string, number>]>) {
        const s = queueStats(this.stats, name);
        s.waiting = (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
        s.active = c.active ?? 0;
        busy += s.waiting + s.active;
      }
      onProgress?.(structuredClone(this.stats));
      quiet = busy === 0 && !feeding ? quiet + 1 : 0;
      if (quiet < 2) await sleep(intervalMs, signal);
    }
    return structuredClone(this.stats);
  }

  async close(): Promise<void> {
    this.removeDepthSource();
    if (this.feedTimer) clearInterval(this.feedTimer);
    // A feed in progress finishes its page (and releases its lock) before the connection closes.
    await this.feeder.settled();
    // Workers first: close() waits for their active jobs to finish.
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await Promise.all(
      [...this.workerConnections, this.connection].map((c) => c.quit().catch(() => c.disconnect())),
    );
  }
}

const FEED_INTERVAL_MS = 500;

/** A failed attempt to be tried again after `delayMs` (the executor's decision). */
class RetryLater extends Error {
  constructor(
    readonly error: CrawlError,
    readonly delayMs: number,
  ) {
    super(`${error.code}: ${error.message}`);
  }
}
