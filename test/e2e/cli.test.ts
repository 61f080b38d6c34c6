// The commands as an operator runs them: real processes, real exit codes. Two `pnpm worker`
// processes do the work of a `crawl --no-work` through BullMQ on the test Redis.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import {
  createTestDatabase,
  deleteRedisPrefix,
  oraclePypi,
  redisUrl,
  runCli,
  startCliWithEnv,
  type TestDatabase,
  uniqueName,
} from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: PypiServer;
let database: TestDatabase;
let env: Record<string, string>;
let dataDir: string;

function start(args: string[], extra: Record<string, string> = {}): ChildProcess {
  return startCliWithEnv(args, { ...process.env, ...env, ...extra });
}

/** Runs a command to its end (killed after `timeoutMs`, which then fails the test with its output). */
function run(args: string[], timeoutMs = 60_000) {
  return runCli(args, { ...process.env, ...env }, timeoutMs);
}

beforeAll(async () => {
  server = await startPypiServer({ dir: path.resolve('test/fixtures/index') });
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'cli-'));
  env = {
    PYPI_URL: server.url,
    DATABASE_URL: database.url,
    REDIS_URL: await redisUrl(),
    QUEUE_PREFIX: uniqueName('cliq'),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    HTTP_RPS_PER_HOST: '0',
    SDIST_EXTRACTION: 'off',
    CI: '1',
  };
  // Migrate once up front, so that the workers and the crawl do not all race to it.
  expect((await run(['migrate'])).code).toBe(0);
});

afterAll(async () => {
  await server?.close();
  await database?.drop();
  if (env?.REDIS_URL) await deleteRedisPrefix(env.REDIS_URL, env.QUEUE_PREFIX!);
  if (!dataDir) return;
  await rm(dataDir, { recursive: true, force: true });
});

describe('pnpm worker × 2 + pnpm crawl --no-work + pnpm snapshot', () => {
  it('crawls through the workers and publishes exactly the oracle', async () => {
    // debug: each project job logs a line, which shows who did it
    const workers = [
      start(['worker'], { LOG_LEVEL: 'debug' }),
      start(['worker', '--concurrency', '4'], { LOG_LEVEL: 'debug' }),
    ];
    const logs = workers.map(() => ({ text: '' }));
    for (const [i, w] of workers.entries()) {
      w.stderr?.on('data', (d) => {
        logs[i]!.text += d;
      });
    }
    try {
      await Promise.all(
        logs.map(
          (l) =>
            new Promise<void>((resolve, reject) => {
              const t0 = Date.now();
              const poll = setInterval(() => {
                if (l.text.includes('worker started')) {
                  clearInterval(poll);
                  resolve();
                } else if (Date.now() - t0 > 60_000) {
                  clearInterval(poll);
                  reject(new Error(`worker did not start: ${l.text}`));
                }
              }, 100);
            }),
        ),
      );
      const crawl = await run(['crawl', '--all', '--no-work']);
      expect(crawl.code, crawl.stderr).toBe(0);
      expect(crawl.stdout).toMatch(/files added: +\d+/);
      // The fixture folder's one broken wheel is the only failure.
      expect(crawl.stdout).toMatch(/failures: +1\n +archive-corrupt: 1/);
      // Counted in files, by method (SDIST_EXTRACTION=off: wheels only).
      expect(crawl.stdout).toMatch(/metadata read: +\d+ files \(pep658 \d+/);
      // Both workers took jobs (each project job logs 'project crawled' with its queue).
      for (const l of logs) expect(l.text).toMatch(/"queue":"project".*"msg":"project crawled"/);

      const out = path.join(dataDir, 'snaps');
      const snap = await run(['snapshot', '--out', out]);
      expect(snap.code, snap.stderr).toBe(0);
      expect(snap.stdout).toMatch(/nix hash: [0-9a-z]{52} \(sha256-/);
      const oracle = await oraclePypi(path.resolve('test/fixtures/index'));
      const names = await readdir(oracle);
      expect(names.length).toBe(256);
      for (const name of names) {
        expect(await readFile(path.join(out, 'latest', 'pypi', name), 'utf8'), name).toBe(
          await readFile(path.join(oracle, name), 'utf8'),
        );
      }
    } finally {
      const exits = workers.map((w) => new Promise<number | null>((r) => w.on('close', (code) => r(code))));
      for (const w of workers) w.kill('SIGTERM');
      // A worker stops cleanly on SIGTERM.
      expect(await Promise.all(exits)).toEqual([0, 0]);
    }
  });

  it('show, status and errors with codes and hints', async () => {
    const show = await run(['show', 'Foo_Bar']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^Foo_Bar \(foo-bar\)/);
    expect(show.stdout).toMatch(/Foo_Bar-0\.2\.tgz {2}sdist source {2}sha256:[0-9a-f]{64}/);

    const status = await run(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/files: +\d+/);
    // The index the crawl recorded, asked once.
    expect(status.stdout).toContain(`index:     ${server.url}, last serial `);
    expect(status.stdout).toMatch(/, 0 behind$/m);
    // Status and the snapshot count releases alike: those with a file (the fixture's shrinking
    // 1.2 has none), and status shows the snapshot's own counts beside.
    const latest = JSON.parse(await readFile(path.join(dataDir, 'snaps', 'latest.json'), 'utf8')) as {
      layouts: { pypi: { projects: number; releases: number; files: number } };
    };
    const pypi = latest.layouts.pypi;
    const releases = /^releases: +(\d+) with files \(as the snapshot counts them\), (\d+) in all$/m.exec(
      status.stdout,
    );
    expect(releases?.[1], status.stdout).toBe(String(pypi.releases));
    expect(Number(releases?.[2])).toBeGreaterThan(pypi.releases);
    expect(status.stdout).toContain(
      `(pypi/: ${pypi.projects} projects, ${pypi.releases} releases, ${pypi.files} files)`,
    );

    // Through pnpm exactly as the README says: `pnpm show` is pnpm's own (`pnpm view`, which asks
    // the npm registry), so the documented form is `pnpm pypi-graph show`.
    const viaPnpm = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('pnpm', ['pypi-graph', 'show', 'Foo_Bar', '--python', '3.8'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d) => {
        stdout += d;
      });
      child.stderr?.on('data', (d) => {
        stderr += d;
      });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(viaPnpm.code, viaPnpm.stderr).toBe(0);
    expect(viaPnpm.stdout).toMatch(/^Foo_Bar \(foo-bar\)/m);
    expect(`${viaPnpm.stdout}${viaPnpm.stderr}`).not.toMatch(/E404|npm error|ERR_PNPM/);

    const missing = await run(['show', 'no-such-project']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error [project-not-found]');
    expect(missing.stderr).toContain('hint: crawl it first');

    const bad = await run(['crawl', '--since', 'someday']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('error [since-invalid]');
  });
});

describe('three pnpm worker processes share the index rate limits', () => {
  it('never exceed HTTP_RPS_PER_HOST together, and the crawl still completes', async () => {
    const fresh = await createTestDatabase();
    const rate = 8;
    const extra = {
      DATABASE_URL: fresh.url,
      QUEUE_PREFIX: uniqueName('rateq'),
      HTTP_RPS_PER_HOST: String(rate),
      LOG_LEVEL: 'warn',
    };
    const workers = [0, 1, 2].map(() => start(['worker'], extra));
    try {
      const since = Date.now();
      const crawl = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = start(['crawl', '--all', '--no-work'], extra);
        let out = '';
        child.stdout?.on('data', (d) => {
          out += d;
        });
        child.stderr?.on('data', (d) => {
          out += d;
        });
        child.on('close', (code) => resolve({ code, out }));
      });
      expect(crawl.code, crawl.out).toBe(0);
      expect(crawl.out).toMatch(/failures: +1\n +archive-corrupt: 1/);
      // HTTP requests of this crawl (XML-RPC has its own limit of 1/s), by when they were answered.
      const times = server.requestLog
        .filter((r) => r.at !== undefined && r.at >= since && r.route !== 'xmlrpc')
        .map((r) => r.at!)
        .sort((a, b) => a - b);
      expect(times.length).toBeGreaterThan(3 * rate);
      // In any one second, at most `rate` requests (+1 for the edges of the window and the
      // server's own answer latency).
      let worst = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= 1000) j++;
        worst = Math.max(worst, i - j + 1);
      }
      expect(worst).toBeLessThanOrEqual(rate + 1);
      // And the limit was what paced the crawl: it took at least requests ÷ rate seconds.
      expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(
        ((times.length - 1) / rate - 1) * 1000,
      );
    } finally {
      const exits = workers.map((w) => new Promise<number | null>((r) => w.on('close', (code) => r(code))));
      for (const w of workers) w.kill('SIGTERM');
      expect(await Promise.all(exits)).toEqual([0, 0, 0]);
      await deleteRedisPrefix(env.REDIS_URL!, extra.QUEUE_PREFIX);
      await fresh.drop();
    }
  });
});
