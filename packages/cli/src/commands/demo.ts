import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '@pypi-graph/config';
import type { Logger } from '@pypi-graph/core';
import { startPypiServer } from '@pypi-graph/pypi-server';
import { openApp, takeSnapshot } from '../app';
import { crawl, formatSummary } from './crawl';

/**
 * The whole pipeline on this machine: the local PyPI server on a folder of archives, a crawl on
 * the embedded database and runner, and a snapshot. Data goes to `$DATA_DIR/demo`, fresh each time.
 */
export async function demo(options: { dir: string; logger: Logger; progress: boolean }): Promise<string> {
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
    const app = await openApp(config, options.logger);
    try {
      const outcome = await crawl(app, { all: true, progress: options.progress });
      const snap = await takeSnapshot(app, config.snapshotDir);
      return [
        `served ${options.dir} at ${server.url}`,
        formatSummary(outcome),
        `database:  ${config.pglitePath} (PGlite)`,
        `snapshot:  ${snap.dir}`,
        `tarball:   ${snap.tarball} (sha256 ${snap.tarballSha256})`,
        `try:       DATA_DIR=${dataDir} pnpm pypi-graph show <project>`,
      ].join('\n');
    } finally {
      await app.close();
    }
  } finally {
    await server.close();
  }
}
