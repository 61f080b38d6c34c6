// Builds a real pypi-graph configuration for a test: a database of its own (PostgreSQL or
// PGlite), a runner (BullMQ on the test Redis with its own prefix, or embedded), and the local
// PyPI server as the index. Nothing here is a test-only path in the crawler: the CLI builds
// the same objects from the same configuration.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { App } from '@pypi-graph/cli';
import { type Config, loadConfig } from '@pypi-graph/config';
import { silentLogger } from '@pypi-graph/core';
import { Redis } from 'ioredis';
import { createTestDatabase, redisUrl, uniqueName } from './services';

export type DbKind = 'postgres' | 'pglite';
export type RunnerKind = 'embedded' | 'bullmq';

export interface CrawlEnv {
  config: Config;
  app: App;
  dataDir: string;
  /** Closes the app and removes the database, the data folder and the Redis keys. */
  cleanup(): Promise<void>;
}

export async function crawlEnv(
  pypiUrl: string,
  db: DbKind,
  runner: RunnerKind,
  extra: Record<string, string> = {},
): Promise<CrawlEnv> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pypi-graph-test-'));
  const database = db === 'postgres' ? await createTestDatabase() : undefined;
  const prefix = uniqueName('pgq');
  const redis = runner === 'bullmq' ? await redisUrl() : undefined;
  const config = loadConfig({
    PYPI_URL: pypiUrl,
    DATA_DIR: dataDir,
    DATABASE_URL: database?.url,
    REDIS_URL: redis,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    HTTP_RPS_PER_HOST: '0',
    // The index and wheel tests do not run setup.py; test/e2e/sdists.test.ts does.
    SDIST_EXTRACTION: 'off',
    ...extra,
  });
  // Loaded here, not at the top: a test that needs only a database or a Redis prefix from this
  // package does not load the whole crawler with it.
  const { openApp } = await import('@pypi-graph/cli');
  const app = await openApp(config, silentLogger);
  return {
    config,
    app,
    dataDir,
    async cleanup() {
      await app.close();
      await database?.drop();
      if (redis) await deleteRedisPrefix(redis, prefix);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

const run = promisify(execFile);

/** The independent Python oracle's `pypi/` layout for a folder (test/oracle/expected_pypi.py). */
export async function oraclePypi(folder: string): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'oracle-'));
  await run('python3', [path.resolve('test/oracle/expected_pypi.py'), folder, out]);
  return path.join(out, 'pypi');
}
