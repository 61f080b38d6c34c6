// pnpm bench queue: (1) the queue alone — jobs/s through BullMQ on the local Redis with a no-op
// processor: adding (addBulk, add one at a time, and BullmqRunner.enqueue as the crawl does) and
// processing (one process at concurrency 1 and 16, two processes); (2) the crawl of the synthetic
// index by 1, 2, 4… `pnpm worker` processes fed by `crawl --all --no-work`, with the CPU seconds
// of every process involved (workers, PyPI server, PostgreSQL's backends, Redis), so that where
// scaling stops shows, and why. Baselines in the same run: raw BullMQ (Queue.addBulk, a bare
// Worker) for the queue; the embedded runner (no Redis, one process) for the crawl.
// The parts live in scripts/bench/queue/: the queue rows (queue-rows.ts, with the no-op worker
// process child-worker.ts), the crawl rows (crawl-rows.ts), CPU sampling (cpu.ts) and the
// report (report.ts). This file reads the options and runs them in order.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { gitRevision, int, loadAverage, machineFacts, postgresSettings, progress, REPO_ROOT } from './common';
import { redisPid } from './queue/cpu';
import { type CrawlRow, crawlRow } from './queue/crawl-rows';
import { type QueueRow, queueRows } from './queue/queue-rows';
import { HEADING, publish, type Report } from './queue/report';

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
  const pgServer = await postgresSettings(values.postgres, [
    'shared_buffers',
    'synchronous_commit',
    'fsync',
    'max_connections',
  ]);
  const postgres = `PostgreSQL ${pgServer.version} (local; ${pgServer.settings.join(', ')})`;
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
