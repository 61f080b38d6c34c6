// Faults in a running deployment (issue 5 §6), with real processes: three `pnpm worker`
// processes and `pnpm crawl --all --no-work` on the fixture index (wheels, and sdists through
// the Nix sandbox), against a PostgreSQL cluster and a Redis server of this test's own, which it
// kills and restarts. Each run's final snapshot must equal a clean run's byte for byte, with
// the same rows stored and no job left behind.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FaultRule, type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import {
  hasNix,
  type OwnPostgres,
  type OwnRedis,
  startOwnPostgres,
  startOwnRedis,
  uniqueName,
} from '@pypi-graph/test-support';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = path.resolve('packages/cli/src/main.ts');
const FIXTURES = path.resolve('test/fixtures/index');
const QUEUES = ['discover', 'project', 'wheel-metadata', 'sdist-extract'];
// In every run, clean or not: one sdist's bytes are wrong for good. It must end as the same
// recorded failure each time.
const WRONG_BYTES: FaultRule = { match: 'yanky-1\\.0\\.tar\\.gz$', kind: 'wrong-bytes' };

let server: PypiServer;
let postgres: OwnPostgres;
let redis: OwnRedis;
let work: string;

beforeAll(async () => {
  if (!hasNix)
    throw new Error('nix-build is needed for the sdist stage (apt-get install nix-bin; .ci/run does)');
  server = await startPypiServer({ dir: FIXTURES });
  postgres = await startOwnPostgres();
  redis = await startOwnRedis();
  work = await mkdtemp(path.join(tmpdir(), 'dist-faults-'));
}, 120_000);

afterAll(async () => {
  await server?.close();
  await redis?.close();
  await postgres?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Proc {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, log: () => out, exited };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exitOf(p: Proc, what: string, timeoutMs = 600_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not exit:\n${p.log().slice(-3000)}`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The pid of a worker that is building an sdist's derivation right now (`nix-store --realise`). */
function workerInSandbox(workers: Proc[]): Proc | undefined {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n');
  for (const row of rows) {
    const [, ppid, command, verb] = row.trim().split(/\s+/);
    if (!(command?.endsWith('nix-store') && verb === '--realise')) continue;
    const w = workers.find((x) => x.child.pid === Number(ppid) && x.child.exitCode === null);
    if (w) return w;
  }
  return undefined;
}

interface RunContext {
  env: Record<string, string>;
  db: pg.Pool;
  workers: Proc[];
  startWorker(): Proc;
}

interface RunResult {
  tarballSha256: string;
  rows: Record<string, number>;
  jobs: Record<string, number>;
  failures: Array<{ code: string; n: number }>;
  /** Not enumerable, so not compared: what a failed comparison shows. */
  readonly diagnostics?: string;
}

async function count(db: pg.Pool, sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
}

/** Work not done yet: pending projects, and current wheels and sdists without any result. */
function unfinished(db: pg.Pool): Promise<number> {
  return count(
    db,
    `SELECT (SELECT count(*) FROM pending_projects) + (SELECT count(*) FROM files f
       WHERE NOT f.removed AND NOT EXISTS (SELECT 1 FROM extractions e WHERE e.file_id = f.id)) AS n`,
  );
}

/**
 * One crawl of the fixture index by three workers. `during` runs alongside the crawl (it may
 * break things); `after` runs once the first crawl command has exited (e.g. `crawl --resume`).
 */
async function crawlRun(
  name: string,
  during?: (ctx: RunContext) => Promise<void>,
  after?: (ctx: RunContext) => Promise<void>,
): Promise<RunResult> {
  const dbName = `run_${name.replace(/\W/g, '_')}`;
  const dataDir = await mkdtemp(path.join(work, `${name}-`));
  const env = {
    PYPI_URL: server.url,
    DATABASE_URL: await postgres.createDatabase(dbName),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniqueName('dfq'),
    DATA_DIR: dataDir,
    SDIST_EXTRACTION: 'sandbox',
    HTTP_RPS_PER_HOST: '0',
    LOG_LEVEL: 'warn',
    CI: '1',
  };
  const migrate = start(['migrate'], env);
  expect(await exitOf(migrate, 'migrate'), migrate.log()).toBe(0);
  // A pool: its connections come back after the PostgreSQL restart.
  const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  db.on('error', () => {});
  const workers: Proc[] = [];
  const startWorker = () => {
    const w = start(['worker'], env);
    workers.push(w);
    return w;
  };
  for (let i = 0; i < 3; i++) startWorker();
  const ctx: RunContext = { env, db, workers, startWorker };
  try {
    const crawl = start(['crawl', '--all', '--no-work'], env);
    const fault = during?.(ctx);
    const code = await exitOf(crawl, 'crawl');
    await fault;
    if (after) await after(ctx);
    // 3 (README, "Exit codes"): every run has the one sdist whose bytes never match, a failure
    // with a retryable code (download-sha256-mismatch), so the crawl finished with work undone.
    else expect(code, crawl.log()).toBe(3);

    // Nothing left behind in the queues.
    const jobs: Record<string, number> = {};
    for (const q of QUEUES) {
      const queue = new Queue(q, { connection: { url: redis.url }, prefix: env.QUEUE_PREFIX });
      // Failed jobs are not compared: they live in Redis only for a week, and a run whose
      // Redis was wiped forgets them; the failures recorded in PostgreSQL are compared instead.
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      await queue.close();
      for (const [state, n] of Object.entries(c)) if (n > 0) jobs[`${q} ${state}`] = n;
    }
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    for (const w of workers) {
      const c = await exitOf(w, 'worker', 120_000);
      if (w.child.signalCode !== 'SIGKILL') expect(c, w.log().slice(-3000)).toBe(0);
    }
    const snap = start(['snapshot', '--out', path.join(dataDir, 'snapshots')], env);
    expect(await exitOf(snap, 'snapshot'), snap.log()).toBe(0);
    const sha = /sha256:\s+([0-9a-f]{64})/.exec(snap.log())?.[1];
    expect(sha, snap.log()).toBeTruthy();
    const rows: Record<string, number> = {};
    for (const t of [
      'projects',
      'releases',
      'files',
      'extractions',
      'requirements',
      'changelog',
      'pending_projects',
    ])
      rows[t] = await count(db, `SELECT count(*) AS n FROM ${t}`);
    // No duplicates beyond what the constraints allow: one result per file, Python key and method.
    rows.duplicateResults = await count(
      db,
      `SELECT count(*) AS n FROM (SELECT file_id, python_key FROM extractions
         GROUP BY file_id, python_key HAVING count(*) > 1) x`,
    );
    const failures = (
      await db.query<{ code: string; n: string }>(
        `SELECT failure_code AS code, count(*) AS n FROM extractions WHERE status = 'failed'
         GROUP BY failure_code ORDER BY failure_code`,
      )
    ).rows.map((r) => ({ code: r.code, n: Number(r.n) }));
    const result: RunResult = { tarballSha256: sha!, rows, jobs, failures };
    // What a failed comparison prints (not compared: ports and times differ between runs): the
    // recorded failures' logs, and the workers' log lines of failed or retried jobs.
    const failed = (
      await db.query<{ code: string; log: string | null }>(
        `SELECT failure_code AS code, log FROM extractions WHERE status = 'failed' ORDER BY id`,
      )
    ).rows.map((r) => `${r.code}: ${r.log ?? ''}`);
    const jobLines = workers.flatMap((w) =>
      w
        .log()
        .split('\n')
        .filter((l) => /"level":(40|50)/.test(l) && !/sha256-mismatch|archive-corrupt/.test(l)),
    );
    Object.defineProperty(result, 'diagnostics', {
      enumerable: false,
      value: [...failed, ...jobLines.slice(-20)].join('\n'),
    });
    return result;
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await db.end().catch(() => {});
  }
}

describe('a deployment of three workers under faults', () => {
  let clean: RunResult;

  beforeAll(async () => {
    server.setFaults([WRONG_BYTES]);
    clean = await crawlRun('clean');
    // The clean run itself: everything stored, the one wrong file recorded as such.
    expect(clean.rows.files).toBeGreaterThan(20);
    expect(clean.rows.pending_projects).toBe(0);
    expect(clean.rows.duplicateResults).toBe(0);
    expect(clean.jobs).toEqual({});
    expect(clean.failures.map((f) => f.code)).toContain('download-sha256-mismatch');
  }, 900_000);

  it('SIGKILL of a worker in the middle of an sdist extraction', async () => {
    let killed = false;
    const result = await crawlRun('sigkill', async (ctx) => {
      await waitFor('a worker building an sdist (nix-store --realise)', async () => {
        const w = workerInSandbox(ctx.workers);
        if (!w) return false;
        w.child.kill('SIGKILL');
        killed = true;
        return true;
      });
      // Its replacement; the killed worker's job comes back once its lock expires.
      ctx.startWorker();
    });
    expect(killed).toBe(true);
    expect(result, result.diagnostics).toEqual(clean);
  }, 900_000);

  it('Redis stopped mid-crawl and started empty, then `crawl --resume`', async () => {
    const result = await crawlRun(
      'redis',
      async (ctx) => {
        await waitFor('some projects stored after discover', async () => {
          const discovered = await count(ctx.db, 'SELECT count(*) AS n FROM crawl_state');
          const stored = await count(
            ctx.db,
            'SELECT count(*) AS n FROM projects WHERE crawled_at IS NOT NULL',
          );
          return discovered > 0 && stored >= 2;
        });
        const left = await unfinished(ctx.db);
        await redis.kill();
        expect(left, 'the crawl was unfinished when Redis went away').toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 1000));
        await redis.start();
      },
      async (ctx) => {
        // The first crawl command saw empty queues in the new Redis and ended; the work did not.
        const resume = start(['crawl', '--resume', '--no-work'], ctx.env);
        // 0, or 3 when the sdist with the wrong bytes is among the work it resumed (a retryable
        // failure recorded during this command: README, "Exit codes").
        expect([0, 3], resume.log()).toContain(await exitOf(resume, 'crawl --resume'));
        expect(resume.log()).toMatch(/resumed: +\d+ pending projects/);
      },
    );
    expect(result, result.diagnostics).toEqual(clean);
  }, 900_000);

  it('PostgreSQL restarted mid-crawl', async () => {
    const result = await crawlRun('postgres', async (ctx) => {
      await waitFor('some projects stored', async () => {
        return (await count(ctx.db, 'SELECT count(*) AS n FROM projects WHERE crawled_at IS NOT NULL')) >= 2;
      });
      const left = await unfinished(ctx.db);
      await postgres.restart();
      expect(left, 'the crawl was unfinished when PostgreSQL restarted').toBeGreaterThan(0);
    });
    expect(result, result.diagnostics).toEqual(clean);
  }, 900_000);

  it('PyPI answering 429 with Retry-After, 503, truncated bodies (and the same wrong bytes)', async () => {
    server.setFaults([
      WRONG_BYTES,
      { match: '^/pypi/[^/]+/json/?$', kind: '429', times: 4, retryAfter: 1 },
      { match: '^/simple/[^/]+/$', kind: '503', times: 4 },
      { match: '\\.whl(\\.metadata)?$', kind: 'truncate', times: 3 },
      { match: '\\.tar\\.gz$', kind: 'truncate', times: 2 },
    ]);
    try {
      const result = await crawlRun('pypi');
      // Every transient fault was served (all spent), and none of them changed the outcome.
      expect(
        server
          .faults()
          .filter((f) => f.times !== undefined)
          .map((f) => f.remaining),
      ).toEqual([0, 0, 0, 0]);
      expect(result, result.diagnostics).toEqual(clean);
    } finally {
      server.setFaults([WRONG_BYTES]);
    }
  }, 900_000);
});
