// pnpm bench backfill: the crawl of the PyPI-shaped index for real, as far as the time allows
// (issue 9 §3). The local server serves `--synthetic pypi,scale=F`; a fresh PostgreSQL database and
// Redis key prefix take a backfill as an operator runs one (`crawl --all --no-work`: the feeder;
// one `worker --queues discover,project` process). Every second the bench reads each process's
// CPU and RSS (/proc), PostgreSQL's and Redis's CPU, the highest file id (an index lookup) and the
// statements this database's backends are running (pg_stat_activity); when the file id passes a
// checkpoint it reads the exact files stored (the projects' kept counts) and records the totals
// there, with the server's WAL (pg_stat_wal). Per stretch between checkpoints: files/s and CPU s
// per 1,000 files of each process, so that a cost that grows with the database shows as a stretch
// that costs more per file than the one before; and the statements seen most and the WAL written,
// which say where such a cost is.
//
// The project stage as a real backfill runs it: WHEEL_METADATA=on and SDIST_EXTRACTION=static,
// so each project job records its files' work and defers it (the window), but the file queues are
// not worked (the metadata stages have their own benchmarks, and at pypi.org their pace is the
// polite rate, not this machine): their jobs wait in Redis, at most QUEUE_WINDOW per queue, the
// rest in PostgreSQL. `--file-jobs off` stores the file index only (no file work recorded).
// The backfill is done when discover has listed the index and no project is pending.
//
// Baselines, same run, same server: the same HTTP requests without a database
// (http-baseline.ts over the listing's first projects), and PostgreSQL alone writing the stored
// `files` rows again into a table with the same indexes (INSERT … SELECT).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  countPendingProjects,
  type Database,
  getCrawlState,
  openDatabase,
  storeCounts,
} from '@pypi-graph/db';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  type CliProcess,
  childEnv,
  cpuSecondsOf,
  crawlPlace,
  fixed,
  gitRevision,
  int,
  loadAverage,
  machineBusySeconds,
  machineFacts,
  markdownTable,
  measure,
  PostgresCpu,
  postgresSettings,
  progress,
  REPO_ROOT,
  spawnCli,
  startServer,
  textTable,
  tsxArgs,
  usedMemoryKb,
  vmKb,
  writeDocSection,
} from './common';
import { redisPid } from './queue/cpu';

const HEADING = 'A backfill of the PyPI-shaped index, as far as the time allows (`pnpm bench backfill`)';

const USAGE = `usage: pnpm bench backfill [--scale 1] [--checkpoints 100000,1000000,3000000] [--max-minutes 60]
                          [--file-jobs on] [--baseline-files 100000] [--postgres URL] [--redis URL]
                          [--doc docs/benchmarks.md] [--no-doc] [--json FILE] [--from-json FILE]

  --scale           size of the PyPI-shaped index (pypi,scale=F; 1 = PyPI's size, 737,000 projects)
  --checkpoints     files stored at which the totals are recorded; the crawl stops at the last one,
                    or earlier when the backfill is done (every listed project crawled)
  --max-minutes     stop the crawl after this long even if the last checkpoint is not reached
  --file-jobs       on: the wheel and sdist work is recorded and queued as in a real backfill, and
                    left waiting (WHEEL_METADATA=on SDIST_EXTRACTION=static, file queues not worked);
                    off: the file index only (WHEEL_METADATA=off SDIST_EXTRACTION=off)
  --baseline-files  files the HTTP baseline reads (the listing's first projects)
  --postgres        administrative PostgreSQL URL (a database is created, dropped afterwards)
  --redis           Redis URL (a fresh key prefix, deleted afterwards)
  --json FILE       every measurement as JSON
  --from-json FILE  write the section again from such a file, without measuring`;

/** Totals since the crawl started, read at one moment. */
interface Point {
  t: number;
  files: number;
  projects: number;
  crawlCpuS: number;
  workerCpuS: number;
  postgresCpuS: number;
  serverCpuS: number;
  redisCpuS: number;
  machineBusyS: number;
  /** The worker's and the feeder's highest VmRSS since the previous point. */
  workerRssKb: number;
  crawlRssKb: number;
  /** Redis's highest `used_memory` since the previous point, minus its value before the crawl. */
  redisPeakDeltaKb: number;
  databaseBytes: number;
  /**
   * PostgreSQL's active statements of this database since the previous point, sampled every
   * second (its first 100 characters, spaces collapsed): the three most seen, and all samples.
   * What found the two statements that slowed the backfill down (7a37f97, 0e66a08).
   */
  activeSamples?: number;
  topStatements?: Array<{ statement: string; samples: number }>;
  /**
   * The server's WAL since the crawl started (pg_stat_wal and pg_stat_bgwriter: the whole server,
   * so other databases' writes count): bytes, full-page images, checkpoints asked for by WAL volume
   * (read from pg_stat_bgwriter's row as JSON: 0 on PostgreSQL 17, which moved that counter).
   */
  walBytes?: number;
  walFpi?: number;
  checkpointsReq?: number;
}

interface Baseline {
  label: string;
  files: number;
  wallS: number;
  /** CPU of the measured process (the client, or PostgreSQL). */
  cpuS: number;
  serverCpuS: number;
}

interface Report {
  command: string;
  date: string;
  revision: string;
  machine: ReturnType<typeof machineFacts>;
  loadBefore: string;
  scale: number;
  indexProjects: number;
  checkpoints: number[];
  points: Point[];
  stoppedBy: 'last checkpoint' | 'time' | 'done';
  fileJobs: boolean;
  baselines: Baseline[];
  /** The PostgreSQL server's settings that bear on a backfill's writes (absent in older reports). */
  pgSettings?: string;
}

/** Settings that change how a backfill writes: memory, checkpoints, WAL, autovacuum. */
const PG_SETTINGS = [
  'shared_buffers',
  'max_wal_size',
  'checkpoint_timeout',
  'wal_compression',
  'autovacuum',
  'synchronous_commit',
  'work_mem',
  'maintenance_work_mem',
];

async function pgSettings(url: string): Promise<string> {
  const { version, settings } = await postgresSettings(url, PG_SETTINGS);
  return [`PostgreSQL ${version}`, ...settings].join(', ');
}

async function httpBaseline(url: string, files: number, serverPid: number): Promise<Baseline> {
  progress(`baseline: the HTTP requests of the listing's first ${int(files)} files, no database`);
  const server0 = cpuSecondsOf(serverPid);
  const m = await measure({
    args: tsxArgs('scripts/bench/http-baseline.ts', '--url', url, '--max-files', String(files)),
    env: childEnv({}),
    label: 'http baseline',
  });
  const out = JSON.parse(m.stdout.trim().split('\n').at(-1)!) as { files: number; seconds: number };
  return {
    label: `HTTP alone: the JSON API and Simple pages of the listing's first projects, read and parsed, 16 in flight, no database (${int(out.files)} files; its start and the \`/simple/\` listing of every project included)`,
    files: out.files,
    wallS: m.wallS,
    cpuS: m.userS + m.sysS,
    serverCpuS: cpuSecondsOf(serverPid) - server0,
  };
}

/** PostgreSQL alone writes the stored file rows again, into a table with the same indexes. */
async function postgresBaseline(client: pg.Client, dbName: string): Promise<Baseline> {
  progress('baseline: PostgreSQL writes the same file rows again (INSERT … SELECT)');
  await client.query('CREATE TABLE bench_files_again (LIKE files INCLUDING DEFAULTS INCLUDING INDEXES)');
  const cpu = new PostgresCpu(dbName, 200);
  cpu.start();
  const t0 = performance.now();
  const inserted = await client.query('INSERT INTO bench_files_again SELECT * FROM files');
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpu.stop();
  await client.query('DROP TABLE bench_files_again');
  const files = inserted.rowCount ?? 0;
  return {
    label: `PostgreSQL alone: the stored \`files\` rows written again into a table with the same indexes (INSERT … SELECT; ${int(files)} rows)`,
    files,
    wallS,
    cpuS,
    serverCpuS: 0,
  };
}

async function crawlRow(
  url: string,
  serverPid: number,
  adminUrl: string,
  redisUrl: string,
  checkpoints: number[],
  maxS: number,
  fileJobs: boolean,
): Promise<{ points: Point[]; stoppedBy: Report['stoppedBy']; baseline: Baseline }> {
  const place = await crawlPlace('backfill', adminUrl, redisUrl, url, {
    WHEEL_METADATA: fileJobs ? 'on' : 'off',
    SDIST_EXTRACTION: fileJobs ? 'static' : 'off',
    CI: '1',
  });
  const { name, env, dbUrl } = place;
  const procs: CliProcess[] = [];
  let database: Database | undefined;
  let client: pg.Client | undefined;
  let redisConnection: Redis | undefined;
  try {
    const migrate = spawnCli(['migrate'], env);
    if ((await migrate.exited) !== 0) throw new Error(`migrate failed\n${migrate.stderr()}`);
    database = await openDatabase({ databaseUrl: dbUrl });
    const db = database.db;
    const sqlClient = new pg.Client({ connectionString: dbUrl });
    client = sqlClient;
    await sqlClient.connect();
    const postgres = new PostgresCpu(name, 500);
    postgres.start();
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    redisConnection = redis;
    const redisServer = await redisPid(redis);
    const redisStart = await usedMemoryKb(redis);
    let redisPeak = redisStart;
    const base = {
      server: cpuSecondsOf(serverPid),
      redis: redisServer === undefined ? 0 : cpuSecondsOf(redisServer),
      busy: machineBusySeconds(),
    };
    const t0 = performance.now();
    const crawl = spawnCli(['crawl', '--all', '--no-work'], env);
    const worker = spawnCli(['worker', '--queues', 'discover,project'], env);
    procs.push(crawl, worker);
    let workerRss = 0;
    let crawlRss = 0;
    let crawlCpu = 0;
    let workerCpu = 0;
    const rss = setInterval(() => {
      workerRss = Math.max(workerRss, vmKb(worker.pid));
      crawlRss = Math.max(crawlRss, vmKb(crawl.pid));
      crawlCpu = Math.max(crawlCpu, cpuSecondsOf(crawl.pid) || 0);
      workerCpu = Math.max(workerCpu, cpuSecondsOf(worker.pid) || 0);
      usedMemoryKb(redis).then(
        (kb) => {
          redisPeak = Math.max(redisPeak, kb);
        },
        () => {},
      );
    }, 200);
    const points: Point[] = [];
    const point = async (files: number, projects: number): Promise<Point> => {
      const { rows } = await sqlClient.query<{ b: string }>(
        'SELECT pg_database_size(current_database())::bigint AS b',
      );
      const size = rows[0];
      const p: Point = {
        t: (performance.now() - t0) / 1000,
        files,
        projects,
        crawlCpuS: crawlCpu,
        workerCpuS: workerCpu,
        postgresCpuS: postgres.read(),
        serverCpuS: cpuSecondsOf(serverPid) - base.server,
        redisCpuS: redisServer === undefined ? 0 : cpuSecondsOf(redisServer) - base.redis,
        machineBusyS: machineBusySeconds() - base.busy,
        workerRssKb: workerRss,
        crawlRssKb: crawlRss,
        redisPeakDeltaKb: redisPeak - redisStart,
        databaseBytes: Number(size?.b ?? 0),
      };
      Object.assign(p, takeStatements());
      const wal = await readWal();
      p.walBytes = wal.bytes - wal0.bytes;
      p.walFpi = wal.fpi - wal0.fpi;
      p.checkpointsReq = wal.req - wal0.req;
      workerRss = 0;
      crawlRss = 0;
      redisPeak = redisStart;
      return p;
    };
    let statements = new Map<string, number>();
    let activeSamples = 0;
    const sampleActive = async () => {
      const { rows } = await sqlClient.query<{ q: string }>(
        `SELECT left(btrim(regexp_replace(query, '\\s+', ' ', 'g')), 100) AS q FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      for (const r of rows) {
        statements.set(r.q, (statements.get(r.q) ?? 0) + 1);
        activeSamples++;
      }
    };
    const takeStatements = (): Pick<Point, 'activeSamples' | 'topStatements'> => {
      const top = [...statements]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([statement, samples]) => ({ statement, samples }));
      const out = { activeSamples, topStatements: top };
      statements = new Map();
      activeSamples = 0;
      return out;
    };
    const readWal = async () => {
      const { rows } = await sqlClient.query<{ bytes: string; fpi: string; req: string }>(
        `SELECT (SELECT wal_bytes FROM pg_stat_wal)::bigint AS bytes, (SELECT wal_fpi FROM pg_stat_wal) AS fpi,
                (SELECT (to_jsonb(b) ->> 'checkpoints_req')::bigint FROM pg_stat_bgwriter b) AS req`,
      );
      return {
        bytes: Number(rows[0]?.bytes ?? 0),
        fpi: Number(rows[0]?.fpi ?? 0),
        req: Number(rows[0]?.req ?? 0),
      };
    };
    const wal0 = await readWal();
    points.push(await point(0, 0));
    let next = 0;
    let stoppedBy: Report['stoppedBy'] = 'time';
    let lastProgress = 0;
    let lastDoneCheck = 0;
    let lastSeenProjects = -1;
    while (next < checkpoints.length) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const p of procs)
        if (p.child.exitCode !== null && !(p === crawl && p.child.exitCode === 0))
          throw new Error(`a process exited early\n${p.stderr()}`);
      // Cheap: two index lookups (ids grow in a backfill's insertion order). The exact counts, a
      // scan of the projects, are read only at a checkpoint, so that the bench's own queries do
      // not weigh on PostgreSQL's CPU.
      const { rows: ids } = await sqlClient.query<{ files: string | null; projects: string | null }>(
        'SELECT (SELECT max(id) FROM files) AS files, (SELECT max(id) FROM projects) AS projects',
      );
      const seen = { files: Number(ids[0]?.files ?? 0), projects: Number(ids[0]?.projects ?? 0) };
      await sampleActive();
      // Done: discover has listed the index and no project is pending. Asked when no project was
      // stored in the last second (or every 30 s), so that the check costs nothing while it runs;
      // the feeder itself ends only when no file work waits either.
      let done = crawl.child.exitCode === 0;
      if (!done && (seen.projects === lastSeenProjects || performance.now() - lastDoneCheck >= 30_000)) {
        lastDoneCheck = performance.now();
        done = (await getCrawlState(db, 'changelog')) !== undefined && (await countPendingProjects(db)) === 0;
      }
      lastSeenProjects = seen.projects;
      if (done) {
        const counts = await storeCounts(db);
        points.push(await point(counts.files, counts.projects));
        progress(`  the backfill is done: ${int(counts.files)} files, ${int(counts.projects)} projects`);
        stoppedBy = 'done';
        break;
      }
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed - lastProgress >= 60) {
        lastProgress = elapsed;
        progress(
          `  ${fixed(elapsed, 0)} s: about ${int(seen.files)} files, ${int(seen.projects)} projects, worker RSS ${fixed(vmKb(worker.pid) / 1024, 0)} MB`,
        );
      }
      if (next < checkpoints.length && seen.files >= checkpoints[next]!) {
        const counts = await storeCounts(db);
        if (counts.files >= checkpoints[next]!) {
          points.push(await point(counts.files, counts.projects));
          progress(`  checkpoint: ${int(counts.files)} files at ${fixed(elapsed)} s`);
          while (next < checkpoints.length && counts.files >= checkpoints[next]!) next++;
        }
      }
      if (next === checkpoints.length) stoppedBy = 'last checkpoint';
      else if (elapsed >= maxS) {
        const counts = await storeCounts(db);
        points.push(await point(counts.files, counts.projects));
        progress(`  stopped after ${fixed(elapsed)} s (--max-minutes): ${int(counts.files)} files`);
        break;
      }
    }
    clearInterval(rss);
    postgres.stop();
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    const baseline = await postgresBaseline(sqlClient, name);
    return { points, stoppedBy, baseline };
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    redisConnection?.disconnect();
    await client?.end().catch(() => {});
    await database?.close().catch(() => {});
    await place.remove();
  }
}

function perThousand(cpu: number, files: number): string {
  return files > 0 ? fixed((cpu / files) * 1000, 3) : '–';
}

function render(r: Report): { text: string; doc: string } {
  const headers = [
    'stretch (files stored)',
    'projects',
    'wall s',
    'files/s',
    'worker',
    'feeder',
    'PostgreSQL',
    'PyPI server',
    'Redis',
    'all five',
    'machine',
    'worker RSS peak MB',
    'feeder RSS peak MB',
    'Redis used_memory peak − start, MB',
    'database at its end',
  ];
  const cells: string[][] = [];
  for (let i = 1; i < r.points.length; i++) {
    const a = r.points[i - 1]!;
    const b = r.points[i]!;
    const files = b.files - a.files;
    const d = (k: keyof Point) => (b[k] as number) - (a[k] as number);
    const all = d('workerCpuS') + d('crawlCpuS') + d('postgresCpuS') + d('serverCpuS') + d('redisCpuS');
    cells.push([
      `${int(a.files)} → ${int(b.files)}`,
      int(b.projects - a.projects),
      fixed(d('t')),
      fixed(files / d('t'), 0),
      perThousand(d('workerCpuS'), files),
      perThousand(d('crawlCpuS'), files),
      perThousand(d('postgresCpuS'), files),
      perThousand(d('serverCpuS'), files),
      perThousand(d('redisCpuS'), files),
      perThousand(all, files),
      perThousand(d('machineBusyS'), files),
      fixed(b.workerRssKb / 1024, 0),
      fixed(b.crawlRssKb / 1024, 0),
      fixed((b.redisPeakDeltaKb ?? 0) / 1024),
      `${fixed(b.databaseBytes / 2 ** 20, 0)} MiB`,
    ]);
  }
  const last = r.points.at(-1)!;
  const totalAll = last.workerCpuS + last.crawlCpuS + last.postgresCpuS + last.serverCpuS + last.redisCpuS;
  cells.push([
    `whole run: 0 → ${int(last.files)}`,
    int(last.projects),
    fixed(last.t),
    fixed(last.files / last.t, 0),
    perThousand(last.workerCpuS, last.files),
    perThousand(last.crawlCpuS, last.files),
    perThousand(last.postgresCpuS, last.files),
    perThousand(last.serverCpuS, last.files),
    perThousand(last.redisCpuS, last.files),
    perThousand(totalAll, last.files),
    perThousand(last.machineBusyS, last.files),
    fixed(Math.max(...r.points.map((p) => p.workerRssKb)) / 1024, 0),
    fixed(Math.max(...r.points.map((p) => p.crawlRssKb)) / 1024, 0),
    fixed(Math.max(...r.points.map((p) => p.redisPeakDeltaKb ?? 0)) / 1024),
    `${fixed(last.databaseBytes / 2 ** 20, 0)} MiB`,
  ]);
  const bHeaders = [
    'baseline (same run)',
    'files',
    'wall s',
    'files/s',
    'CPU s per 1,000 files',
    'PyPI server CPU s per 1,000 files',
  ];
  const bCells = r.baselines.map((b) => [
    b.label,
    int(b.files),
    fixed(b.wallS),
    fixed(b.files / b.wallS, 0),
    perThousand(b.cpuS, b.files),
    b.serverCpuS > 0 ? perThousand(b.serverCpuS, b.files) : '–',
  ]);
  // Where PostgreSQL's time went in each stretch (runs before this column have none).
  const busiest: string[] = [];
  for (let i = 1; i < r.points.length; i++) {
    const b = r.points[i]!;
    if (!b.topStatements || !b.activeSamples) continue;
    const shares = b.topStatements
      .map((t) => `${fixed((100 * t.samples) / b.activeSamples!, 0)} % \`${t.statement.replace(/`/g, "'")}\``)
      .join('; ');
    busiest.push(
      `- ${int(r.points[i - 1]!.files)} → ${int(b.files)} (${int(b.activeSamples)} samples): ${shares}`,
    );
  }
  const walLines: string[] = [];
  for (let i = 1; i < r.points.length; i++) {
    const a = r.points[i - 1]!;
    const b = r.points[i]!;
    if (b.walBytes === undefined || a.walBytes === undefined) continue;
    const files = b.files - a.files;
    walLines.push(
      `- ${int(a.files)} → ${int(b.files)}: ${fixed((((b.walBytes - a.walBytes) / files) * 1000) / 2 ** 20, 1)} MiB of WAL and ${fixed(((b.walFpi! - a.walFpi!) / files) * 1000, 0)} full-page images per 1,000 files, ${int(b.checkpointsReq! - a.checkpointsReq!)} checkpoints asked for by WAL volume`,
    );
  }
  const blocks: string[] = [];
  if (busiest.length > 0)
    blocks.push(
      "PostgreSQL's busiest statements per stretch (share of the active backends seen, sampled every second):",
      '',
      ...busiest,
      '',
    );
  if (walLines.length > 0)
    blocks.push(
      "PostgreSQL's WAL per stretch (`pg_stat_wal`, `pg_stat_bgwriter`: the whole server, other databases' writes included):",
      '',
      ...walLines,
      '',
    );
  const blocksText = blocks.length > 0 ? ['', ...blocks].join('\n') : '';
  const text = `${textTable(headers, cells)}\n\n${textTable(bHeaders, bCells)}\n${blocksText}`;
  const doc = [
    `## ${HEADING}`,
    '',
    `\`${r.command}\` — ${r.date}, ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGb} GiB RAM, ${r.machine.kernel}, Node ${r.machine.node}; code at ${r.revision}; load average ${r.loadBefore} before, ${r.machine.loadAverage} after.${r.pgSettings ? ` Server: ${r.pgSettings}.` : ''}`,
    '',
    `The local server serves the PyPI-shaped preset (\`pnpm pypi-server --synthetic pypi,scale=${r.scale}\`, ${int(r.indexProjects)} projects, its own process). A fresh PostgreSQL database and Redis key prefix take a backfill as an operator runs one: \`crawl --all --no-work\` (the feeder) and one \`worker --queues discover,project\` process (PROJECT_CONCURRENCY 16, QUEUE_WINDOW 2000, \`HTTP_RPS_PER_HOST=0\`), ${r.fileJobs === false ? 'the file index only (`WHEEL_METADATA=off SDIST_EXTRACTION=off`: the metadata stages have benchmarks of their own, and at pypi.org their pace is its rate limit)' : "the project stage as a real backfill runs it (`WHEEL_METADATA=on SDIST_EXTRACTION=static`: each project job records its wheels' and sdists' work and defers it through the window) with the file queues not worked (the metadata stages have benchmarks of their own, and at pypi.org their pace is its rate limit): their jobs wait in Redis, at most QUEUE_WINDOW per queue, the rest in PostgreSQL"}. Every second the bench reads the CPU and RSS of each process from /proc (PostgreSQL: the backends of this database and the server's own processes; Redis: the whole server), the highest file id (an index lookup) and the statements this database's backends are running (\`pg_stat_activity\`); when that passes a checkpoint it reads the exact files stored (the projects' kept counts) and records the totals there. The crawl ${r.stoppedBy === 'time' ? 'was stopped by `--max-minutes`' : r.stoppedBy === 'done' ? 'ran to its end: discover listed the index and no project is pending' : 'was stopped at the last checkpoint'}. Redis: the highest \`used_memory\` in each stretch (sampled every 200 ms) minus its value before the crawl (Redis is shared: other users count). Per stretch between checkpoints: files/s, and CPU s per 1,000 files of each process, of the five together, and of the whole machine (other work included). If a cost grew with the database, a later stretch would cost more per file than an earlier one.`,
    '',
    'CPU s per 1,000 files stored:',
    '',
    markdownTable(headers, cells),
    '',
    markdownTable(bHeaders, bCells),
    '',
    ...blocks,
  ].join('\n');
  return { text, doc };
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      scale: { type: 'string', default: '1' },
      checkpoints: { type: 'string', default: '100000,1000000,3000000' },
      'max-minutes': { type: 'string', default: '60' },
      'baseline-files': { type: 'string', default: '100000' },
      'file-jobs': { type: 'string', default: 'on' },
      postgres: {
        type: 'string',
        default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      },
      redis: { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      json: { type: 'string' },
      'from-json': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scale = Number(values.scale);
  const checkpoints = values.checkpoints.split(',').map(Number);
  const maxS = Number(values['max-minutes']) * 60;
  const baselineFiles = Number(values['baseline-files']);
  const fileJobs = values['file-jobs'] === 'on';
  if (
    !(scale > 0) ||
    checkpoints.some((c, i) => !Number.isInteger(c) || c <= 0 || (i > 0 && c <= checkpoints[i - 1]!)) ||
    !(maxS > 0) ||
    !(baselineFiles > 0) ||
    !['on', 'off'].includes(values['file-jobs'])
  ) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (values['from-json']) {
    const saved = JSON.parse(await readFile(values['from-json'], 'utf8')) as Report;
    const { text, doc } = render(saved);
    process.stdout.write(`${text}\n`);
    if (!values['no-doc']) await writeDocSection(path.resolve(REPO_ROOT, values.doc), HEADING, doc);
    return 0;
  }
  const loadBefore = loadAverage();
  const revision = gitRevision();
  const settings = await pgSettings(values.postgres);
  progress(`pypi-server --synthetic pypi,scale=${scale}`);
  const server = await startServer(`pypi,scale=${scale}`);
  let report: Report;
  try {
    const listing = (await (
      await fetch(`${server.url}/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })
    ).json()) as { projects: unknown[] };
    const http = await httpBaseline(server.url, baselineFiles, server.pid);
    const crawl = await crawlRow(
      server.url,
      server.pid,
      values.postgres,
      values.redis,
      checkpoints,
      maxS,
      fileJobs,
    );
    report = {
      command: `pnpm bench backfill ${args.filter((a) => a !== '--no-doc').join(' ')}`.trim(),
      date: new Date()
        .toISOString()
        .replace(/:\d\d\.\d+Z$/, ' UTC')
        .replace('T', ' '),
      revision,
      machine: machineFacts(),
      loadBefore,
      scale,
      indexProjects: listing.projects.length,
      checkpoints,
      points: crawl.points,
      stoppedBy: crawl.stoppedBy,
      fileJobs,
      baselines: [http, crawl.baseline],
      pgSettings: settings,
    };
  } finally {
    await server.close();
  }
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  const { text, doc } = render(report);
  process.stdout.write(`${text}\n`);
  if (values['no-doc']) return 0;
  await writeDocSection(path.resolve(REPO_ROOT, values.doc), HEADING, doc);
  progress(`written to ${values.doc}`);
  return 0;
}
