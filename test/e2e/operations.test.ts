// Operating a deployment (issue 5 §2, §3): re-crawling failed work, resuming after Redis lost
// everything, and the scheduled refresh. Real PostgreSQL/PGlite, real Redis, the local PyPI
// server over real HTTP with its fault injection.
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  type App,
  crawl,
  createRunner,
  missedSlot,
  openApp,
  parseSchedule,
  recrawl,
  Scheduler,
  takeSnapshot,
} from '@pypi-graph/cli';
import { loadConfig } from '@pypi-graph/config';
import { silentLogger } from '@pypi-graph/core';
import {
  advanceCrawlState,
  countPendingProjects,
  failuresByCode,
  getCrawlState,
  getProject,
  listFiles,
  listProjects,
  projectDependencies,
  recentRefreshes,
} from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { pep503Name } from '@pypi-graph/pyspec';
import { crawlEnv, deleteRedisPrefix } from '@pypi-graph/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = path.resolve('test/fixtures/index');
const MAIN = path.resolve('packages/cli/src/main.ts');
let server: PypiServer;
/** The tarball sha256 of a clean `crawl --all` + snapshot of the fixture index. */
let cleanTarball: string;

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  const clean = await crawlEnv(server.url, 'pglite', 'embedded');
  try {
    await crawl(clean.app, { all: true });
    cleanTarball = (await takeSnapshot(clean.app, path.join(clean.dataDir, 'snapshots'))).tarballSha256;
  } finally {
    await clean.cleanup();
  }
}, 120_000);
afterAll(async () => server?.close());
afterEach(() => server.clearFaults());

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('pnpm recrawl --failed', () => {
  it('counts failed work by code, re-crawls what the filters select, and ends where a clean crawl ends', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded');
    try {
      // A project whose JSON is malformed, and a wheel whose bytes (and PEP 658 file) are wrong.
      server.setFaults([
        { match: '^/pypi/[Ff]oo[-_][Bb]ar/json$', kind: 'malformed-json' },
        { match: 'yanky-1\\.1-py3-none-any\\.whl', kind: 'wrong-bytes' },
      ]);
      const first = await crawl(env.app, { all: true });
      const codes = Object.fromEntries(first.summary.failures.map((f) => [f.code, f.count]));
      expect(codes['response-invalid']).toBe(1);
      expect(codes['archive-corrupt']).toBe(1); // the fixture's broken wheel
      const yankyCode = (await projectDependencies(env.app.db, 'yanky', '1.1'))
        .flatMap((f) => f.extractions)
        .find((e) => e.status === 'failed')?.failureCode;
      expect(yankyCode).toBeTruthy();
      server.clearFaults();

      // --dry-run: counts, changes nothing.
      const before = await failuresByCode(env.app.db);
      const dry = await recrawl(env.app, { failed: true, dryRun: true });
      expect(dry.selected).toMatchObject({ projects: 1, wheels: 2, sdists: 0 });
      expect(dry.selected.byCode).toEqual({
        'archive-corrupt': 1,
        'response-invalid': 1,
        [yankyCode!]: 1,
      });
      expect(await failuresByCode(env.app.db)).toEqual(before);

      // --code: only the project.
      const onlyProject = await recrawl(env.app, { failed: true, code: 'response-invalid' });
      expect(onlyProject.selected).toMatchObject({ projects: 1, wheels: 0, sdists: 0 });
      const foo = await getProject(env.app.db, 'foo-bar');
      expect(foo?.failureCode).toBeNull();
      expect(foo?.releases.flatMap((r) => r.files).length).toBeGreaterThan(0);

      // --project: only yanky's wheel; its failure is replaced by a result.
      const onlyYanky = await recrawl(env.app, { failed: true, project: 'Yanky' });
      expect(onlyYanky.selected).toMatchObject({ projects: 0, wheels: 1, sdists: 0 });
      const yanky = (await projectDependencies(env.app.db, 'yanky', '1.1')).find((f) =>
        f.filename.endsWith('.whl'),
      );
      expect(yanky?.extractions.map((e) => e.status)).toEqual(['ok']);

      // What is broken for real stays broken, and says so.
      const rest = await recrawl(env.app, { failed: true });
      expect(rest.selected).toMatchObject({
        projects: 0,
        wheels: 1,
        sdists: 0,
        byCode: { 'archive-corrupt': 1 },
      });
      expect(rest.summary?.failures).toEqual([{ code: 'archive-corrupt', count: 1 }]);

      // --since after every failure: nothing.
      const none = await recrawl(env.app, { failed: true, dryRun: true, since: '2100-01-01' });
      expect(none.selected).toMatchObject({ projects: 0, wheels: 0, sdists: 0 });

      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      expect(snap.tarballSha256).toBe(cleanTarball);
    } finally {
      await env.cleanup();
    }
  }, 180_000);
});

describe('pnpm snapshot on a terminal', () => {
  it('shows its progress and still reuses the previous snapshot', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      await crawl(env.app, { all: true });
      const out = path.join(env.dataDir, 'snapshots');
      const first = await takeSnapshot(env.app, out);
      const phases: string[] = [];
      const again = await takeSnapshot(env.app, out, { onPhase: (p) => phases.push(p) });
      expect(phases).toContain('snapshot: writing bucket 00 (1/256)');
      expect(phases).toContain('snapshot: writing bucket ff (256/256)');
      expect(phases.at(-1)).toBe('snapshot: manifest, tarball and Nix hash');
      // Nothing changed: every key comes from the previous snapshot, none is rendered again.
      expect(again.stats.previous).toBe(first.id);
      expect(again.stats.keysRendered).toBe(0);
      expect(again.stats.keysReused).toBeGreaterThan(0);
      expect(again.tarballSha256).toBe(first.tarballSha256);
    } finally {
      await env.cleanup();
    }
  }, 120_000);
});

describe('pnpm crawl --resume after Redis lost everything', () => {
  it('finds the unfinished projects and wheels in PostgreSQL and ends where a clean crawl ends', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'bullmq');
    try {
      // Workers for discover and project only: wheel jobs pile up in Redis, unprocessed.
      const partial = createRunner(env.app, { work: true, queues: ['discover', 'project'] });
      await partial.start();
      try {
        await partial.enqueue('discover', { mode: 'all' });
        await waitFor('the project jobs', async () => {
          const state = await getCrawlState(env.app.db, 'changelog');
          return state !== undefined && (await countPendingProjects(env.app.db)) === 0;
        });
      } finally {
        await partial.close();
      }
      // Redis loses everything.
      await deleteRedisPrefix(env.config.redisUrl!, env.config.queuePrefix);
      const wheelsStored = (await listFiles(env.app.db, { packagetype: 'bdist_wheel' })).filter(
        (f) => !f.removed,
      ).length;
      expect(wheelsStored).toBeGreaterThan(5);

      const outcome = await crawl(env.app, { resume: true });
      expect(outcome.resumed).toEqual({ projects: 0, wheels: wheelsStored, sdists: 0 });
      expect(outcome.summary.failures).toEqual([{ code: 'archive-corrupt', count: 1 }]);
      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      expect(snap.tarballSha256).toBe(cleanTarball);
    } finally {
      await env.cleanup();
    }
  }, 180_000);

  it('re-enqueues projects that a discover job recorded but whose jobs were lost', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'bullmq');
    try {
      // Only discover runs: every project job is left in Redis, then Redis is wiped.
      const partial = createRunner(env.app, { work: true, queues: ['discover'] });
      await partial.start();
      try {
        await partial.enqueue('discover', { mode: 'all' });
        await waitFor('discover', async () => (await getCrawlState(env.app.db, 'changelog')) !== undefined);
      } finally {
        await partial.close();
      }
      const listed = await env.app.api.eachPackageWithSerial(async () => {});
      expect(await countPendingProjects(env.app.db)).toBe(listed);
      await deleteRedisPrefix(env.config.redisUrl!, env.config.queuePrefix);

      const outcome = await crawl(env.app, { resume: true });
      expect(outcome.resumed?.projects).toBe(listed);
      expect(await countPendingProjects(env.app.db)).toBe(0);
      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      expect(snap.tarballSha256).toBe(cleanTarball);
    } finally {
      await env.cleanup();
    }
  }, 180_000);
});

describe('the schedule', () => {
  const cron = parseSchedule('0 */12 * * *');
  const now = new Date('2026-11-26T05:00:00Z');
  it('makes up the latest missed slot once, however many were missed', () => {
    expect(missedSlot(cron, now, undefined)?.toISOString()).toBe('2026-11-26T00:00:00.000Z');
    expect(missedSlot(cron, now, new Date('2026-11-20T00:00:00Z'))?.toISOString()).toBe(
      '2026-11-26T00:00:00.000Z',
    );
    expect(missedSlot(cron, now, new Date('2026-11-25T12:00:03Z'))?.toISOString()).toBe(
      '2026-11-26T00:00:00.000Z',
    );
    expect(missedSlot(cron, now, new Date('2026-11-26T00:00:01Z'))).toBeUndefined();
  });
  it('refuses an invalid expression with a hint', () => {
    expect(() => parseSchedule('every day')).toThrow(/invalid schedule/);
  });
});

describe('a refresh', () => {
  async function app(databaseUrl: string | undefined, dataDir: string): Promise<App> {
    return openApp(
      loadConfig({
        PYPI_URL: server.url,
        DATA_DIR: dataDir,
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'silent',
        HTTP_RPS_PER_HOST: '0',
        SDIST_EXTRACTION: 'off',
      }),
      silentLogger,
    );
  }

  it('needs a serial to start from, then discovers, waits for all the work and snapshots once it is done', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded');
    try {
      const scheduler = new Scheduler(env.app, {
        cron: '0 */12 * * *',
        work: true,
        snapshotDir: path.join(env.dataDir, 'snapshots'),
      });
      const none = await scheduler.refresh(null);
      expect(none).toMatchObject({ status: 'failed', error: expect.stringMatching(/^since-invalid/) });

      // Start from the middle of the index's changelog.
      const all = await env.app.api.changelogSinceSerial(0);
      const serials = all.map((r) => r.serial).sort((a, b) => a - b);
      const mid = serials[Math.floor(serials.length / 2)]!;
      const last = serials[serials.length - 1]!;
      const changed = new Set(all.filter((r) => r.serial > mid).map((r) => pep503Name(r.name)));
      await advanceCrawlState(env.app.db, 'changelog', mid);

      const outcome = await scheduler.refresh(null);
      expect(outcome).toMatchObject({ status: 'done', fromSerial: mid, toSerial: last });
      const [row] = await recentRefreshes(env.app.db, 1);
      expect(row).toMatchObject({ status: 'done', fromSerial: mid, toSerial: last });
      expect(row?.finishedAt).toBeInstanceOf(Date);
      const counts = row?.counts as { projectsCrawled: number; snapshot: { pypi: { files: number } } };
      // Every project the changelog named since `mid`, crawled before the snapshot was taken.
      const crawled = await listProjects(env.app.db);
      const seen = new Set(crawled.filter((p) => p.crawledAt).map((p) => p.name));
      for (const name of changed) {
        if (seen.has(name)) continue;
        // Not stored: only a project the index no longer has (and we never had) may be missing.
        await expect(env.app.api.getProjectJson(name)).rejects.toMatchObject({ code: 'project-not-found' });
      }
      expect([...seen].every((n) => changed.has(n))).toBe(true);
      expect(counts.projectsCrawled).toBe(crawled.filter((p) => p.crawledAt).length);
      const files = (await listFiles(env.app.db)).filter((f) => !f.removed);
      expect(counts.snapshot.pypi.files).toBe(files.length);
      if (outcome !== 'busy') expect(row?.snapshotId).toBe(outcome.snapshotId);
    } finally {
      await env.cleanup();
    }
  }, 180_000);

  it('never overlaps another: across processes the second is skipped', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded');
    const other = await app(env.config.databaseUrl, env.dataDir);
    try {
      await crawl(env.app, { all: true });
      const make = (a: App) =>
        new Scheduler(a, {
          cron: '0 */12 * * *',
          work: true,
          snapshotDir: path.join(env.dataDir, 'snapshots'),
        });
      const results = await Promise.all([make(env.app).refresh(null), make(other).refresh(null)]);
      expect(results.filter((r) => r === 'busy')).toHaveLength(1);
      expect(results.filter((r) => r !== 'busy' && r.status === 'done')).toHaveLength(1);
      expect(await recentRefreshes(env.app.db, 10)).toHaveLength(1);
    } finally {
      await other.close();
      await env.cleanup();
    }
  }, 180_000);

  it('pnpm scheduler makes up a missed slot once at start, and not again after a restart', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'bullmq');
    try {
      await crawl(env.app, { all: true });
      const procEnv = {
        ...process.env,
        PYPI_URL: server.url,
        DATABASE_URL: env.config.databaseUrl!,
        REDIS_URL: env.config.redisUrl!,
        QUEUE_PREFIX: env.config.queuePrefix,
        DATA_DIR: env.dataDir,
        HTTP_RPS_PER_HOST: '0',
        SDIST_EXTRACTION: 'off',
        LOG_LEVEL: 'info',
        CI: '1',
      };
      // Once a year: the latest slot (1 January) was missed, since no refresh ever ran.
      const runScheduler = async (until: (log: string) => Promise<boolean>) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', MAIN, 'scheduler', '--cron', '0 0 1 1 *', '--work'],
          {
            env: procEnv,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let log = '';
        child.stderr.on('data', (d) => {
          log += d;
        });
        const exited = new Promise<number | null>((r) => child.on('close', r));
        try {
          await waitFor('the scheduler', () => until(log), 120_000);
        } finally {
          child.kill('SIGTERM');
        }
        expect(await exited, log).toBe(0);
        return log;
      };
      const first = await runScheduler(async () =>
        (await recentRefreshes(env.app.db, 5)).some((r) => r.status === 'done'),
      );
      expect(first).toContain('a refresh was missed');
      const done = await recentRefreshes(env.app.db, 5);
      expect(done).toHaveLength(1);
      expect(done[0]?.slot?.toISOString()).toMatch(/-01-01T00:00:00\.000Z$/);

      const second = await runScheduler(async (log) => log.includes('next refresh'));
      expect(second).toContain('no refresh missed');
      expect(await recentRefreshes(env.app.db, 5)).toHaveLength(1);
    } finally {
      await env.cleanup();
    }
  }, 240_000);
});
