import { configError } from '@pypi-graph/core';
import { type CrawlSummary, crawlSummary } from '@pypi-graph/db';
import { PRIORITY_FRESH, type RecrawlResult, type RunnerStats, recrawlFailed } from '@pypi-graph/pipeline';
import { requireIndex } from '@pypi-graph/pypi-client';
import { type App, createRunner, recordIndexUrl } from '../app';
import { parseSince } from '../since';
import type { StatusDisplay } from '../terminal';

export interface RecrawlOptions {
  failed?: boolean;
  code?: string;
  project?: string;
  since?: string;
  dryRun?: boolean;
  /** BullMQ: only enqueue (workers do the work); otherwise the work is done here and awaited. */
  work?: boolean;
  concurrency?: number;
  /** Where progress goes (the status block on a terminal). */
  progress?: StatusDisplay;
}

export interface RecrawlOutcome {
  selected: RecrawlResult;
  dryRun: boolean;
  /** Absent when only enqueued (dry run, or `--no-work` with Redis). */
  summary?: CrawlSummary;
  stats?: RunnerStats;
}

/** Re-enqueues failed work (projects, wheels, sdists) matching the filters, and says how many of what. */
export async function recrawl(app: App, options: RecrawlOptions): Promise<RecrawlOutcome> {
  if (!options.failed) {
    throw configError('config-invalid', 'say what to re-crawl', {
      hint: '`pnpm recrawl --failed [--code C] [--project P] [--since D] [--dry-run]`',
    });
  }
  const since = options.since === undefined ? undefined : parseSince(options.since);
  if (since?.kind === 'serial') {
    throw configError(
      'since-invalid',
      '--since takes a time here (when the failure was recorded), not a serial',
    );
  }
  const filter = { code: options.code, project: options.project, since: since?.time };
  const stages = { wheels: app.wheels !== undefined, sdists: app.sdists !== undefined };
  if (options.dryRun) {
    return { selected: await recrawlFailed(app.db, undefined, { ...stages, filter }), dryRun: true };
  }
  const work = options.work ?? true;
  const progress = options.progress;
  progress?.phase(`reaching the index at ${app.config.pypiUrl}`);
  await requireIndex(app.config);
  await recordIndexUrl(app);
  const runner = createRunner(app, { work, concurrency: options.concurrency });
  const start = new Date();
  try {
    await runner.start();
    // Asked for by hand: ahead of any backfill.
    const selected = await recrawlFailed(app.db, runner.enqueue, {
      ...stages,
      filter,
      priority: PRIORITY_FRESH,
    });
    app.logger.info(selected, 're-crawl enqueued');
    if (runner.kind === 'bullmq' && !work) return { selected, dryRun: false };
    progress?.phase('re-crawling');
    const stats = await runner.drain((s) => progress?.stages(s));
    progress?.settle('re-crawled');
    return { selected, dryRun: false, summary: await crawlSummary(app.db, start), stats };
  } finally {
    await runner.close();
  }
}

export function formatRecrawl(outcome: RecrawlOutcome): string {
  const { selected } = outcome;
  const total = selected.projects + selected.wheels + selected.sdists;
  const verb = outcome.dryRun ? 'would re-crawl' : 're-crawled';
  const lines = [
    `${verb}: ${total} (${selected.projects} projects, ${selected.wheels} wheels, ${selected.sdists} sdists)`,
  ];
  for (const [code, n] of Object.entries(selected.byCode).sort()) lines.push(`  ${code}: ${n}`);
  if (outcome.summary) {
    const failures = outcome.summary.failures.reduce((a, f) => a + f.count, 0);
    const ok = outcome.summary.extractions.reduce((a, e) => a + e.count, 0);
    lines.push(`now:        ${outcome.summary.projectsCrawled} projects crawled, ${ok} results stored`);
    lines.push(`still failing: ${failures === 0 ? 'none' : failures}`);
    for (const f of outcome.summary.failures) lines.push(`  ${f.code}: ${f.count}`);
  } else if (!outcome.dryRun) {
    lines.push('enqueued: `pnpm worker` processes will do the work (`pnpm status` shows the queues)');
  }
  return lines.join('\n');
}
