import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '@pypi-graph/config';
import type { Logger } from '@pypi-graph/core';
import { projectsToShow } from '@pypi-graph/db';
import { startPypiServer } from '@pypi-graph/pypi-server';
import { formatSnapshot, openApp, takeSnapshot } from '../app';
import type { ExitCode } from '../exit-codes';
import type { StatusDisplay } from '../terminal';
import { crawl, crawlExitCode, formatSummary } from './crawl';

/** How many crawled projects the demo suggests trying with `pnpm pypi-graph show`. */
const SUGGESTIONS = 3;

/**
 * The whole pipeline on this machine: the local PyPI server on a folder of archives, a crawl on
 * the embedded database and runner, and a snapshot. Data goes to `$DATA_DIR/demo`, fresh each time.
 */
export async function demo(options: {
  dir: string;
  logger: Logger;
  progress?: StatusDisplay;
}): Promise<{ text: string; code: ExitCode }> {
  const progress = options.progress;
  progress?.phase(`starting the local PyPI server on ${options.dir}`);
  const server = await startPypiServer({ dir: options.dir, log: options.logger });
  try {
    const base = loadConfig();
    const dataDir = path.join(base.dataDir, 'demo');
    await rm(dataDir, { recursive: true, force: true });
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      PYPI_URL: server.url,
      DATA_DIR: dataDir,
      SNAPSHOT_DIR: undefined,
    });
    const app = await openApp(config, options.logger, { onPhase: (p) => progress?.phase(p) });
    try {
      const start = new Date();
      const outcome = await crawl(app, { all: true, progress });
      const snap = await takeSnapshot(app, config.snapshotDir, { onPhase: (p) => progress?.phase(p) });
      const names = await projectsToShow(app.db, start, SUGGESTIONS);
      // Each suggestion is a command line to copy as it is: DATA_DIR points at the demo's data.
      // The demo's data is the embedded database under DATA_DIR: a DATABASE_URL in the caller's
      // environment would point the command elsewhere, so the line unsets it.
      const env = `${base.databaseUrl ? 'DATABASE_URL= ' : ''}DATA_DIR=${shellWord(dataDir)}`;
      const tries = names.map((name) => `${env} pnpm pypi-graph show ${shellWord(name)}`);
      return {
        text: [
          `served ${options.dir} at ${server.url} (stopped now)`,
          formatSummary(outcome),
          `database:  ${config.pglitePath} (PGlite)`,
          formatSnapshot(snap),
          ...tries.map((t, i) => `${i === 0 ? 'try:' : '    '}       ${t}`),
          `           ${env} pnpm status`,
        ].join('\n'),
        code: crawlExitCode(outcome.summary, outcome.stats),
      };
    } finally {
      await app.close();
    }
  } finally {
    await server.close();
  }
}

/** One shell word: as it is when it is plain (names, most paths), else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9._/:@+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
