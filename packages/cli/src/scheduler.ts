// `pnpm scheduler`: the twice-daily refresh. One refresh = discover since the last serial →
// every job that follows from it, on whichever workers take them → a snapshot once all of it
// is done. Two refreshes never overlap (a PostgreSQL advisory lock, across processes and
// machines); a slot missed while no scheduler ran is made up once at start, not once per slot.
import path from 'node:path';
import { configError, jobError, toCrawlError } from '@pypi-graph/core';
import {
  abandonRunningRefreshes,
  crawlSummary,
  finishRefresh,
  getCrawlState,
  recentRefreshes,
  startRefresh,
} from '@pypi-graph/db';
import { PRIORITY_FRESH, processMetrics, type Runner, reconcile } from '@pypi-graph/pipeline';
import { Cron } from 'croner';
import { type App, createRunner, reconcileTarget, recordIndexUrl, takeSnapshot } from './app';

/** Any constant works; it only has to be the same for every pypi-graph process. */
export const REFRESH_LOCK = 0x70797266; // "pyrf"

export interface SchedulerOptions {
  /** Five- or six-field cron expression, evaluated in UTC. */
  cron: string;
  /** Run the jobs in this process too (always so without Redis). */
  work: boolean;
  /** Where snapshots are published. */
  snapshotDir: string;
  now?: () => Date;
}

export interface RefreshOutcome {
  id: number;
  status: 'done' | 'failed';
  fromSerial: number | null;
  toSerial: number | null;
  snapshotId: string | null;
  error?: string;
  seconds: number;
}

export function parseSchedule(expression: string): Cron {
  try {
    return new Cron(expression, { timezone: 'UTC', paused: true });
  } catch (err) {
    throw configError('config-invalid', `invalid schedule "${expression}": ${(err as Error).message}`, {
      hint: 'five cron fields in UTC, e.g. "0 */12 * * *" (00:00 and 12:00)',
    });
  }
}

/**
 * The slot a scheduler starting at `now` must make up for, if any: the latest slot at or
 * before `now` when no refresh has completed since it. Only one, however many were missed.
 */
export function missedSlot(cron: Cron, now: Date, lastDoneStartedAt: Date | undefined): Date | undefined {
  const [latest] = cron.previousRuns(1, now);
  if (!latest) return undefined;
  if (lastDoneStartedAt && lastDoneStartedAt.getTime() >= latest.getTime()) return undefined;
  return latest;
}

export class Scheduler {
  private readonly cron: Cron;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RefreshOutcome | 'busy'> | undefined;
  private stopped = false;
  private watcher: Runner | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly app: App,
    private readonly options: SchedulerOptions,
  ) {
    this.cron = parseSchedule(options.cron);
    this.now = options.now ?? (() => new Date());
  }

  /** The next slot after now. */
  nextSlot(): Date | null {
    return this.cron.nextRun(this.now());
  }

  /**
   * Starts: re-enqueues unfinished work from the database (Redis holds no truth), makes up a
   * missed slot, then waits for the next ones.
   */
  async start(): Promise<void> {
    const log = this.app.logger;
    if (this.app.config.redisUrl) {
      // Kept open while the scheduler runs: its queue depths are in the metrics.
      this.watcher = createRunner(this.app, { work: false });
      const found = await reconcile(this.app.db, reconcileTarget(this.app, this.watcher), this.stages());
      log.info(found, 'reconciled: unfinished work enqueued again');
    }
    // Without Redis, jobs live in the refresh's own process: each refresh reconciles first.
    await this.updateLag();
    this.lagTimer = setInterval(() => void this.updateLag(), 60_000);
    this.lagTimer.unref();
    const done = (await recentRefreshes(this.app.db, 50)).find((r) => r.status === 'done');
    const missed = missedSlot(this.cron, this.now(), done?.startedAt);
    if (missed) {
      log.info({ slot: missed.toISOString() }, 'a refresh was missed: running it now');
      this.trigger(missed);
    } else {
      log.info({ last: done?.startedAt?.toISOString() }, 'no refresh missed');
    }
    this.arm();
  }

  private stages() {
    return { wheels: this.app.wheels !== undefined, sdists: this.app.sdists !== undefined };
  }

  /** Sets `pypi_graph_index_lag_serials`: the index's last serial minus the last one crawled. */
  private async updateLag(): Promise<void> {
    try {
      const [last, crawled] = await Promise.all([
        this.app.api.changelogLastSerial(),
        getCrawlState(this.app.db, 'changelog'),
      ]);
      processMetrics().setLag(last - (crawled ?? 0));
    } catch (err) {
      this.app.logger.warn({ err: (err as Error).message }, 'could not read the lag behind the index');
    }
  }

  private arm(): void {
    if (this.stopped) return;
    const next = this.nextSlot();
    if (!next) return;
    // setTimeout holds at most 2^31-1 ms; a longer wait re-arms on the way.
    const ms = Math.min(Math.max(next.getTime() - this.now().getTime(), 0), 2 ** 31 - 1);
    this.app.logger.info({ next: next.toISOString() }, 'next refresh');
    this.timer = setTimeout(() => {
      if (this.now().getTime() >= next.getTime()) this.trigger(next);
      this.arm();
    }, ms);
  }

  private trigger(slot: Date): void {
    if (this.running) {
      this.app.logger.warn(
        { slot: slot.toISOString() },
        'the previous refresh is still running: slot skipped',
      );
      return;
    }
    this.running = this.refresh(slot).finally(() => {
      this.running = undefined;
    });
    this.running.catch(() => {});
  }

  /** Resolves when the refresh in progress (if any) has ended. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }

  /**
   * One refresh now, unless another process holds the refresh lock ('busy'). Its serial
   * range, counts, snapshot and duration are recorded in `refreshes`.
   */
  async refresh(slot: Date | null): Promise<RefreshOutcome | 'busy'> {
    const out = await this.app.database.tryAdvisoryLock(REFRESH_LOCK, () => this.refreshLocked(slot));
    if (!out.acquired) {
      this.app.logger.warn({ slot: slot?.toISOString() }, 'another refresh is running: this one is skipped');
      return 'busy';
    }
    return out.value;
  }

  private async refreshLocked(slot: Date | null): Promise<RefreshOutcome> {
    const { app } = this;
    const log = app.logger.child({ refresh: slot?.toISOString() ?? 'by hand' });
    // Whoever held the lock before us is gone: a refresh still marked running died with it.
    const abandoned = await abandonRunningRefreshes(app.db);
    if (abandoned > 0) log.warn({ abandoned }, 'refreshes left running by a stopped scheduler marked failed');
    const started = this.now();
    await recordIndexUrl(app);
    const fromSerial = (await getCrawlState(app.db, 'changelog')) ?? null;
    const id = await startRefresh(app.db, slot, fromSerial);
    const seconds = () => (Date.now() - started.getTime()) / 1000;
    try {
      if (fromSerial === null) {
        throw configError('since-invalid', 'nothing crawled yet, so a refresh has no serial to start from', {
          hint: 'run `pnpm crawl --all` (or `--since yesterday`) once first',
        });
      }
      const runner = createRunner(app, { work: this.options.work });
      let stats: Awaited<ReturnType<typeof runner.drain>>;
      try {
        await runner.start();
        // Whatever an earlier run left unfinished goes into this refresh too.
        const resumed = await reconcile(app.db, reconcileTarget(app, runner), this.stages());
        if (resumed.projects + resumed.wheels + resumed.sdists > 0)
          log.info(resumed, 'unfinished work enqueued again');
        await runner.enqueue('discover', { mode: 'since', since: fromSerial }, { priority: PRIORITY_FRESH });
        log.info({ since: fromSerial }, 'refresh: discovering');
        stats = await runner.drain(undefined, 1000, this.abort.signal);
      } finally {
        await runner.close();
      }
      // Everything that followed from the changelog is done (queues empty, nothing running).
      const snapshot = await takeSnapshot(app, path.resolve(this.options.snapshotDir), {
        signal: this.abort.signal,
      });
      const toSerial = (await getCrawlState(app.db, 'changelog')) ?? null;
      const summary = await crawlSummary(app.db, started);
      const counts = { ...summary, jobFailures: stats.failures, snapshot: snapshot.counts };
      await finishRefresh(app.db, id, { status: 'done', toSerial, counts, snapshotId: snapshot.id });
      await this.updateLag();
      log.info(
        {
          fromSerial,
          toSerial,
          snapshot: snapshot.id,
          seconds: seconds(),
          projects: summary.projectsCrawled,
        },
        'refresh done',
      );
      return { id, status: 'done', fromSerial, toSerial, snapshotId: snapshot.id, seconds: seconds() };
    } catch (thrown) {
      const err = toCrawlError(thrown);
      const toSerial = (await getCrawlState(app.db, 'changelog').catch(() => undefined)) ?? null;
      await finishRefresh(app.db, id, {
        status: 'failed',
        toSerial,
        error: `${err.code}: ${err.message}`,
      }).catch((e: unknown) =>
        log.error({ err: (e as Error).message }, 'could not record the failed refresh'),
      );
      log.error({ code: err.code, err: err.message, hint: err.hint }, 'refresh failed');
      return {
        id,
        status: 'failed',
        fromSerial,
        toSerial,
        snapshotId: null,
        error: `${err.code}: ${err.message}`,
        seconds: seconds(),
      };
    }
  }

  /** Stops scheduling; a refresh in progress is interrupted (recorded as failed, made up at next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort(jobError('aborted', 'the scheduler is stopping'));
    await this.idle();
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.watcher?.close();
  }
}

export function formatRefresh(outcome: RefreshOutcome | 'busy'): string {
  if (outcome === 'busy') return 'refresh skipped: another refresh is running';
  return [
    `refresh ${outcome.id}: ${outcome.status}${outcome.error ? ` (${outcome.error})` : ''}`,
    `  serials:  ${outcome.fromSerial ?? 'none'} → ${outcome.toSerial ?? 'none'}`,
    `  snapshot: ${outcome.snapshotId ?? 'none'}`,
    `  seconds:  ${outcome.seconds.toFixed(1)}`,
  ].join('\n');
}
