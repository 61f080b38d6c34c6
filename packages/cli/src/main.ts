#!/usr/bin/env node
import path from 'node:path';
import { type Config, loadConfig } from '@pypi-graph/config';
import { createLogger, isCrawlError, type Logger } from '@pypi-graph/core';
import { processMetrics } from '@pypi-graph/pipeline';
import { Command, InvalidArgumentError } from 'commander';
import { type App, createRunner, openApp, takeSnapshot } from './app';
import { crawl, formatSummary } from './commands/crawl';
import { startDashboard } from './commands/dashboard';
import { demo } from './commands/demo';
import { formatRecrawl, recrawl } from './commands/recrawl';
import { show } from './commands/show';
import { status } from './commands/status';
import { startMetricsServer } from './metrics-server';
import { formatRefresh, Scheduler } from './scheduler';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

/** Opens the app for one command, always closing it. */
async function withApp<T>(fn: (app: App, config: Config, logger: Logger) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const app = await openApp(config, logger);
  try {
    return await fn(app, config, logger);
  } finally {
    await app.close();
  }
}

const program = new Command('pypi-graph')
  .description('PyPI metadata crawler: file index and dependency graph for Nix tooling')
  .showHelpAfterError();

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
      await withApp(async (app, config) => {
        const outcome = await crawl(app, { ...opts, progress: process.stderr.isTTY === true && !config.ci });
        process.stdout.write(`${formatSummary(outcome)}\n`);
      });
    },
  );

program
  .command('worker')
  .description('process jobs from Redis until SIGTERM/SIGINT (needs REDIS_URL)')
  .option('--queues <names>', 'comma-separated queues to work on (default: all)')
  .option('--concurrency <n>', 'jobs at once per queue (default: per queue)', int)
  .action(async (opts: { queues?: string; concurrency?: number }) => {
    await withApp(async (app, config, logger) => {
      if (!config.redisUrl) {
        throw Object.assign(new Error('pnpm worker needs REDIS_URL'), {
          hint: 'without Redis, `pnpm crawl` runs the jobs in its own process',
        });
      }
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
    });
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
      await withApp(async (app, config) => {
        const outcome = await recrawl(app, {
          ...opts,
          progress: process.stderr.isTTY === true && !config.ci,
        });
        process.stdout.write(`${formatRecrawl(outcome)}\n`);
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
    await withApp(async (app, config, logger) => {
      const scheduler = new Scheduler(app, {
        cron: opts.cron ?? config.schedule,
        work: opts.work === true || !config.redisUrl,
        snapshotDir: opts.out ?? config.snapshotDir,
      });
      if (opts.once) {
        const outcome = await scheduler.refresh(null);
        process.stdout.write(`${formatRefresh(outcome)}\n`);
        if (outcome === 'busy' || outcome.status !== 'done') process.exitCode = 1;
        return;
      }
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
    });
  });

program
  .command('snapshot')
  .description('publish the database as a snapshot (FORMATS.md layouts, manifest, tarball)')
  .option('--out <dir>', 'output directory (default: $SNAPSHOT_DIR or $DATA_DIR/snapshots)')
  .action(async (opts: { out?: string }) => {
    await withApp(async (app, config) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      const result = await takeSnapshot(app, path.resolve(opts.out ?? config.snapshotDir), controller.signal);
      process.stdout.write(
        [
          `snapshot ${result.id}`,
          `  tree:     ${result.dir}`,
          `  tarball:  ${result.tarball}`,
          `  sha256:   ${result.tarballSha256}`,
          `  nix hash: ${result.narHashBase32} (${result.narHashSri})`,
          `  files:    ${result.counts.pypi?.files ?? 0} in ${result.counts.pypi?.projects ?? 0} projects`,
          '',
        ].join('\n'),
      );
    });
  });

program
  .command('show')
  .description("print a project's releases and files with their hashes and dependencies")
  .argument('<name[==version]>')
  .option('--python <version>', 'only what applies to this interpreter (2.7, 3.6 … 3.13)')
  .action(async (name: string, opts: { python?: string }) => {
    await withApp(async (app) => {
      process.stdout.write(`${await show(app, name, opts)}\n`);
    });
  });

program
  .command('status')
  .description('what is stored, how far behind the index, failures by code, the last snapshot')
  .action(async () => {
    await withApp(async (app) => {
      process.stdout.write(`${await status(app)}\n`);
    });
  });

program
  .command('migrate')
  .description('apply the SQL migrations and exit')
  .action(async () => {
    await withApp(async () => {});
  });

program
  .command('demo')
  .description('serve the fixture archives locally, crawl them on the embedded database, snapshot')
  .option('--dir <dir>', 'archives to serve', 'test/fixtures/index')
  .action(async (opts: { dir: string }) => {
    const config = loadConfig();
    const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
    process.stdout.write(
      `${await demo({ dir: path.resolve(opts.dir), logger, progress: process.stderr.isTTY === true && !config.ci })}\n`,
    );
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
    const config = loadConfig();
    const logger = createLogger({ level: config.logLevel });
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
  const e = err as { code?: string; message?: string; hint?: string };
  const code = isCrawlError(err) ? err.code : undefined;
  process.stderr.write(`error${code ? ` [${code}]` : ''}: ${e.message ?? String(err)}\n`);
  if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
  process.exitCode = 1;
});
