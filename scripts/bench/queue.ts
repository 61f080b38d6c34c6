// pnpm bench queue: (1) the queue alone — jobs/s through BullMQ on the local Redis with a no-op
// processor: adding (addBulk, add one at a time, and BullmqRunner.enqueue as the crawl does) and
// processing (one process at concurrency 1 and 16, two processes); (2) the crawl of the synthetic
// index by 1, 2, 4… `pnpm worker` processes fed by `crawl --all --no-work`, with the CPU seconds
// of every process involved (workers, PyPI server, PostgreSQL's backends, Redis), so that where
// scaling stops shows, and why. Baselines in the same run: raw BullMQ (Queue.addBulk, a bare
// Worker) for the queue; the embedded runner (no Redis, one process) for the crawl.
// Run as `node --import tsx scripts/bench/queue.ts --child-worker …`, this file is also the
// no-op worker process of part 1's multi-process row.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '@pypi-graph/config';
import { createLogger } from '@pypi-graph/core';
import type { Db } from '@pypi-graph/db';
import {
  type AnyQueueDefinition,
  BullmqRunner,
  bullmqJobId,
  PRIORITY_BACKFILL,
  type PypiApi,
  projectQueue,
} from '@pypi-graph/pipeline';
import { type JobsOptions, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  childEnv,
  cpuSecondsOf,
  databaseUrl,
  fixed,
  gitRevision,
  int,
  type LocalServer,
  loadAverage,
  type MachineFacts,
  type Measured,
  machineBusySeconds,
  machineFacts,
  markdownTable,
  mb,
  measure,
  PostgresCpu,
  progress,
  REPO_ROOT,
  startServer,
  textTable,
  tsxArgs,
  withAdmin,
  writeDocSection,
} from './common';

const HEADING = 'Queue and worker scaling (`pnpm bench queue`)';
const CLI = 'packages/cli/src/main.ts';
const SELF = 'scripts/bench/queue.ts';
/** The queue every job of part 1 goes to: the crawl's busiest queue, with its payload and id scheme. */
const QUEUE = 'project';
/** Jobs run untimed through each kind of worker first, in every process that processes. */
const WARM_UP_JOBS = 2000;

const USAGE = `usage: pnpm bench queue [--jobs 20000] [--projects 2000] [--workers 1,2,4] [--repeat 2] [--files-per-project 5]
                        [--seed 1] [--concurrency 16] [--postgres URL] [--redis URL]
                        [--doc docs/benchmarks.md] [--no-doc] [--json FILE] [--from-json FILE]

  --jobs               jobs per row of part 1 (the queue alone, no-op processor)
  --projects           projects of the synthetic index crawled in part 2
  --workers            numbers of \`pnpm worker\` processes, one crawl each
  --repeat             runs of every row (the crawl's in alternating order); the least contended is shown
  --files-per-project  files per synthetic project
  --seed               seed of the synthetic index
  --concurrency        PROJECT_CONCURRENCY of every worker (and of the embedded baseline)
  --postgres           administrative PostgreSQL URL: a fresh database is created and dropped per crawl
  --redis              Redis URL: a fresh key prefix per row, deleted afterwards
  --doc                where the "## ${HEADING}" section is written
  --no-doc             print the results only
  --json FILE          where to write every measurement as JSON (default: a file in the temporary directory)
  --from-json FILE     write the section again from such a file, without measuring`;

// ---------------------------------------------------------------------------------------------
// Processes' CPU

/** The local Redis server's pid (INFO server), when it runs on this machine. */
async function redisPid(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('server');
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  if (!Number.isInteger(pid)) return undefined;
  try {
    readFileSync(`/proc/${pid}/stat`);
    return pid;
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function rssKbOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------------------------------------
// Part 1: the queue alone

interface QueueRow {
  kind: 'add' | 'process';
  label: string;
  baseline?: boolean;
  jobs: number;
  seconds: number;
  /** CPU seconds of the node processes doing the work (this one, or the worker processes). */
  nodeCpuS: number;
  redisCpuS: number;
  machineBusyS: number;
  load1: number;
  run?: number;
}

function noopDefinition(onJob: () => void, concurrency: number): AnyQueueDefinition {
  return {
    ...(projectQueue as AnyQueueDefinition),
    concurrency: () => concurrency,
    async process() {
      onJob();
      return { status: 'saved', filesAdded: 0, filesRemoved: 0 };
    },
    onFailed: undefined,
  };
}

/** A BullmqRunner whose only queue is `project` with a no-op processor (nothing else is touched). */
function noopRunner(opts: {
  redisUrl: string;
  prefix: string;
  work: boolean;
  concurrency: number;
  onJob?: () => void;
}): BullmqRunner {
  const config = loadConfig({ LOG_LEVEL: 'warn', PROJECT_CONCURRENCY: String(opts.concurrency) });
  const logger = createLogger({ level: 'warn' });
  return new BullmqRunner(
    { config, db: {} as Db, api: {} as PypiApi, logger },
    { [QUEUE]: noopDefinition(opts.onJob ?? (() => {}), opts.concurrency) },
    { redisUrl: opts.redisUrl, prefix: opts.prefix, work: opts.work, concurrency: opts.concurrency },
    logger,
  );
}

/** The payload, id and options BullmqRunner.enqueue gives a backfill project job. */
function jobOf(i: number): { name: string; data: Record<string, unknown>; opts: JobsOptions } {
  const data = { name: `bench-project-${i}`, serial: i + 1, priority: PRIORITY_BACKFILL };
  return {
    name: QUEUE,
    data,
    opts: {
      jobId: bullmqJobId(projectQueue.jobId(data)),
      attempts: projectQueue.attempts,
      backoff: { type: 'pypi-graph' },
      priority: PRIORITY_BACKFILL,
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  };
}

function freshPrefix(what: string): string {
  return `bench-queue-${randomBytes(4).toString('hex')}-${what}`;
}

async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Runs `jobs` jobs through a bare Worker and through a no-op BullmqRunner under a throw-away
 * prefix, untimed: the timed rows then run on warm (JIT-compiled) code, whatever their order.
 */
async function warmUp(redisUrl: string, jobs: number): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    for (const kind of ['worker', 'runner'] as const) {
      const prefix = freshPrefix(`warm-${kind}`);
      const queue = new Queue(QUEUE, { connection, prefix });
      try {
        await addBulk(queue, jobs);
        let stop: () => Promise<void>;
        if (kind === 'worker') {
          const workerConnection = connection.duplicate({ maxRetriesPerRequest: null });
          const worker = new Worker(QUEUE, async () => {}, {
            connection: workerConnection,
            prefix,
            concurrency: 16,
          });
          stop = async () => {
            await worker.close();
            await workerConnection.quit().catch(() => workerConnection.disconnect());
          };
        } else {
          const runner = noopRunner({ redisUrl, prefix, work: true, concurrency: 16 });
          await runner.start();
          stop = () => runner.close();
        }
        while ((await pending(queue)) > 0) await new Promise((r) => setTimeout(r, 20));
        await stop();
      } finally {
        await queue.close();
        await deletePrefix(connection, prefix);
      }
    }
  } finally {
    await connection.quit().catch(() => connection.disconnect());
  }
}

async function addBulk(queue: Queue, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => jobOf(i + k)));
  }
}

const PENDING = ['waiting', 'paused', 'prioritized', 'active', 'delayed'] as const;

async function pending(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts(...PENDING);
  return PENDING.reduce((a, s) => a + (counts[s] ?? 0), 0);
}

interface Sampled {
  seconds: number;
  nodeCpuS: number;
  redisCpuS: number;
  machineBusyS: number;
  load1: number;
}

/** Times `fn`, with this process's CPU (or `cpu()`'s), Redis's and the machine's meanwhile. */
/** CPUs the machine may be using when a row starts (over the last QUIET_WINDOW_MS). */
const QUIET_CPUS = 0.25;
const QUIET_WINDOW_MS = 2000;
/** Longest wait for the machine to be quiet before a row; then it runs anyway (and may be marked †). */
const QUIET_MAX_WAIT_MS = { queue: 10_000, crawl: 30_000 };

/**
 * Waits until the whole machine used less than QUIET_CPUS over QUIET_WINDOW_MS (other work on
 * it comes and goes), for at most QUIET_MAX_WAIT_MS. Returns the CPUs busy in the last window.
 */
async function waitForQuiet(what: string, kind: keyof typeof QUIET_MAX_WAIT_MS): Promise<number> {
  const deadline = Date.now() + QUIET_MAX_WAIT_MS[kind];
  for (;;) {
    const b0 = machineBusySeconds();
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    const cpus = (machineBusySeconds() - b0) / (QUIET_WINDOW_MS / 1000);
    if (cpus < QUIET_CPUS) return cpus;
    if (Date.now() >= deadline) {
      progress(`${what}: the machine is still busy (${fixed(cpus, 2)} CPUs): running anyway`);
      return cpus;
    }
    progress(`${what}: waiting for the machine to be quiet (${fixed(cpus, 2)} CPUs busy)`);
  }
}

async function timed(redisCpu: () => number, fn: () => Promise<void>, cpu?: () => number): Promise<Sampled> {
  await waitForQuiet('queue row', 'queue');
  const load1 = os.loadavg()[0]!;
  const ownCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const nodeCpu = cpu ?? ownCpu;
  const cpu0 = nodeCpu();
  const redis0 = redisCpu();
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  return {
    seconds,
    nodeCpuS: nodeCpu() - cpu0,
    redisCpuS: redisCpu() - redis0,
    machineBusyS: machineBusySeconds() - busy0,
    load1,
  };
}

/** A no-op worker process (this file with --child-worker): a BullmqRunner on `project`. */
interface ChildWorker {
  pid: number;
  processed(): Promise<number>;
}

async function startChildWorker(redisUrl: string, prefix: string, concurrency: number): Promise<ChildWorker> {
  const child = spawn(
    process.execPath,
    tsxArgs(
      SELF,
      '--child-worker',
      '--redis',
      redisUrl,
      '--prefix',
      prefix,
      '--concurrency',
      String(concurrency),
    ),
    { cwd: REPO_ROOT, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('ready\n')) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`the no-op worker process exited with ${code}\n${err}`));
    });
  });
  return {
    pid: child.pid!,
    async processed() {
      child.kill('SIGTERM');
      const code = await exited;
      const m = /"processed":(\d+)/.exec(out);
      if (code !== 0 || !m) throw new Error(`the no-op worker process failed (exit ${code})\n${err}`);
      return Number(m[1]);
    },
  };
}

/** Child mode: a no-op BullmqRunner worker until SIGTERM; prints how many jobs it processed. */
async function childWorker(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'child-worker': { type: 'boolean' },
      redis: { type: 'string' },
      prefix: { type: 'string' },
      concurrency: { type: 'string' },
    },
    strict: true,
  });
  await warmUp(values.redis!, WARM_UP_JOBS);
  let processed = 0;
  const runner = noopRunner({
    redisUrl: values.redis!,
    prefix: values.prefix!,
    work: true,
    concurrency: Number(values.concurrency),
    onJob: () => {
      processed++;
    },
  });
  await runner.start();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await runner.close();
  process.stdout.write(`${JSON.stringify({ processed })}\n`);
}

async function queueRows(redisUrl: string, jobs: number): Promise<QueueRow[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const pid = await redisPid(redis);
  const redisCpu = () => (pid === undefined ? Number.NaN : cpuSecondsOf(pid));
  const rows: QueueRow[] = [];
  const note = (row: QueueRow) => {
    rows.push(row);
    progress(
      `queue: ${row.label}: ${int(row.jobs)} jobs in ${fixed(row.seconds, 2)} s = ${int(row.jobs / row.seconds)} jobs/s ` +
        `(node CPU ${fixed(row.nodeCpuS)} s, Redis CPU ${fixed(row.redisCpuS)} s)`,
    );
  };
  const withQueue = async <T>(what: string, fn: (queue: Queue, prefix: string) => Promise<T>): Promise<T> => {
    const prefix = freshPrefix(what);
    const connection = redis.duplicate({ maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection, prefix });
    await queue.waitUntilReady();
    try {
      return await fn(queue, prefix);
    } finally {
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
      await deletePrefix(redis, prefix);
    }
  };
  const expectCount = async (queue: Queue, label: string) => {
    const n = await pending(queue);
    if (n !== jobs) throw new Error(`${label}: ${n} jobs in the queue, not ${jobs}`);
  };

  try {
    await warmUp(redisUrl, WARM_UP_JOBS);
    // Adding.
    await withQueue('addbulk', async (queue) => {
      const label = 'BullMQ `Queue.addBulk`, 1,000 jobs per call (baseline)';
      progress(`queue: ${label} …`);
      const s = await timed(redisCpu, () => addBulk(queue, jobs));
      await expectCount(queue, label);
      note({ kind: 'add', label, baseline: true, jobs, ...s });
    });
    await withQueue('add', async (queue) => {
      const label = 'BullMQ `Queue.add`, one job at a time';
      progress(`queue: ${label} …`);
      const s = await timed(redisCpu, async () => {
        for (let i = 0; i < jobs; i++) {
          const j = jobOf(i);
          await queue.add(j.name, j.data, j.opts);
        }
      });
      await expectCount(queue, label);
      note({ kind: 'add', label, jobs, ...s });
    });
    await withQueue('enqueue', async (queue, prefix) => {
      const label =
        '`BullmqRunner.enqueue`, one job at a time (payload check, `getJob`, `add`: as the crawl)';
      progress(`queue: ${label} …`);
      const runner = noopRunner({ redisUrl, prefix, work: false, concurrency: 1 });
      try {
        const s = await timed(redisCpu, async () => {
          for (let i = 0; i < jobs; i++) {
            const j = jobOf(i);
            if (!(await runner.enqueue(QUEUE, j.data, { priority: PRIORITY_BACKFILL }))) {
              throw new Error(`enqueue refused job ${i}`);
            }
          }
        });
        await expectCount(queue, label);
        note({ kind: 'add', label, jobs, ...s });
      } finally {
        await runner.close();
      }
    });

    // Processing: the queue is filled and paused, the workers start and are ready, then it resumes.
    const processRow = async (
      what: string,
      label: string,
      startWorkers: (prefix: string) => Promise<{ cpu?: () => number; stop(): Promise<number> }>,
      baseline = false,
    ) => {
      await withQueue(what, async (queue, prefix) => {
        progress(`queue: ${label} …`);
        await queue.pause();
        await addBulk(queue, jobs);
        await expectCount(queue, label);
        const workers = await startWorkers(prefix);
        let processed = 0;
        const s = await timed(
          redisCpu,
          async () => {
            await queue.resume();
            while ((await pending(queue)) > 0) await new Promise((r) => setTimeout(r, 20));
          },
          workers.cpu,
        );
        processed = await workers.stop();
        const failed = (await queue.getJobCounts('failed')).failed ?? 0;
        if (processed !== jobs || failed !== 0) {
          throw new Error(`${label}: ${processed} jobs processed and ${failed} failed, of ${jobs}`);
        }
        note({ kind: 'process', label, baseline, jobs, ...s });
      });
    };
    for (const concurrency of [1, 16]) {
      await processRow(
        `worker${concurrency}`,
        `BullMQ \`Worker\`, no-op, concurrency ${concurrency}, 1 process (baseline)`,
        async (prefix) => {
          let processed = 0;
          const connection = redis.duplicate({ maxRetriesPerRequest: null });
          const worker = new Worker(
            QUEUE,
            async () => {
              processed++;
            },
            { connection, prefix, concurrency },
          );
          await worker.waitUntilReady();
          return {
            async stop() {
              await worker.close();
              await connection.quit().catch(() => connection.disconnect());
              return processed;
            },
          };
        },
        true,
      );
    }
    for (const concurrency of [1, 16]) {
      await processRow(
        `runner${concurrency}`,
        `\`BullmqRunner\` worker, no-op, concurrency ${concurrency}, 1 process`,
        async (prefix) => {
          let processed = 0;
          const runner = noopRunner({
            redisUrl,
            prefix,
            work: true,
            concurrency,
            onJob: () => {
              processed++;
            },
          });
          await runner.start();
          return {
            async stop() {
              await runner.close();
              return processed;
            },
          };
        },
      );
    }
    await processRow(
      'procs2',
      '`BullmqRunner` worker, no-op, concurrency 16, 2 processes',
      async (prefix) => {
        const children = await Promise.all([1, 2].map(() => startChildWorker(redisUrl, prefix, 16)));
        return {
          cpu: () => children.reduce((a, c) => a + cpuSecondsOf(c.pid), 0),
          async stop() {
            let n = 0;
            for (const c of children) n += await c.processed();
            return n;
          },
        };
      },
    );
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Part 2: the crawl with 1, 2, 4… worker processes

interface CrawlRow {
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

interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  stderr(): string;
  stop(): Promise<void>;
}

function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, tsxArgs(CLI, 'worker'), {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    pid: child.pid!,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
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

async function crawlRow(
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
      for (const w of procs) peakRss = Math.max(peakRss, rssKbOf(w.pid));
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

// ---------------------------------------------------------------------------------------------
// The report

interface Report {
  command: string;
  date: string;
  machine: MachineFacts;
  postgres: string;
  redis: string;
  bullmq: string;
  revision: string;
  loadAfter: string;
  jobs: number;
  projects: number;
  filesPerProject: number;
  seed: number;
  concurrency: number;
  /** Runs of every row; the tables show the least contended run of each. */
  repeat?: number;
  /** Every run of every row. */
  queue: QueueRow[];
  crawl: CrawlRow[];
}

function positive(name: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${text}" is not a positive integer`);
  return n;
}

function parseWorkers(text: string): number[] {
  const list = text.split(',').map((s) => positive('workers', s.trim()));
  return [...new Set(list)].sort((a, b) => a - b);
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      jobs: { type: 'string', default: '20000' },
      projects: { type: 'string', default: '2000' },
      workers: { type: 'string', default: '1,2,4' },
      repeat: { type: 'string', default: '2' },
      'files-per-project': { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '16' },
      postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      json: { type: 'string' },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values['from-json']) {
    return publish(JSON.parse(await readFile(values['from-json'], 'utf8')) as Report, values);
  }
  const jobs = positive('jobs', values.jobs);
  const projects = positive('projects', values.projects);
  const workerCounts = parseWorkers(values.workers);
  const filesPerProject = positive('files-per-project', values['files-per-project']);
  const seed = Number(values.seed);
  const concurrency = positive('concurrency', values.concurrency);
  const repeat = positive('repeat', values.repeat);
  const command = ['pnpm bench queue', ...args].join(' ');
  const date = new Date();
  const machine = machineFacts();
  const postgres = await withAdmin(values.postgres, async (c) => {
    const version = String((await c.query('SHOW server_version')).rows[0].server_version).split(' ')[0];
    const settings: string[] = [];
    for (const name of ['shared_buffers', 'synchronous_commit', 'fsync', 'max_connections']) {
      settings.push(`${name}=${(await c.query(`SHOW ${name}`)).rows[0][name]}`);
    }
    return `PostgreSQL ${version} (local; ${settings.join(', ')})`;
  });
  const redisInfo = await (async () => {
    const redis = new Redis(values.redis, { maxRetriesPerRequest: null });
    try {
      const info = await redis.info('server');
      const v = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
      const local = (await redisPid(redis)) !== undefined;
      return `Redis ${v} (${local ? 'local' : 'not on this machine: its CPU is not measured'})`;
    } finally {
      await redis.quit();
    }
  })();
  const bullmq = (
    JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', 'bullmq', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

  const queue: QueueRow[] = [];
  for (let run = 1; run <= repeat; run++) {
    progress(`part 1, run ${run} of ${repeat}: the queue alone, ${int(jobs)} jobs per row`);
    for (const row of await queueRows(values.redis, jobs)) queue.push({ ...row, run });
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-queue-'));
  const crawl: CrawlRow[] = [];
  try {
    for (let run = 1; run <= repeat; run++) {
      progress(
        `part 2, run ${run} of ${repeat}: crawl of ${int(projects * filesPerProject)} files with ${workerCounts.join(', ')} workers`,
      );
      // Every other run in the reverse order, so that a drift of the machine's load favours no row.
      const order = [0, ...workerCounts];
      if (run % 2 === 0) order.reverse();
      for (const w of order) {
        const row = await crawlRow(w, {
          projects,
          filesPerProject,
          seed,
          concurrency,
          adminUrl: values.postgres,
          redisUrl: values.redis,
          tmp,
        });
        crawl.push({ ...row, run });
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const report: Report = {
    command,
    date: date.toISOString(),
    machine,
    postgres,
    redis: redisInfo,
    bullmq,
    revision: gitRevision(),
    loadAfter: loadAverage(),
    jobs,
    projects,
    filesPerProject,
    seed,
    concurrency,
    repeat,
    queue,
    crawl,
  };
  const dumpFile = path.resolve(
    values.json ?? path.join(os.tmpdir(), `pypi-graph-bench-queue-${Date.now()}.json`),
  );
  await writeFile(dumpFile, `${JSON.stringify(report)}\n`);
  progress(`measurements in ${dumpFile}`);
  return publish(report, values);
}

/** CPU seconds of everything the row runs (crawl process, workers, server, PostgreSQL, Redis). */
function oursCpuS(r: CrawlRow): number {
  return (
    r.crawl.userS +
    r.crawl.sysS +
    r.workersCpuS +
    r.serverCpuS +
    r.postgresCpuS +
    (Number.isFinite(r.redisCpuS) ? r.redisCpuS : 0)
  );
}

const othersCpuS = (r: CrawlRow) => r.crawl.machineBusyS - oursCpuS(r);
/** More than half a CPU busy with other work during the row: its seconds are inflated. */
const contended = (busyOthers: number, seconds: number) => busyOthers / seconds > 0.5;
const queueOthers = (r: QueueRow) =>
  r.machineBusyS - r.nodeCpuS - (Number.isFinite(r.redisCpuS) ? r.redisCpuS : 0);

/** "1.1–1.4 s wall, 1.6–1.9 CPU s" over the crawl rows. */
function startupRange(report: Report): string {
  const range = (xs: number[]) => {
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    return fixed(lo) === fixed(hi) ? fixed(lo) : `${fixed(lo)}–${fixed(hi)}`;
  };
  const rows = report.crawl.filter((r) => r.startup);
  if (rows.length === 0) return 'not measured';
  return (
    `${range(rows.map((r) => r.startup.wallS))} s wall, ` + `${range(rows.map((r) => r.startup.cpuS))} CPU s`
  );
}

function pct(n: number): string {
  return `${fixed(n * 100, 0)}%`;
}

function queueTable(
  report: Report,
  all: QueueRow[],
): { headers: string[]; rows: string[][]; align: Array<'l' | 'r'> } {
  const repeat = report.repeat ?? 1;
  const headers = [
    'row',
    'jobs',
    'seconds',
    'jobs/s',
    ...(repeat > 1 ? ['jobs/s, every run'] : []),
    'vs baseline',
    'node CPU s',
    'Redis CPU s',
    'Redis CPU ms per 1,000 jobs',
    "others' CPU s",
    'load (1 min) at start',
  ];
  const base = {
    add: report.queue.find((r) => r.kind === 'add' && r.baseline),
    process: report.queue.find(
      (r) => r.kind === 'process' && r.baseline && r.label.includes('concurrency 16'),
    ),
  };
  const rows = report.queue.map((r) => {
    const b = base[r.kind];
    return [
      `${r.kind === 'add' ? 'add' : 'process'}: ${r.label}`,
      int(r.jobs),
      fixed(r.seconds, 2) + (contended(queueOthers(r), r.seconds) ? ' †' : ''),
      int(r.jobs / r.seconds),
      ...(repeat > 1
        ? [
            all
              .filter((x) => x.label === r.label)
              .map((x) => int(x.jobs / x.seconds) + (contended(queueOthers(x), x.seconds) ? ' †' : ''))
              .join(' / '),
          ]
        : []),
      b && b !== r ? `${fixed(r.jobs / r.seconds / (b.jobs / b.seconds), 2)}×` : '',
      fixed(r.nodeCpuS),
      fixed(r.redisCpuS),
      fixed((r.redisCpuS / r.jobs) * 1e6, 0),
      fixed(Math.max(0, queueOthers(r))),
      fixed(r.load1, 2),
    ];
  });
  return { headers, rows, align: ['l', ...headers.slice(1).map(() => 'r' as const)] };
}

const crawlRate = (r: CrawlRow) => r.files / r.crawl.wallS;
const spanRate = (r: CrawlRow) => r.files / r.spanS;

function crawlTables(report: Report, all: CrawlRow[]) {
  const repeat = report.repeat ?? 1;
  const one = report.crawl.find((r) => r.workers === 1);
  const cpus = report.machine.cpus;
  const speed = (r: CrawlRow, f: (x: CrawlRow) => number) =>
    r.workers === 0 || !one ? '' : `${fixed(f(r) / f(one), 2)}×`;
  const throughput = {
    headers: [
      'row',
      'files',
      'seconds',
      'files/s',
      ...(repeat > 1 ? ['files/s, every run'] : []),
      'projects/s',
      'speed-up vs 1 worker',
      'first → last file stored, s',
      'files/s in that span',
      'speed-up (span)',
      'load (1 min) at start',
    ],
    rows: report.crawl.map((r) => [
      r.label,
      int(r.files),
      fixed(r.crawl.wallS) + (contended(othersCpuS(r), r.crawl.wallS) ? ' †' : ''),
      int(crawlRate(r)),
      ...(repeat > 1
        ? [
            all
              .filter((x) => x.workers === r.workers)
              .map((x) => int(crawlRate(x)) + (contended(othersCpuS(x), x.crawl.wallS) ? ' †' : ''))
              .join(' / '),
          ]
        : []),
      int(r.projects / r.crawl.wallS),
      speed(r, crawlRate),
      fixed(r.spanS),
      int(spanRate(r)),
      speed(r, spanRate),
      fixed(r.load1, 2),
    ]),
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'].slice(0, repeat > 1 ? 11 : 10) as Array<
      'l' | 'r'
    >,
  };
  const cpu = {
    headers: [
      'row',
      'crawl process',
      'workers',
      'PyPI server',
      'PostgreSQL',
      'Redis',
      'all of these',
      'per 1,000 files',
      "others' CPU s",
      `machine busy (of ${cpus} CPUs)`,
      "workers' peak RSS MB (largest)",
    ],
    rows: report.crawl.map((r) => [
      r.label,
      fixed(r.crawl.userS + r.crawl.sysS),
      r.workers === 0 ? '–' : fixed(r.workersCpuS),
      fixed(r.serverCpuS),
      fixed(r.postgresCpuS),
      r.workers === 0 ? '–' : fixed(r.redisCpuS),
      fixed(oursCpuS(r)),
      fixed((oursCpuS(r) / r.files) * 1000, 2),
      fixed(Math.max(0, othersCpuS(r))),
      pct(r.crawl.machineBusyS / (r.crawl.wallS * cpus)),
      r.workers === 0 ? '–' : mb(r.workersPeakRssKb),
    ]),
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'] as Array<'l' | 'r'>,
  };
  return { throughput, cpu };
}

/** Queue capacity against what the crawl asked of it. */
function headroom(report: Report): { text: string; rows: string[][]; headers: string[] } {
  const bullmqRows = report.crawl.filter((r) => r.workers > 0);
  const embedded = report.crawl.find((r) => r.workers === 0);
  const one = report.crawl.find((r) => r.workers === 1);
  const best = bullmqRows.reduce((a, b) => (crawlRate(b) > crawlRate(a) ? b : a), bullmqRows[0]!);
  // Project jobs per second the best crawl processed (plus one discover job per crawl).
  const need = best.projects / best.crawl.wallS;
  const needSpan = best.projects / best.spanS;
  const find = (re: RegExp) => report.queue.find((r) => re.test(r.label));
  const enqueue = find(/BullmqRunner\.enqueue/);
  const proc16 = find(/BullmqRunner` worker, no-op, concurrency 16, 1 process/);
  const proc2 = find(/2 processes/);
  const headers = [
    'queue capacity (part 1)',
    'jobs/s',
    `÷ the crawl's project jobs/s (${int(need)}, ${best.workers} worker${best.workers > 1 ? 's' : ''}, end to end)`,
    `÷ the crawl's project jobs/s in its busy span (${int(needSpan)})`,
  ];
  const rows: string[][] = [];
  for (const r of [enqueue, proc16, proc2]) {
    if (!r) continue;
    const rate = r.jobs / r.seconds;
    rows.push([r.label, int(rate), `${fixed(rate / need, 1)}×`, `${fixed(rate / needSpan, 1)}×`]);
  }
  const redisShare = best.redisCpuS / Math.max(oursCpuS(best), 1e-9);
  const text =
    `The fastest crawl (${best.workers} worker${best.workers > 1 ? 's' : ''}) processed ${int(need)} project jobs/s end to end ` +
    `(${int(needSpan)}/s between its first and last file stored), each job also enqueued once by discover; ` +
    `Redis spent ${fixed(best.redisCpuS, 1)} CPU s on it, ${pct(redisShare)} of the CPU the crawl used ` +
    `(${fixed((best.redisCpuS / best.projects) * 1e6, 0)} ms per 1,000 project jobs).` +
    (embedded && one
      ? ` Against the embedded runner (same work in one process, no Redis): 1 worker through BullMQ reaches ` +
        `${fixed(crawlRate(one) / crawlRate(embedded), 2)}× its files/s (${fixed(spanRate(one) / spanRate(embedded), 2)}× in the span) ` +
        `for ${fixed((oursCpuS(one) / one.files) * 1000, 2)} CPU s per 1,000 files in all processes, against ` +
        `${fixed((oursCpuS(embedded) / embedded.files) * 1000, 2)}.`
      : '');
  return { text, rows, headers };
}

/** Where scaling stops and why, from the measurements. */
function scalingText(report: Report): string {
  const cpus = report.machine.cpus;
  const rows = report.crawl.filter((r) => r.workers > 0).sort((a, b) => a.workers - b.workers);
  if (rows.length === 0) return '';
  const busy = (r: CrawlRow) => r.crawl.machineBusyS / (r.crawl.wallS * cpus);
  const others = (r: CrawlRow) => Math.max(0, othersCpuS(r)) / r.crawl.wallS;
  const perK = (r: CrawlRow, v: number) => fixed((v / r.files) * 1000, 2);
  const w = (n: number) => `${n} worker${n > 1 ? 's' : ''}`;
  const parts: string[] = [];
  parts.push(
    `Files/s end to end: ${rows.map((r) => `${int(crawlRate(r))} (${w(r.workers)})`).join(', ')}; ` +
      `in the span between first and last file stored: ${rows.map((r) => `${int(spanRate(r))}`).join(', ')}.`,
  );
  for (const r of rows) {
    parts.push(
      `With ${w(r.workers)} the machine was ${pct(busy(r))} busy: our processes used ${fixed(oursCpuS(r) / r.crawl.wallS, 2)} ` +
        `of the ${cpus} CPUs (per 1,000 files: workers ${perK(r, r.workersCpuS)} CPU s, PostgreSQL ${perK(r, r.postgresCpuS)}, ` +
        `PyPI server ${perK(r, r.serverCpuS)}, Redis ${perK(r, r.redisCpuS)}, crawl process ${perK(r, r.crawl.userS + r.crawl.sysS)}; ` +
        `${perK(r, oursCpuS(r))} in all), other work ${fixed(others(r), 2)}.`,
    );
  }
  const best = rows.reduce((a, b) => (crawlRate(b) > crawlRate(a) ? b : a));
  // The fewest workers within 10% of the best files/s measured: more add nothing measurable.
  const stop = rows.find((r) => crawlRate(r) >= 0.9 * crawlRate(best))!;
  const bigger = rows.filter((r) => r.workers > stop.workers);
  if (bigger.length === 0) {
    parts.push(
      `Files/s still rose by more than 10% up to ${w(stop.workers)}, the most measured: scaling had not stopped there.`,
    );
  } else {
    parts.push(
      `Scaling stops at ${w(stop.workers)}: ${stop.workers === 1 ? 'it reaches' : 'they reach'} ${pct(crawlRate(stop) / crawlRate(best))} ` +
        `of the best files/s measured (${int(crawlRate(best))}, ${w(best.workers)}); ` +
        bigger.map((r) => `${w(r.workers)} ${fixed(crawlRate(r) / crawlRate(stop), 2)}×`).join(', ') +
        ` the files/s of ${w(stop.workers)}.`,
    );
  }
  const cheapest = rows.reduce((a, b) => (oursCpuS(b) / b.files < oursCpuS(a) / a.files ? b : a));
  const perFile = oursCpuS(cheapest) / cheapest.files;
  const ceiling = cpus / perFile;
  const share = (v: number) => pct(v / oursCpuS(cheapest));
  if (busy(stop) >= 0.8) {
    const rising = rows.length > 1 && oursCpuS(rows.at(-1)!) / rows.at(-1)!.files > perFile * 1.05;
    parts.push(
      `${bigger.length === 0 ? 'What limits it' : 'Why'}: the CPUs are ${busy(stop) >= 0.95 ? 'full' : 'nearly full'} at ${w(stop.workers)} (${pct(busy(stop))} busy), and the worker processes are not ` +
        `the only ones that need them: of the ${fixed(perFile * 1000, 2)} CPU s per 1,000 files the whole crawl costs ` +
        `(${w(cheapest.workers)}, the cheapest row), the workers take ${share(cheapest.workersCpuS)}, PostgreSQL ` +
        `${share(cheapest.postgresCpuS)}, the PyPI server ${share(cheapest.serverCpuS)}, Redis ${share(cheapest.redisCpuS)} and ` +
        `the crawl process ${share(cheapest.crawl.userS + cheapest.crawl.sysS)}. Another worker can only take CPU time from ` +
        'PostgreSQL and the server it waits on' +
        (rising
          ? `, and more processes cost more CPU per file: ${rows.map((r) => perK(r, oursCpuS(r))).join(' → ')} CPU s per ` +
            `1,000 files in all, of which the workers ${rows.map((r) => perK(r, r.workersCpuS)).join(' → ')} and PostgreSQL ` +
            `${rows.map((r) => perK(r, r.postgresCpuS)).join(' → ')} (likely causes, not measured apart: each worker ` +
            'process warms up its own JIT on its share of the jobs and opens its own pool of PostgreSQL connections, and ' +
            `W × ${report.concurrency} jobs in flight contend in PostgreSQL).`
          : '.') +
        ` On ${cpus} CPUs with nothing else running, that cost caps the crawl at about ${int(ceiling)} files/s; ` +
        `the best row reached ${int(crawlRate(best))} end to end and ${int(spanRate(best))} in its span ` +
        `(${pct(crawlRate(best) / ceiling)} and ${pct(spanRate(best) / ceiling)} of that). More workers pay off only ` +
        'with more CPUs, or with PostgreSQL and the index on other machines (for pypi.org, the index is remote and its ' +
        'rate limit, HTTP_RPS_PER_HOST, decides long before this).',
    );
  } else {
    parts.push(
      `The machine was only ${pct(busy(stop))} busy at ${w(stop.workers)}: the limit there is not CPU but waiting ` +
        `(round trips to the server, PostgreSQL and Redis per job, with ${report.concurrency} jobs in flight per worker).`,
    );
  }
  const shared = rows.filter((r) => contended(othersCpuS(r), r.crawl.wallS));
  if (shared.length > 0) {
    parts.push(
      `Caution: ${shared.map((r) => w(r.workers)).join(', ')} shared the CPUs with other work on the machine ` +
        `(${shared.map((r) => fixed(others(r), 2)).join(', ')} CPUs), which lowers their files/s: ratios between rows ` +
        'are less certain than the CPU seconds per file.',
    );
  }
  return parts.join(' ');
}

/** Other work's CPUs per second of the row: what decides which run of a row is shown. */
const queueContention = (r: QueueRow) => Math.max(0, queueOthers(r)) / r.seconds;
const crawlContention = (r: CrawlRow) => Math.max(0, othersCpuS(r)) / r.crawl.wallS;

/** Of the runs of each row (same key), the one that shared the machine least with other work. */
function leastContended<T>(rows: T[], key: (r: T) => string, contention: (r: T) => number): T[] {
  const best = new Map<string, T>();
  for (const r of rows) {
    const k = key(r);
    const b = best.get(k);
    if (!b || contention(r) < contention(b)) best.set(k, r);
  }
  return [...best.values()];
}

/** The report as the tables show it: one run per row, with every run's rate beside it. */
function chosenView(report: Report): { view: Report; allQueue: Report['queue']; allCrawl: Report['crawl'] } {
  const queue = leastContended(report.queue, (r) => r.label, queueContention);
  const crawl = leastContended(report.crawl, (r) => String(r.workers), crawlContention).sort(
    (a, b) => a.workers - b.workers,
  );
  return { view: { ...report, queue, crawl }, allQueue: report.queue, allCrawl: report.crawl };
}

async function publish(full: Report, values: { doc: string; 'no-doc': boolean }): Promise<number> {
  const { view: report, allQueue, allCrawl } = chosenView(full);
  const repeat = full.repeat ?? 1;
  const { machine } = report;
  const date = new Date(report.date);
  const q = queueTable(report, allQueue);
  const c = crawlTables(report, allCrawl);
  const h = headroom(report);
  const scaling = scalingText(report);
  const files = report.projects * report.filesPerProject;
  const anyContended =
    allQueue.some((r) => contended(queueOthers(r), r.seconds)) ||
    allCrawl.some((r) => contended(othersCpuS(r), r.crawl.wallS));

  const out: string[] = [`## ${HEADING}`, ''];
  out.push(
    `\`${report.command}\` — ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GiB RAM, ${machine.kernel}, ` +
      `Node ${machine.node}, ${report.redis}, BullMQ ${report.bullmq}, ${report.postgres}; code at ${report.revision}; ` +
      `load average ${machine.loadAverage} before, ${report.loadAfter} after (other work on the machine counts` +
      `${anyContended ? '; † marks rows and runs during which it kept more than half a CPU busy: their seconds are inflated' : ''}).` +
      (repeat > 1
        ? ` Every row ran ${repeat} times (the crawl's rows in ascending order of W, then descending, and so on); the ` +
          'tables show for each row the run during which other work on the machine used the least CPU, with the rate of ' +
          'every run beside it.'
        : '') +
      ` Before each row the bench waits until the whole machine has used less than ${QUIET_CPUS} CPUs for ` +
      `${QUIET_WINDOW_MS / 1000} s (at most ${QUIET_MAX_WAIT_MS.queue / 1000} s for a queue row, ` +
      `${QUIET_MAX_WAIT_MS.crawl / 1000} s for a crawl row; then it runs anyway).`,
    '',
    '### The queue alone',
    '',
    `Each row uses a fresh Redis key prefix (deleted afterwards) and ${int(report.jobs)} jobs shaped as the crawl's: queue ` +
      '`project`, its payload and job id, priority 10 (backfill: BullMQ keeps them in its prioritized set), ' +
      '`removeOnComplete`. Adding rows: jobs added from this process, each call awaited before the next (as discover ' +
      'enqueues), except `addBulk`. Processing rows: the queue is filled and paused, the workers start and connect, then ' +
      'it is resumed; seconds run from the resume until no job is waiting or active (polled every 20 ms); the processor ' +
      `only counts the job. Before the rows, ${int(WARM_UP_JOBS)} jobs run untimed through a bare \`Worker\` and a ` +
      '`BullmqRunner` in this process and in each worker process of the last row, so that every row runs warm code. ' +
      "`BullmqRunner` rows go through pypi-graph's own path (packages/pipeline): payload check, " +
      '`getJob` + `add` on enqueue; payload check, metrics and a child logger per job when processing. node CPU s is ' +
      "this process's (or the worker processes'), Redis CPU s the redis-server process's (/proc), others' CPU s the " +
      'rest of the machine meanwhile (/proc/stat). "vs baseline" compares with raw BullMQ (`addBulk`; a bare `Worker` ' +
      'at concurrency 16).',
    '',
    markdownTable(q.headers, q.rows, q.align),
    '',
    '### Crawl with 1, 2, 4 worker processes',
    '',
    `The synthetic index (\`pnpm pypi-server --synthetic projects=${report.projects},files-per-project=${report.filesPerProject},seed=${report.seed}\`: ` +
      `${int(files)} files, its own process, started afresh for each row) is crawled into a new PostgreSQL database per row ` +
      '(created, then `migrate` once), with a new Redis key prefix per row. W `pnpm worker` processes are started and ' +
      'waited for (connected to the `discover` and `project` queues), then `crawl --all --no-work` enqueues discover and ' +
      'waits for the queues to drain; the baseline row is `crawl --all` with the embedded runner (no `REDIS_URL`, one ' +
      `process). Every process: \`WHEEL_METADATA=off SDIST_EXTRACTION=off HTTP_RPS_PER_HOST=0 XMLRPC_RPS=1000 ` +
      `PROJECT_CONCURRENCY=${report.concurrency} LOG_LEVEL=warn CI=1\` — the file index alone; each worker runs up to ` +
      `${report.concurrency} project jobs at once, so W workers have W × ${report.concurrency} in flight. Seconds are the ` +
      "wall time of the `crawl` process from start to exit (its start-up and the drain's last idle polls included; a " +
      `command's start-up alone, \`migrate\` with nothing to do, measured in each row: ${startupRange(report)}); ` +
      '"first → last file stored" is the span of the files\' `first_seen_at` in the database (the ' +
      'steady part, without start-up). Every row is checked: the crawl reports no failure and its files added, and the ' +
      `database holds, exactly the index's ${int(files)} files (the bench fails otherwise).`,
    '',
    markdownTable(c.throughput.headers, c.throughput.rows, c.throughput.align),
    '',
    "CPU seconds spent while the `crawl` process ran, per process (/proc: user + system): the workers', the PyPI " +
      "server's, PostgreSQL's (the backends of the row's database, sampled every 100 ms, plus the server's own " +
      "processes: WAL writer, checkpointer, background writer), Redis's (the redis-server process, which also serves " +
      "whatever else uses this Redis); others' CPU s is the rest of the machine (/proc/stat); machine busy = all CPU " +
      'time ÷ (seconds × CPUs). "load (1 min) at start" in both parts is the kernel\'s 1-minute load average, which ' +
      "lags: it still counts work that ended shortly before, the previous row's included.",
    '',
    markdownTable(c.cpu.headers, c.cpu.rows, c.cpu.align),
    '',
    '### Headroom: queue capacity against what the crawl needs',
    '',
    markdownTable(h.headers, h.rows, ['l', 'r', 'r', 'r']),
    '',
    h.text,
    '',
    '### Where scaling stops',
    '',
    scaling,
    '',
  );

  const text = [
    'The queue alone',
    textTable(q.headers, q.rows, q.align),
    '',
    'Crawl',
    textTable(c.throughput.headers, c.throughput.rows, c.throughput.align),
    '',
    textTable(c.cpu.headers, c.cpu.rows, c.cpu.align),
    '',
    textTable(h.headers, h.rows, ['l', 'r', 'r', 'r']),
    '',
    h.text,
    '',
    scaling,
    '',
  ];
  process.stdout.write(`${text.join('\n')}\n`);
  if (!values['no-doc']) {
    const doc = path.resolve(REPO_ROOT, values.doc);
    await writeDocSection(doc, HEADING, out.join('\n'));
    progress(`wrote "## ${HEADING}" in ${path.relative(REPO_ROOT, doc)}`);
  }
  return 0;
}

// Child mode (part 1's worker processes).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  childWorker(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
