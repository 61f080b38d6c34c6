#!/usr/bin/env node
import path from 'node:path';
import { type Config, loadConfig } from '@pypi-graph/config';
import { createLogger, isCrawlError, type Logger } from '@pypi-graph/core';
import { Command, InvalidArgumentError } from 'commander';
import { type App, createRunner, openApp, takeSnapshot } from './app';
import { crawl, formatSummary } from './commands/crawl';
import { demo } from './commands/demo';
import { show } from './commands/show';
import { status } from './commands/status';

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
  .option('--no-work', 'only enqueue and watch (BullMQ: `pnpm worker` processes do the work)')
  .option('--concurrency <n>', 'local workers per queue (BullMQ)', int)
  .action(
    async (opts: {
      since?: string;
      all?: boolean;
      project?: string[];
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
      const runner = createRunner(app, {
        work: true,
        queues: opts.queues?.split(',').map((q) => q.trim()) as never,
        concurrency: opts.concurrency,
      });
      await runner.start();
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
      logger.info('worker stopped');
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

program.parseAsync().catch((err: unknown) => {
  const e = err as { code?: string; message?: string; hint?: string };
  const code = isCrawlError(err) ? err.code : undefined;
  process.stderr.write(`error${code ? ` [${code}]` : ''}: ${e.message ?? String(err)}\n`);
  if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
  process.exitCode = 1;
});
