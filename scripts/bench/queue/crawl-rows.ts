import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type CliProcess,
  childEnv,
  cpuSecondsOf,
  databaseUrl,
  fixed,
  int,
  type LocalServer,
  type Measured,
  measure,
  PostgresCpu,
  progress,
  spawnCli,
  startServer,
  tsxArgs,
  vmKb,
  withAdmin,
} from '../common';
import { redisPid, waitForQuiet } from './cpu';
import { deletePrefix, freshPrefix } from './noop';

const CLI = 'packages/cli/src/main.ts';

export interface CrawlRow {
  /** 0: the embedded runner (no Redis), the baseline. */
  workers: number;
  label: string;
  files: number;
  projects: number;
  crawl: Omit<Measured, 'stdout' | 'stderr' | 'samples'>;
  /** first_seen_at of the first and last file stored, seconds apart. */
  spanS: number;
  workersCpuS: number;
  serverCpuS: number;
  postgresCpuS: number;
  redisCpuS: number;
  workersPeakRssKb: number;
  load1: number;
  /** `migrate` on the migrated database: what any command pays before it works. */
  startup: { wallS: number; cpuS: number };
  run?: number;
}

interface WorkerProcess extends CliProcess {
  stop(): Promise<void>;
}

function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const proc = spawnCli(['worker'], env);
  const { child } = proc;
  return {
    ...proc,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until `count` workers of every crawl queue are connected under `prefix`. */
async function waitForWorkers(redisUrl: string, prefix: string, workers: WorkerProcess[]): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = ['discover', 'project'].map((name) => new Queue(name, { connection, prefix }));
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const counts = await Promise.all(queues.map((q) => q.getWorkersCount()));
      if (counts.every((n) => n >= workers.length)) return;
      const dead = workers.find((w) => w.child.exitCode !== null);
      if (dead) throw new Error(`a worker exited with ${dead.child.exitCode}\n${dead.stderr()}`);
      if (Date.now() > deadline) throw new Error(`workers not ready in 90 s (${counts.join(', ')})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await connection.quit().catch(() => connection.disconnect());
  }
}

function match(text: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(text);
  if (!m) throw new Error(`no ${what} in the output:\n${text}`);
  return m;
}

export async function crawlRow(
  workers: number,
  opts: {
    projects: number;
    filesPerProject: number;
    seed: number;
    concurrency: number;
    adminUrl: string;
    redisUrl: string;
    tmp: string;
  },
): Promise<CrawlRow> {
  const expected = opts.projects * opts.filesPerProject;
  const spec = `projects=${opts.projects},files-per-project=${opts.filesPerProject},seed=${opts.seed}`;
  const label =
    workers === 0
      ? 'embedded runner, 1 process, no Redis (baseline)'
      : `${workers} \`pnpm worker\` process${workers > 1 ? 'es' : ''} + \`crawl --all --no-work\``;
  const dbName = `bench_queue_${randomBytes(6).toString('hex')}`;
  const prefix = freshPrefix(`crawl${workers}`);
  const dir = path.join(opts.tmp, `w${workers}`);
  await mkdir(dir, { recursive: true });
  progress(`crawl: ${label}: ${int(expected)} files (${spec}); database ${dbName}, prefix ${prefix}`);
  const env = childEnv({
    LOG_LEVEL: 'warn',
    CI: '1',
    HTTP_RPS_PER_HOST: '0',
    // discover --all makes two XML-RPC calls; PyPI's 1/s limit would add a second to every row.
    XMLRPC_RPS: '1000',
    // The file index only: the wheel and sdist stages have benchmarks of their own.
    WHEEL_METADATA: 'off',
    SDIST_EXTRACTION: 'off',
    PROJECT_CONCURRENCY: String(opts.concurrency),
    DATABASE_URL: databaseUrl(opts.adminUrl, dbName),
    DATA_DIR: dir,
    ...(workers > 0 ? { REDIS_URL: opts.redisUrl, QUEUE_PREFIX: prefix } : {}),
  });
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  const pid = await redisPid(redis);
  const redisCpu = () => (pid === undefined ? Number.NaN : cpuSecondsOf(pid));
  await withAdmin(opts.adminUrl, (c) => c.query(`CREATE DATABASE ${dbName}`));
  let server: LocalServer | undefined;
  const procs: WorkerProcess[] = [];
  try {
    await measure({ args: tsxArgs(CLI, 'migrate'), env, label: 'migrate' });
    // A command's start-up (modules, connections, migrations checked): `migrate` with nothing to do.
    const startup = await measure({ args: tsxArgs(CLI, 'migrate'), env, label: 'start-up' });
    server = await startServer(spec);
    const crawlEnv = { ...env, PYPI_URL: server.url };
    for (let i = 0; i < workers; i++) procs.push(startWorker(crawlEnv));
    if (workers > 0) await waitForWorkers(opts.redisUrl, prefix, procs);

    await waitForQuiet(label, 'crawl');
    const load1 = os.loadavg()[0]!;
    const workersCpu = () => procs.reduce((a, w) => a + cpuSecondsOf(w.pid), 0);
    const w0 = workersCpu();
    const s0 = server.cpuSeconds();
    const r0 = redisCpu();
    const postgres = new PostgresCpu(dbName);
    postgres.start();
    let peakRss = 0;
    const rss = setInterval(() => {
      for (const w of procs) peakRss = Math.max(peakRss, vmKb(w.pid));
    }, 250);
    let m: Measured;
    try {
      m = await measure({
        args: tsxArgs(CLI, 'crawl', '--all', ...(workers > 0 ? ['--no-work'] : [])),
        env: crawlEnv,
        label,
      });
    } finally {
      clearInterval(rss);
    }
    const postgresCpuS = postgres.stop();
    const row: CrawlRow = {
      workers,
      label,
      files: expected,
      projects: opts.projects,
      crawl: {
        wallS: m.wallS,
        peakRssKb: m.peakRssKb,
        userS: m.userS,
        sysS: m.sysS,
        machineBusyS: m.machineBusyS,
      },
      spanS: Number.NaN,
      workersCpuS: workersCpu() - w0,
      serverCpuS: server.cpuSeconds() - s0,
      postgresCpuS,
      redisCpuS: workers > 0 ? redisCpu() - r0 : 0,
      workersPeakRssKb: peakRss,
      load1,
      startup: { wallS: startup.wallS, cpuS: startup.userS + startup.sysS },
    };

    // The result must be the whole index, whatever the number of workers.
    if (!/failures:\s+none/.test(m.stdout))
      throw new Error(`${label}: the crawl reported failures:\n${m.stdout}`);
    const added = Number(match(m.stdout, /files added:\s+(\d+)/, 'files added')[1]);
    const stored = await withAdmin(databaseUrl(opts.adminUrl, dbName), async (c) => {
      const r = await c.query(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE NOT removed)::int AS live,
                extract(epoch FROM max(first_seen_at) - min(first_seen_at))::float AS span
           FROM files`,
      );
      return r.rows[0] as { n: number; live: number; span: number };
    });
    if (added !== expected || stored.n !== expected || stored.live !== expected) {
      throw new Error(
        `${label}: WRONG RESULT — the synthetic index has ${expected} files; the crawl reported ${added} added, ` +
          `the database holds ${stored.n} (${stored.live} not removed)`,
      );
    }
    row.spanS = stored.span;
    progress(
      `crawl: ${label}: ${int(expected)} files in ${fixed(m.wallS)} s = ${int(expected / m.wallS)} files/s; ` +
        `CPU s: crawl ${fixed(m.userS + m.sysS)}, workers ${fixed(row.workersCpuS)}, server ${fixed(row.serverCpuS)}, ` +
        `PostgreSQL ${fixed(postgresCpuS)}, Redis ${fixed(row.redisCpuS)}; machine ${fixed(m.machineBusyS)}`,
    );
    return row;
  } catch (err) {
    for (const w of procs) {
      if (w.stderr()) progress(`worker ${w.pid} stderr (end):\n${w.stderr().slice(-3000)}`);
    }
    throw err;
  } finally {
    await Promise.all(procs.map((w) => w.stop()));
    await server?.close();
    if (workers > 0) await deletePrefix(redis, prefix).catch(() => {});
    await redis.quit().catch(() => redis.disconnect());
    await withAdmin(opts.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(
      (err: unknown) => progress(`could not drop ${dbName}: ${String(err)}`),
    );
  }
}
