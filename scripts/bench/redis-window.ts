import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  countPendingProjects,
  type Database,
  getCrawlState,
  openDatabase,
  storeCounts,
} from '@pypi-graph/db';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type CliProcess,
  cpuSecondsOf,
  crawlPlace,
  fixed,
  gitRevision,
  int,
  keysWithPrefix,
  machineFacts,
  markdownTable,
  progress,
  REPO_ROOT,
  spawnCli,
  startServer,
  textTable,
  usedMemoryKb,
  vmKb,
  writeDocSection,
} from './common';

const HEADING = 'Redis memory during a backfill: the window (`pnpm bench redis-window`)';
const FILE_QUEUES = ['wheel-metadata', 'sdist-extract'] as const;

const USAGE = `usage: pnpm bench redis-window [--scales 0.001,0.003,0.01] [--window 2000] [--for SECONDS]
                               [--postgres URL] [--redis URL] [--doc docs/benchmarks.md] [--no-doc]

  --scales     sizes of the PyPI-shaped synthetic index (pypi,scale=F; 0.01 ≈ 100,000 files)
  --window     QUEUE_WINDOW of the windowed rows (the baseline rows use 0: no window)
  --for        end each row's phase 1 after this many seconds, even if the backfill is not done
               (for PyPI's size, scale=1: a backfill of 736,000 projects takes hours); the row
               then stops there, and its counts are what the backfill had reached
  --postgres   administrative PostgreSQL URL: a fresh database per row, dropped afterwards
  --redis      Redis URL: a fresh key prefix per row, deleted afterwards
  --doc        where the "## ${HEADING}" section is written
  --no-doc     print the results only`;

interface Row {
  scale: number;
  window: number;
  projects: number;
  files: number;
  /** Seconds of phase 1 (discover and every project job), or until --for cut it short. */
  phase1S: number;
  /** Phase 1 was cut short by --for. */
  cut: boolean;
  /** Seconds until the crawl ended (phase 2 included). */
  totalS: number;
  /** Peak INFO used_memory during the row, minus its value at the start (Redis is shared). */
  redisPeakDeltaKb: number;
  /** MEMORY USAGE of this row's own keys when phase 1 ended (the file backlog at its largest). */
  ownKeysKb: number;
  /** Jobs waiting in the file queues when phase 1 ended. */
  fileJobsWaiting: number;
  /** Peak waiting jobs of the project queue during phase 1. */
  projectJobsPeak: number;
  crawlRssKb: number;
  workerRssKb: number;
  crawlCpuS: number;
  workerCpuS: number;
}

async function ownKeysKb(redis: Redis, prefix: string): Promise<number> {
  let bytes = 0;
  for (const key of await keysWithPrefix(redis, prefix)) bytes += (await redis.memory('USAGE', key)) ?? 0;
  return bytes / 1024;
}

async function row(
  scale: number,
  window: number,
  pypiUrl: string,
  adminUrl: string,
  redisUrl: string,
  forS: number | undefined,
): Promise<Row> {
  const place = await crawlPlace('rw', adminUrl, redisUrl, pypiUrl, {
    QUEUE_WINDOW: String(window),
    WHEEL_METADATA: 'on',
    SDIST_EXTRACTION: 'static',
  });
  const { prefix, env, dbUrl } = place;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  let database: Database | undefined;
  const projectQueue = new Queue('project', { connection: redis, prefix });
  const fileQueues = FILE_QUEUES.map((q) => new Queue(q, { connection: redis, prefix }));
  const ackers: Worker[] = [];
  // BullMQ leaves a connection it was given open: these are closed here (they kept the bench alive).
  const connections: Redis[] = [];
  const procs: CliProcess[] = [];
  try {
    const migrate = spawnCli(['migrate'], env);
    if ((await migrate.exited) !== 0) throw new Error(`migrate failed\n${migrate.stderr()}`);
    database = await openDatabase({ databaseUrl: dbUrl });
    const db = database.db;
    const start = await usedMemoryKb(redis);
    let peak = start;
    let crawlRss = 0;
    let workerRss = 0;
    let projectPeak = 0;
    let crawlCpuS = 0;
    let workerCpuS = 0;
    const t0 = performance.now();
    const crawl = spawnCli(['crawl', '--all', '--no-work'], env);
    const worker = spawnCli(['worker', '--queues', 'discover,project'], env);
    procs.push(crawl, worker);
    const sampler = setInterval(() => {
      crawlRss = Math.max(crawlRss, vmKb(crawl.pid));
      workerRss = Math.max(workerRss, vmKb(worker.pid));
      // Read while they run (a process that has exited has no /proc entry).
      crawlCpuS = Math.max(crawlCpuS, cpuSecondsOf(crawl.pid) || 0);
      workerCpuS = Math.max(workerCpuS, cpuSecondsOf(worker.pid) || 0);
      usedMemoryKb(redis).then(
        (kb) => {
          peak = Math.max(peak, kb);
        },
        () => {},
      );
    }, 100);
    // Phase 1: until discover has run and no project is pending or queued (or --for is up).
    let phase1S = 0;
    let cut = false;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const c = await projectQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      projectPeak = Math.max(projectPeak, (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0));
      const discovered = (await getCrawlState(db, 'changelog')) !== undefined;
      const pending = await countPendingProjects(db);
      const busy = (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) + (c.delayed ?? 0);
      if (discovered && pending === 0 && busy === 0) {
        phase1S = (performance.now() - t0) / 1000;
        break;
      }
      if (forS !== undefined && performance.now() - t0 >= forS * 1000) {
        phase1S = (performance.now() - t0) / 1000;
        cut = true;
        break;
      }
      for (const p of procs) {
        if (p.child.exitCode !== null) throw new Error(`a process exited early\n${p.stderr()}`);
      }
    }
    let fileJobsWaiting = 0;
    for (const q of fileQueues) {
      const c = await q.getJobCounts('waiting', 'prioritized', 'delayed');
      fileJobsWaiting += (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
    }
    const ownKb = await ownKeysKb(redis, prefix);
    // One backfill: nothing is removed yet, so the current projects and files are all of them.
    const counts = await storeCounts(db);
    progress(
      `  scale ${scale}, window ${window}: phase 1 ${cut ? 'cut after' : 'in'} ${fixed(phase1S)} s, ${fileJobsWaiting} file jobs waiting`,
    );
    // Phase 2 (a backfill cut by --for ends at phase 1, at its largest backlog so far): the file
    // jobs acked at once (no-op), so that the crawl (its feeder) ends.
    let totalS = phase1S;
    if (!cut) {
      for (const q of FILE_QUEUES) {
        const connection = redis.duplicate();
        connections.push(connection);
        ackers.push(
          new Worker(q, async () => {}, {
            connection,
            prefix,
            concurrency: 200,
          }),
        );
      }
      const code = await crawl.exited;
      if (code !== 0) throw new Error(`crawl exited with ${code}\n${crawl.stderr()}`);
      totalS = (performance.now() - t0) / 1000;
    }
    clearInterval(sampler);
    return {
      scale,
      window,
      projects: counts.projects,
      files: counts.files,
      phase1S,
      cut,
      totalS,
      redisPeakDeltaKb: peak - start,
      ownKeysKb: ownKb,
      fileJobsWaiting,
      projectJobsPeak: projectPeak,
      crawlRssKb: crawlRss,
      workerRssKb: workerRss,
      crawlCpuS,
      workerCpuS,
    };
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await Promise.all(ackers.map((a) => a.close()));
    for (const c of connections) c.disconnect();
    await Promise.all([projectQueue, ...fileQueues].map((q) => q.close()));
    redis.disconnect();
    await database?.close().catch(() => {});
    await place.remove();
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      scales: { type: 'string', default: '0.001,0.003,0.01' },
      window: { type: 'string', default: '2000' },
      for: { type: 'string' },
      postgres: {
        type: 'string',
        default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      },
      redis: { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scales = values.scales.split(',').map(Number);
  const window = Number(values.window);
  const forS = values.for === undefined ? undefined : Number(values.for);
  if (scales.some((s) => !(s > 0)) || !(window > 0) || (forS !== undefined && !(forS > 0))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const machine = machineFacts();
  const rows: Row[] = [];
  for (const scale of scales) {
    progress(`pypi-server --synthetic pypi,scale=${scale}`);
    const server = await startServer(`pypi,scale=${scale}`);
    try {
      // Baseline first, then the window, on the same server.
      for (const w of [0, window])
        rows.push(await row(scale, w, server.url, values.postgres, values.redis, forS));
    } finally {
      await server.close();
    }
  }
  const headers = [
    'index',
    'projects',
    'files',
    'QUEUE_WINDOW',
    'phase 1 s',
    'total s',
    'project jobs waiting, peak',
    'file jobs waiting after phase 1',
    "the row's Redis keys after phase 1, MB",
    'Redis used_memory peak − start, MB',
    'crawl RSS peak, MB',
    'worker RSS peak, MB',
    'crawl CPU s',
    'worker CPU s',
  ];
  const cells = rows.map((r) => [
    `pypi,scale=${r.scale}`,
    int(r.projects),
    int(r.files),
    r.window === 0 ? '0 (baseline: no window)' : int(r.window),
    r.cut ? `${fixed(r.phase1S)} (cut by --for)` : fixed(r.phase1S),
    r.cut ? '—' : fixed(r.totalS),
    int(r.projectJobsPeak),
    int(r.fileJobsWaiting),
    fixed(r.ownKeysKb / 1024),
    fixed(r.redisPeakDeltaKb / 1024),
    fixed(r.crawlRssKb / 1024, 0),
    fixed(r.workerRssKb / 1024, 0),
    fixed(r.crawlCpuS),
    fixed(r.workerCpuS),
  ]);
  process.stdout.write(`${textTable(headers, cells)}\n`);
  if (values['no-doc']) return 0;
  const section = [
    `## ${HEADING}`,
    '',
    `Command: \`pnpm bench redis-window --scales ${values.scales} --window ${window}${forS === undefined ? '' : ` --for ${forS}`}\` (revision ${gitRevision()}).`,
    `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGb} GiB, ${machine.kernel}, Node ${machine.node}; load average at the end ${machine.loadAverage}. Redis and PostgreSQL are shared with other work on the machine.`,
    '',
    'Each row: a fresh database and Redis key prefix; a crawl (`crawl --all --no-work`: the feeder, watching) and one worker process (`worker --queues discover,project`) against the local PyPI server\'s PyPI-shaped preset (`--synthetic pypi,scale=…`). Phase 1 is the backfill\'s enqueue side for real: discover lists the index, every project job fetches its project over HTTP and stores its files in PostgreSQL, and the wheel and sdist queues are not worked (as when those stages lag behind, the worst case for Redis). Phase 2: no-op workers in the benchmark process ack the file jobs at once, so that the crawl ends (with the window, its feeder walks the file backlog once and finishes). The baseline is the same crawl with `QUEUE_WINDOW=0` (every job enqueued at once: the behaviour before the window), measured in the same run on the same server. "The row\'s Redis keys" is the sum of `MEMORY USAGE` over the row\'s own keys when phase 1 ended (exact, whatever else uses the Redis); "used_memory peak − start" samples `INFO memory` every 100 ms (includes other users of the shared Redis). RSS: `VmRSS` of the node processes, sampled every 100 ms. Wheel METADATA and sdist extraction are not measured here (their jobs are acked unprocessed); `pnpm bench queue` and `pnpm bench index` measure them.',
    '',
    markdownTable(headers, cells),
    '',
  ].join('\n');
  await writeDocSection(path.resolve(REPO_ROOT, values.doc), HEADING, section);
  progress(`written to ${values.doc}`);
  return 0;
}
