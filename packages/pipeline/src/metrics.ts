// Prometheus metrics of the pipeline: job outcomes and durations (both runners record them the
// same way), bytes fetched from the index, sandbox time, lag behind the index, queue depths.
// Each PipelineMetrics has a Registry of its own (never prom-client's global one), so tests and
// several runners in one process do not mix; `processMetrics()` is the one a process serves.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What a response body was fetched for (pypi-client's TrafficKind). */
export type PypiTrafficKind = 'xmlrpc' | 'api' | 'metadata' | 'range' | 'download' | 'head';

/** `completed`; `failed` (for good, with its code); `retried` (an attempt that will be repeated). */
export type JobOutcome = 'completed' | 'failed' | 'retried';

/** Job counts by state for each queue (BullMQ's getJobCounts), read when metrics are scraped. */
export type QueueDepthSource = () => Promise<Partial<Record<string, Record<string, number>>>>;

/** Times one attempt of a job and counts its outcome, once. */
export interface JobTimer {
  /** The processor returned: a result `{ status: 'failed', code }` counts as failed with that code. */
  completed(result: unknown): void;
  /** The attempt failed and the job will be tried again. */
  retried(code: string): void;
  /** The job failed for good. */
  failed(code: string): void;
}

export interface MetricsOptions {
  /** Also collect prom-client's process metrics (CPU, memory, event loop, GC) into this registry. */
  processMetrics?: boolean;
}

export const METRIC_PREFIX = 'pypi_graph_';

/**
 * A permanent failure that a processor recorded against its subject and then returned (wheel and
 * sdist jobs do: the job is done, the file has a failure code): `{ status: 'failed', code }`.
 */
export function recordedFailureCode(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as { status?: unknown; code?: unknown };
  return r.status === 'failed' && typeof r.code === 'string' ? r.code : undefined;
}

export class PipelineMetrics {
  readonly registry: Registry;
  /** pypi_graph_jobs_total{queue, outcome, code} */
  readonly jobs: Counter<'queue' | 'outcome' | 'code'>;
  /** pypi_graph_job_duration_seconds{queue}: every attempt, whatever its outcome. */
  readonly jobDuration: Histogram<'queue'>;
  /** pypi_graph_pypi_bytes_total{kind}: response body bytes received from the index and files hosts. */
  readonly pypiBytes: Counter<'kind'>;
  /** pypi_graph_sandbox_seconds{result}: wall time of sdist extractions that ran setup.py. */
  readonly sandboxSeconds: Histogram<'result'>;
  /** pypi_graph_sandbox_available: 1 while the sandbox is proven in this process, 0 while it is not. */
  readonly sandboxAvailable: Gauge;
  /** pypi_graph_sandbox_checks_total{result}: sandbox proofs (and losses), `proven` or `unavailable`. */
  readonly sandboxChecks: Counter<'result'>;
  /** pypi_graph_sandbox_unavailable_total: sdist jobs that ended waiting for a sandbox (nothing ran). */
  readonly sandboxUnavailable: Counter;
  /** pypi_graph_index_lag_serials: serials between the index's last and the last crawled. */
  readonly lag: Gauge;
  /** pypi_graph_queue_jobs{queue, state}: jobs in each queue by state, read on scrape. */
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly #depthSources = new Set<QueueDepthSource>();

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    this.jobs = new Counter({
      name: `${METRIC_PREFIX}jobs_total`,
      help: 'Job attempts by queue and outcome (completed, failed for good, retried), with the failure code',
      labelNames: ['queue', 'outcome', 'code'] as const,
      registers,
    });
    this.jobDuration = new Histogram({
      name: `${METRIC_PREFIX}job_duration_seconds`,
      help: 'Duration of job attempts by queue',
      labelNames: ['queue'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.pypiBytes = new Counter({
      name: `${METRIC_PREFIX}pypi_bytes_total`,
      help: 'Response body bytes received from the index and its files hosts, by what they were fetched for',
      labelNames: ['kind'] as const,
      registers,
    });
    this.sandboxSeconds = new Histogram({
      name: `${METRIC_PREFIX}sandbox_seconds`,
      help: 'Wall time of sdist extractions that ran setup.py in the sandbox (download included)',
      labelNames: ['result'] as const,
      buckets: [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800],
      registers,
    });
    this.sandboxAvailable = new Gauge({
      name: `${METRIC_PREFIX}sandbox_available`,
      help: 'Whether the Nix sandbox is proven in this process (1) or not (0); absent until first checked',
      registers,
    });
    this.sandboxChecks = new Counter({
      name: `${METRIC_PREFIX}sandbox_checks_total`,
      help: 'Sandbox checks (the probe, or a build found outside the sandbox) by result: proven, unavailable',
      labelNames: ['result'] as const,
      registers,
    });
    this.sandboxUnavailable = new Counter({
      name: `${METRIC_PREFIX}sandbox_unavailable_total`,
      help: 'Sdist jobs that needed setup.py run and ended waiting for a sandbox (nothing of them ran)',
      registers,
    });
    this.lag = new Gauge({
      name: `${METRIC_PREFIX}index_lag_serials`,
      help: "Serials between the index's last serial and the last one crawled (set by the scheduler/status)",
      registers,
    });
    const sources = this.#depthSources;
    this.queueJobs = new Gauge({
      name: `${METRIC_PREFIX}queue_jobs`,
      help: 'Jobs in each queue by state (waiting, active, delayed, prioritized, waiting-children, failed)',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        this.reset();
        for (const source of sources) {
          let counts: Awaited<ReturnType<QueueDepthSource>>;
          try {
            counts = await source();
          } catch {
            continue; // Redis away: no depths in this scrape rather than a failed scrape.
          }
          for (const [queue, states] of Object.entries(counts)) {
            for (const [state, n] of Object.entries(states ?? {})) this.set({ queue, state }, n);
          }
        }
      },
    });
    if (options.processMetrics) collectDefaultMetrics({ register: registry });
  }

  /** Starts timing one attempt of a job of `queue`; call exactly one of the timer's methods. */
  startJob(queue: string): JobTimer {
    const t0 = performance.now();
    let done = false;
    const end = (outcome: JobOutcome, code: string) => {
      if (done) return;
      done = true;
      this.jobs.inc({ queue, outcome, code });
      this.jobDuration.observe({ queue }, (performance.now() - t0) / 1000);
    };
    return {
      completed: (result) => {
        const code = recordedFailureCode(result);
        end(code === undefined ? 'completed' : 'failed', code ?? '');
      },
      retried: (code) => end('retried', code),
      failed: (code) => end('failed', code),
    };
  }

  /** Pass as pypi-client's `onBytes` option. */
  readonly recordPypiBytes = (kind: PypiTrafficKind, bytes: number): void => {
    this.pypiBytes.inc({ kind }, bytes);
  };

  /** An sdist extraction that ran setup.py took `seconds` (`ok`: it produced results). */
  observeSandbox(seconds: number, result: 'ok' | 'failed'): void {
    this.sandboxSeconds.observe({ result }, seconds);
  }

  /** The sandbox was proven, or found unavailable, in this process. */
  recordSandboxCheck(result: 'proven' | 'unavailable'): void {
    this.sandboxChecks.inc({ result });
    this.sandboxAvailable.set(result === 'proven' ? 1 : 0);
  }

  /** An sdist job ended waiting for a sandbox. */
  countSandboxUnavailable(): void {
    this.sandboxUnavailable.inc();
  }

  /** Lag behind the index: its last serial minus the last serial crawled (the scheduler sets it). */
  setLag(serials: number): void {
    this.lag.set(serials);
  }

  /** Queue depths read at every scrape (the BullMQ runner adds its queues); returns the remover. */
  addQueueDepthSource(source: QueueDepthSource): () => void {
    this.#depthSources.add(source);
    return () => {
      this.#depthSources.delete(source);
    };
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function createMetrics(options: MetricsOptions = {}): PipelineMetrics {
  return new PipelineMetrics(options);
}

let processWide: PipelineMetrics | undefined;

/**
 * The metrics of this process (with prom-client's process metrics): what runners record into
 * when their context brings no metrics of its own, and what `/metrics` serves.
 */
export function processMetrics(): PipelineMetrics {
  processWide ??= createMetrics({ processMetrics: true });
  return processWide;
}
