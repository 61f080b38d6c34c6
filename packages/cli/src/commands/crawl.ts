import { CrawlError, isEnvironmentFault, isFailureCode } from '@pypi-graph/core';
import { type CrawlSummary, crawlSummary, getCrawlState, serialBefore } from '@pypi-graph/db';
import { type ReconcileResult, type RunnerStats, reconcile } from '@pypi-graph/pipeline';
import { type App, createRunner } from '../app';
import { createProgress } from '../progress';
import { parseSince } from '../since';

export interface CrawlOptions {
  since?: string;
  all?: boolean;
  project?: string[];
  /** Re-enqueue what the database says is unfinished (after Redis lost its data), then continue the changelog. */
  resume?: boolean;
  /** Only enqueue and watch; other `pnpm worker` processes do the work (BullMQ only). */
  work?: boolean;
  concurrency?: number;
  progress?: boolean;
}

export interface CrawlOutcome {
  summary: CrawlSummary;
  stats: RunnerStats;
  since?: number;
  /** What `--resume` found unfinished and enqueued again. */
  resumed?: ReconcileResult;
}

/** Resolves `--since` to the serial after which the changelog is read. */
export async function resolveSinceSerial(app: App, value: string): Promise<number> {
  const since = parseSince(value);
  if (since.kind === 'serial') return since.serial;
  const stored = await serialBefore(app.db, since.time);
  if (stored !== undefined) return stored;
  // No history of our own that old: ask the index (binary search over changelog_since_serial).
  return app.api.changelogSerialAt(since.time);
}

export async function crawl(app: App, options: CrawlOptions): Promise<CrawlOutcome> {
  const modes = [
    options.since !== undefined,
    options.all === true,
    (options.project?.length ?? 0) > 0,
    options.resume === true,
  ];
  if (modes.filter(Boolean).length > 1) {
    throw new CrawlError('config-invalid', 'choose one of --since, --all, --project and --resume');
  }
  const runner = createRunner(app, { work: options.work ?? true, concurrency: options.concurrency });
  const start = new Date();
  const progress = createProgress(options.progress ?? false);
  let sinceSerial: number | undefined;
  let resumed: ReconcileResult | undefined;
  try {
    await runner.start();
    if (options.resume) {
      resumed = await reconcile(app.db, runner.enqueue, {
        wheels: app.wheels !== undefined,
        sdists: app.sdists !== undefined,
      });
      app.logger.info(resumed, 'unfinished work enqueued again');
      // A discover job lost mid-way: the changelog is read on from the last page stored.
      sinceSerial = await getCrawlState(app.db, 'changelog');
      if (sinceSerial !== undefined) await runner.enqueue('discover', { mode: 'since', since: sinceSerial });
    } else if (options.all) {
      await runner.enqueue('discover', { mode: 'all' });
    } else if (options.project && options.project.length > 0) {
      for (const name of options.project) await runner.enqueue('project', { name, serial: 0 });
    } else {
      if (options.since !== undefined) {
        sinceSerial = await resolveSinceSerial(app, options.since);
      } else {
        sinceSerial = await getCrawlState(app.db, 'changelog');
        if (sinceSerial === undefined) {
          throw new CrawlError(
            'since-invalid',
            'nothing crawled yet, so there is no serial to continue from',
            {
              hint: 'start with `pnpm crawl --since yesterday`, `--all` or `--project NAME`',
            },
          );
        }
      }
      app.logger.info({ since: sinceSerial }, 'reading the changelog');
      await runner.enqueue('discover', { mode: 'since', since: sinceSerial });
    }
    const stats = await runner.drain((s) => progress.update(s));
    progress.done();
    return { summary: await crawlSummary(app.db, start), stats, since: sinceSerial, resumed };
  } finally {
    await runner.close();
  }
}

export function formatSummary(outcome: CrawlOutcome): string {
  const { summary, resumed } = outcome;
  const lines = [
    ...(resumed
      ? [
          `resumed:          ${resumed.projects} pending projects, ${resumed.wheels} wheels and ${resumed.sdists} sdists without a result`,
        ]
      : []),
    `projects crawled: ${summary.projectsCrawled}`,
    `projects removed: ${summary.projectsRemoved}`,
    `files added:      ${summary.filesAdded}`,
    `files removed:    ${summary.filesRemoved}`,
    `metadata read:    ${summary.extractions.reduce((a, e) => a + e.count, 0)}${
      summary.extractions.length > 0
        ? ` (${summary.extractions.map((e) => `${e.method} ${e.count}`).join(', ')})`
        : ''
    }`,
  ];
  const failures = new Map<string, number>(summary.failures.map((f) => [f.code, f.count]));
  for (const [code, n] of Object.entries(outcome.stats.failures)) {
    if (!failures.has(code)) failures.set(code, n);
  }
  // Work this process could not do (no sandbox for setup.py) is not a failure of the files.
  const notRun = summary.notRunHere.reduce((a, f) => a + f.count, 0);
  if (notRun > 0) {
    lines.push(
      `not run here:     ${notRun} sdists wait for a sandbox to run their setup.py (${summary.notRunHere
        .map((f) => `${f.code}: ${f.count}`)
        .join(', ')}; \`pnpm status\` says why)`,
    );
  }
  if (failures.size === 0) lines.push('failures:         none');
  else {
    lines.push(`failures:         ${[...failures.values()].reduce((a, b) => a + b, 0)}`);
    for (const [code, n] of [...failures].sort()) lines.push(`  ${code}: ${n}`);
    const machine = [...failures.keys()].filter((c) => isFailureCode(c) && isEnvironmentFault(c));
    if (machine.length > 0) {
      lines.push(
        `  (${machine.join(', ')}: faults of this machine, not recorded against any file; fix it, then pnpm crawl --resume)`,
      );
    }
  }
  return lines.join('\n');
}
