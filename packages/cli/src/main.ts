#!/usr/bin/env node
// The command line. Only light modules are imported here: each command loads the rest when it
// runs, so that a terminal shows what start-up is doing from the first second.
import path from 'node:path';
import { type Config, loadConfig } from '@pypi-graph/config';
import { configError, createLogger, isCrawlError, type Logger } from '@pypi-graph/core';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { App } from './app';
import { EXIT, type ExitCode } from './exit-codes';
import { createTerminal, type Terminal } from './terminal';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

/** The terminal of the running command: errors clear its status block before they are printed. */
let terminal: Terminal | undefined;

interface Session {
  config: Config;
  logger: Logger;
  term: Terminal;
}

/** Configuration, the status block and the logger of one command. */
function startSession(level?: (configured: string) => string): Session {
  const config = loadConfig();
  const term = createTerminal({ interactive: process.stderr.isTTY === true && !config.ci });
  terminal = term;
  const logger = createLogger({
    level: level ? level(config.logLevel) : config.logLevel,
    destination: term.logDestination as NodeJS.WritableStream | undefined,
  });
  return { config, logger, term };
}

/** What a command gives back: text for stdout and its exit status. */
interface Result {
  out?: string;
  code?: ExitCode;
}

/**
 * Opens the app for one command and always closes it; `check` runs first, before anything is
 * opened or created. The status block is cleared before the result goes to stdout.
 */
async function withApp(
  fn: (app: App, session: Session) => Promise<Result | undefined>,
  check?: (config: Config) => void,
): Promise<void> {
  const session = startSession();
  check?.(session.config);
  session.term.phase('loading');
  const { openApp } = await import('./app');
  const app = await openApp(session.config, session.logger, { onPhase: (p) => session.term.phase(p) });
  let result: Result | undefined;
  try {
    result = await fn(app, session);
  } finally {
    session.term.clear();
    await app.close();
  }
  if (result?.out !== undefined) process.stdout.write(`${result.out}\n`);
  if (result?.code) process.exitCode = result.code;
}

const program = new Command('pypi-graph')
  .description('PyPI metadata crawler: file index and dependency graph for Nix tooling')
  .showHelpAfterError()
  // Usage errors become EXIT.usage in the handler at the end, not commander's own exit(1).
  .exitOverride();

program
  .command('crawl')
  .description('crawl the index into the database, then print a summary')
  .option('--since <when>', 'changelog since a serial, today, yesterday, "N days ago" or an ISO date')
  .option('--all', 'every project the index lists (full backfill)')
  .option('--project <names...>', 'these projects only')
  .option(
    '--resume',
    're-enqueue what the database says is unfinished (after Redis lost its data), continue the changelog',
  )
  .option('--no-work', 'only enqueue and watch (BullMQ: `pnpm worker` processes do the work)')
  .option('--concurrency <n>', 'local workers per queue (BullMQ)', int)
  .action(
    async (opts: {
      since?: string;
      all?: boolean;
      project?: string[];
      resume?: boolean;
      work: boolean;
      concurrency?: number;
    }) => {
      await withApp(async (app, { term }) => {
        const { crawl, crawlExitCode, formatSummary } = await import('./commands/crawl');
        const outcome = await crawl(app, { ...opts, progress: term });
        if (outcome.notFound.length > 0) {
          term.clear();
          process.stderr.write(
            `error [project-not-found]: not on the index at ${app.config.pypiUrl}: ${outcome.notFound.join(', ')}\n`,
          );
        }
        return {
          out: formatSummary(outcome),
          code: outcome.notFound.length > 0 ? EXIT.error : crawlExitCode(outcome.summary, outcome.stats),
        };
      });
    },
  );

program
  .command('worker')
  .description('process jobs from Redis until SIGTERM/SIGINT (needs REDIS_URL)')
  .option('--queues <names>', 'comma-separated queues to work on (default: all)')
  .option('--concurrency <n>', 'jobs at once per queue (default: per queue)', int)
  .action(async (opts: { queues?: string; concurrency?: number }) => {
    await withApp(
      async (app, { config, logger }) => {
        const { createRunner, recordIndexUrl } = await import('./app');
        const { processMetrics } = await import('@pypi-graph/pipeline');
        const { startMetricsServer } = await import('./metrics-server');
        await recordIndexUrl(app);
        const queues = opts.queues?.split(',').map((q) => q.trim());
        // Fail closed: the sandbox is proven (or found missing, and said so) before the first sdist.
        if (!queues || queues.includes('sdist-extract')) await app.sdists?.prepare?.();
        const runner = createRunner(app, {
          work: true,
          queues: queues as never,
          concurrency: opts.concurrency,
        });
        await runner.start();
        // METRICS_PORT set: GET /metrics (Prometheus) for as long as the worker runs.
        const metricsServer = await startMetricsServer(config, processMetrics().registry, logger);
        logger.info({ queues: opts.queues ?? 'all' }, 'worker started');
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            logger.info({ signal }, 'worker stopping: finishing active jobs');
            resolve();
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        await runner.close();
        await metricsServer?.close();
        logger.info('worker stopped');
        return undefined;
      },
      // Refused before a database is opened (or an embedded one created).
      (config) => {
        if (!config.redisUrl) {
          throw configError('config-invalid', '`pnpm worker` needs REDIS_URL', {
            hint: 'set REDIS_URL to the Redis the crawl enqueues into; without Redis, `pnpm crawl` runs the jobs in its own process',
          });
        }
      },
    );
  });

program
  .command('recrawl')
  .description('re-enqueue failed work (projects, wheels, sdists) and say how many of what')
  .option('--failed', 'what failed (projects whose crawl failed, files with a failed result)')
  .option('--code <code>', 'only this failure code')
  .option('--project <name>', 'only this project')
  .option('--since <when>', 'only failures recorded since (today, yesterday, "N days ago", ISO date)')
  .option('--dry-run', 'only count')
  .option('--no-work', 'with REDIS_URL: only enqueue; `pnpm worker` processes do the work')
  .option('--concurrency <n>', 'local workers per queue (BullMQ)', int)
  .action(
    async (opts: {
      failed?: boolean;
      code?: string;
      project?: string;
      since?: string;
      dryRun?: boolean;
      work: boolean;
      concurrency?: number;
    }) => {
      await withApp(async (app, { term }) => {
        const { recrawl, formatRecrawl } = await import('./commands/recrawl');
        const { crawlExitCode } = await import('./commands/crawl');
        const outcome = await recrawl(app, { ...opts, progress: term });
        return {
          out: formatRecrawl(outcome),
          code: outcome.summary ? crawlExitCode(outcome.summary, outcome.stats) : EXIT.ok,
        };
      });
    },
  );

program
  .command('scheduler')
  .description('refresh on a schedule: changelog since the last serial, the work, then a snapshot')
  .option('--cron <expr>', 'cron expression in UTC (default: $SCHEDULE, "0 */12 * * *")')
  .option('--once', 'run one refresh now and exit (exit code 1 if it failed or another was running)')
  .option('--work', 'with REDIS_URL: also process jobs here (default: workers do)')
  .option('--out <dir>', 'snapshot directory (default: $SNAPSHOT_DIR)')
  .action(async (opts: { cron?: string; once?: boolean; work?: boolean; out?: string }) => {
    await withApp(async (app, { config, logger, term }) => {
      const { formatRefresh, Scheduler } = await import('./scheduler');
      const { processMetrics } = await import('@pypi-graph/pipeline');
      const { startMetricsServer } = await import('./metrics-server');
      const scheduler = new Scheduler(app, {
        cron: opts.cron ?? config.schedule,
        work: opts.work === true || !config.redisUrl,
        snapshotDir: opts.out ?? config.snapshotDir,
      });
      if (opts.once) {
        const { requireIndex } = await import('@pypi-graph/pypi-client');
        term.phase(`reaching the index at ${config.pypiUrl}`);
        await requireIndex(config);
        term.phase('refreshing');
        const outcome = await scheduler.refresh(null);
        return {
          out: formatRefresh(outcome),
          code: outcome === 'busy' || outcome.status !== 'done' ? EXIT.error : EXIT.ok,
        };
      }
      term.clear();
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      // METRICS_PORT set: GET /metrics (Prometheus), queue depths and the lag behind the index included.
      const metricsServer = await startMetricsServer(config, processMetrics().registry, logger);
      await scheduler.start();
      logger.info({ cron: opts.cron ?? config.schedule }, 'scheduler started');
      const signal = await stopped;
      logger.info({ signal }, 'scheduler stopping');
      await scheduler.stop();
      await metricsServer?.close();
      logger.info('scheduler stopped');
      return undefined;
    });
  });

program
  .command('snapshot')
  .description('publish the database as a snapshot (docs/formats.md: layouts, manifest, tarball)')
  .option('--out <dir>', 'output directory (default: $SNAPSHOT_DIR or $DATA_DIR/snapshots)')
  .option('--keep <n>', 'keep this many snapshots, the new one included (default: $SNAPSHOT_KEEP, 3)', int)
  .option('--full', 'render every entry, reusing nothing from the previous snapshot')
  .action(async (opts: { out?: string; keep?: number; full?: boolean }) => {
    await withApp(async (app, { config, term }) => {
      const { formatSnapshot, takeSnapshot } = await import('./app');
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      const result = await takeSnapshot(app, path.resolve(opts.out ?? config.snapshotDir), {
        signal: controller.signal,
        keep: opts.keep,
        full: opts.full,
        onPhase: (p) => term.phase(p),
      });
      return { out: formatSnapshot(result) };
    });
  });

program
  .command('show')
  .description("print a project's releases and files with their hashes and dependencies")
  .argument('<name[==version]>')
  .option('--python <version>', 'only what applies to this interpreter (2.7, 3.6 … 3.13)')
  .action(async (name: string, opts: { python?: string }) => {
    await withApp(async (app) => {
      const { show } = await import('./commands/show');
      return { out: await show(app, name, opts) };
    });
  });

program
  .command('status')
  .description('what is stored, how far behind the index, failures by code, the last snapshot')
  .action(async () => {
    await withApp(async (app, { term }) => {
      const { status } = await import('./commands/status');
      return { out: await status(app, (p) => term.phase(p)) };
    });
  });

program
  .command('migrate')
  .description('apply the SQL migrations and exit')
  .action(async () => {
    await withApp(async () => undefined);
  });

program
  .command('demo')
  .description('serve the fixture archives locally, crawl them on the embedded database, snapshot')
  .option('--dir <dir>', 'archives to serve', 'test/fixtures/index')
  .action(async (opts: { dir: string }) => {
    // The demo's own logs are only worth showing from warnings up.
    const { logger, term } = startSession((level) => (level === 'info' ? 'warn' : level));
    term.phase('loading');
    const { demo } = await import('./commands/demo');
    let result: { text: string; code: ExitCode };
    try {
      result = await demo({ dir: path.resolve(opts.dir), logger, progress: term });
    } finally {
      term.clear();
    }
    process.stdout.write(`${result.text}\n`);
    process.exitCode = result.code;
  });

program
  .command('dashboard')
  .description('serve the BullMQ dashboard (bull-board) over the queues under QUEUE_PREFIX (needs REDIS_URL)')
  .option(
    '--port <n>',
    'port (0: any free one)',
    (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number');
      return n;
    },
    3000,
  )
  .option(
    '--host <host>',
    'interface to listen on; beyond loopback, DASHBOARD_USER and DASHBOARD_PASSWORD are required',
    '127.0.0.1',
  )
  .action(async (opts: { port: number; host: string }) => {
    const { config, logger } = startSession();
    const { startDashboard } = await import('./commands/dashboard');
    const board = await startDashboard({ config, logger, port: opts.port, host: opts.host });
    const login = config.dashboardUser === undefined ? '' : `, login ${config.dashboardUser}`;
    process.stdout.write(`dashboard: ${board.url} (queues under ${config.queuePrefix}${login})\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await board.close();
  });

program.parseAsync().catch((err: unknown) => {
  terminal?.clear();
  if (err instanceof CommanderError) {
    // commander has printed the message (or the help) already.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return;
  }
  const e = err as { message?: string; hint?: string };
  const code = isCrawlError(err) ? err.code : undefined;
  process.stderr.write(`error${code ? ` [${code}]` : ''}: ${e.message ?? String(err)}\n`);
  if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
  process.exitCode = code === 'index-unreachable' ? EXIT.indexUnreachable : EXIT.error;
});
