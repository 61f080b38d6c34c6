import { configError, FAILURE_CODES, isEnvironmentFault, isFailureCode } from '@pypi-graph/core';
import { type CrawlSummary, crawlSummary, getCrawlState, getProject, serialBefore } from '@pypi-graph/db';
import { type ReconcileResult, type RunnerStats, reconcile } from '@pypi-graph/pipeline';
import { requireIndex } from '@pypi-graph/pypi-client';
import { type App, createRunner, reconcileTarget, recordIndexUrl } from '../app';
import { EXIT, type ExitCode } from '../exit-codes';
import { parseSince } from '../since';
import type { StatusDisplay } from '../terminal';

export interface CrawlOptions {
  since?: string;
  all?: boolean;
  project?: string[];
  /** Re-enqueue what the database says is unfinished (after Redis lost its data), then continue the changelog. */
  resume?: boolean;
  /** Only enqueue and watch; other `pnpm worker` processes do the work (BullMQ only). */
  work?: boolean;
  concurrency?: number;
  /** Where progress goes (the status block on a terminal). */
  progress?: StatusDisplay;
}

export interface CrawlOutcome {
  summary: CrawlSummary;
  stats: RunnerStats;
  since?: number;
  /** What `--resume` found unfinished and enqueued again. */
  resumed?: ReconcileResult;
  /** Projects named by `--project` that the index does not have (and the database never had). */
  notFound: string[];
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
    throw configError('config-invalid', 'choose one of --since, --all, --project and --resume');
  }
  const progress = options.progress;
  // Mistakes in the command line first, before anything reaches the network.
  if (options.since !== undefined) parseSince(options.since);
  // `pnpm crawl` alone continues from the last serial: there must be one.
  const continueFrom = await getCrawlState(app.db, 'changelog');
  if (!modes.some(Boolean) && continueFrom === undefined) {
    throw configError('since-invalid', 'nothing crawled yet, so there is no serial to continue from', {
      hint: 'start with `pnpm crawl --since yesterday`, `pnpm crawl --all` or `pnpm crawl --project NAME`',
    });
  }
  // One short request first: an index that cannot be reached is reported now, once, instead of
  // by every job after its retries.
  progress?.phase(`reaching the index at ${app.config.pypiUrl}`);
  await requireIndex(app.config);
  await recordIndexUrl(app);
  const runner = createRunner(app, { work: options.work ?? true, concurrency: options.concurrency });
  const start = new Date();
  let sinceSerial: number | undefined;
  let resumed: ReconcileResult | undefined;
  try {
    progress?.phase(runner.kind === 'bullmq' ? 'starting (BullMQ)' : 'starting');
    await runner.start();
    if (options.resume) {
      resumed = await reconcile(app.db, reconcileTarget(app, runner), {
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
      sinceSerial = options.since !== undefined ? await resolveSinceSerial(app, options.since) : continueFrom;
      app.logger.info({ since: sinceSerial }, 'reading the changelog');
      await runner.enqueue('discover', { mode: 'since', since: sinceSerial });
    }
    progress?.phase(
      runner.kind === 'bullmq' && options.work === false
        ? 'crawling (`pnpm worker` processes do the work)'
        : 'crawling',
    );
    const stats = await runner.drain((s) => progress?.stages(s));
    progress?.settle('crawled');
    const notFound: string[] = [];
    for (const name of options.project ?? []) {
      if (!(await getProject(app.db, name))) notFound.push(name);
    }
    return { summary: await crawlSummary(app.db, start), stats, since: sinceSerial, resumed, notFound };
  } finally {
    await runner.close();
  }
}

/**
 * EXIT.incomplete when part of the work failed in a way that running again may fix: a project
 * (or the changelog) that could not be read, or a failure whose code is retryable. Failures of
 * the files themselves (a corrupt archive, a setup.py that raises) are results: EXIT.ok.
 */
export function crawlExitCode(summary: CrawlSummary, stats?: RunnerStats): ExitCode {
  if (summary.projectsFailed > 0) return EXIT.incomplete;
  if ((stats?.queues.discover?.failed ?? 0) > 0 || (stats?.queues.project?.failed ?? 0) > 0)
    return EXIT.incomplete;
  const codes = [...summary.failures.map((f) => f.code), ...Object.keys(stats?.failures ?? {})];
  const retryable = codes.some((code) => isFailureCode(code) && FAILURE_CODES[code].retry);
  return retryable ? EXIT.incomplete : EXIT.ok;
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
    // Counted in files; setup.py also in results, one per (sdist, Python version) it ran for.
    `metadata read:    ${summary.filesRead} files${
      summary.extractions.length > 0
        ? ` (${summary.extractions.map((e) => `${e.method} ${e.files}`).join(', ')})`
        : ''
    }`,
    ...summary.extractions
      .filter((e) => e.method === 'setup.py')
      .map((e) => `setup.py:         ${e.count} results, one per (sdist, Python version)`),
  ];
  const failures = new Map<string, number>(summary.failures.map((f) => [f.code, f.count]));
  for (const [code, n] of Object.entries(outcome.stats.failures)) {
    if (!failures.has(code)) failures.set(code, n);
  }
  // Work this process could not do (no sandbox for setup.py) is not a failure of the files.
  // Nor are Python versions this machine has no interpreter of (python-unavailable).
  const waits = summary.notRunHere.filter((f) => f.code !== 'python-unavailable');
  const notRun = waits.reduce((a, f) => a + f.count, 0);
  if (notRun > 0) {
    lines.push(
      `not run here:     ${notRun} sdists wait for a sandbox to run their setup.py (${waits
        .map((f) => `${f.code}: ${f.count}`)
        .join(', ')}; \`pnpm status\` says why)`,
    );
  }
  const noPython = summary.notRunHere.find((f) => f.code === 'python-unavailable');
  if (noPython) {
    lines.push(
      `not run here:     ${noPython.count} sdists' setup.py under Python versions this machine has no interpreter of (python-unavailable; \`pnpm status\` lists the interpreters)`,
    );
  }
  if (failures.size === 0) lines.push('failures:         none');
  else {
    lines.push(`failures:         ${[...failures.values()].reduce((a, b) => a + b, 0)}`);
    for (const [code, n] of [...failures].sort()) lines.push(`  ${code}: ${n}`);
    const machine = [...failures.keys()].filter((c) => isFailureCode(c) && isEnvironmentFault(c));
    if (machine.length > 0) {
      lines.push(
        `  (${machine.join(', ')}: faults of this machine, not recorded against any file; fix it, then \`pnpm crawl --resume\`)`,
      );
    }
  }
  return lines.join('\n');
}
