// pnpm bench scale: PyPI's size (issue 9). For each size, a fresh PostgreSQL database is filled
// with the state a crawl would leave (scale-load.ts, packages/db bulkLoad), then each step runs
// as its own measured process: wall time, CPU of the process (/usr/bin/time) and of PostgreSQL
// (its backends for this database plus the server's own processes, /proc), peak RSS, the load
// average around it, beside a baseline measured in the same run.
//
// Steps are named and run in the order given by --steps; a step receives the size's context
// (database, directories, the day the data is at) and returns rows for the report. To add one
// (the crawl, Redis, the refresh), add an entry to STEPS and, if it needs its own table, to
// `sizeSection`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  childEnv,
  databaseUrl,
  fixed,
  gitRevision,
  int,
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
  tsxArgs,
  withAdmin,
  writeDocSection,
} from './common';
import type { ExplainResult } from './scale-explain';

const HEADING = "PyPI's size (`pnpm bench scale`)";
const CLI = 'packages/cli/src/main.ts';
const RECONCILE_PROBE = 'scripts/bench/reconcile-probe.ts';
const ALL_STEPS = ['load', 'sizes', 'explain', 'snapshot', 'day', 'incremental', 'status'];

const USAGE = `usage: pnpm bench scale [--sizes 100000,1000000] [--steps ${ALL_STEPS.join(',')}] [--seed 1]
                        [--postgres URL] [--database NAME] [--keep] [--doc docs/benchmarks.md] [--no-doc]
                        [--json FILE] [--from-json FILE]

  --sizes      sizes in files (projects = 7.36 % of files, PyPI's ratio)
  --steps      what to run, in order: load (bulk load, baseline COPY TO /dev/null), sizes (tables and
               indexes), explain (EXPLAIN ANALYZE of every hot query), snapshot (full, all layouts;
               baselines: the rows read, cat of the bytes), day (one day of changes through the crawl's
               db functions), incremental (the next snapshot, checked byte-identical to a full one),
               status (pnpm status, recrawl --failed --dry-run, and reconcile's lookup alone)
  --postgres   administrative PostgreSQL URL (a database is created per size, dropped afterwards)
  --database   use this existing database (one size only; it is kept): steps after a load
  --keep       keep the databases and snapshot directories
  --json FILE  every measurement as JSON (merged into FILE when it exists: runs can be split)
  --from-json  write the section again from such a file, without measuring`;

export interface StepRow {
  step: string;
  label: string;
  /** Files (or rows, see `unit`) processed. */
  count: number;
  unit: 'files' | 'rows' | 'keys';
  wallS: number;
  cpuS: number;
  postgresCpuS: number;
  peakRssKb: number;
  othersCpuS: number;
  loadBefore: string;
  baseline?: boolean;
  note?: string;
}

interface SizeReport {
  files: number;
  database: string;
  rows: StepRow[];
  loaded?: { projects: number; rows: Record<string, number> };
  tables?: Array<{ table: string; rows: number; tableBytes: number; indexBytes: number }>;
  databaseBytes?: number;
  explain?: ExplainResult[];
  snapshot?: { id: string; treeBytes: number; tarballBytes: number; sha256: string; narHash: string };
  incremental?: {
    id: string;
    sha256: string;
    fullSha256: string;
    identical: boolean;
    rendered: number;
    reused: number;
  };
  day?: Record<string, number>;
}

interface Report {
  command: string;
  date: string;
  machine: MachineFacts;
  postgres: string;
  revision: string;
  seed: number;
  sizes: SizeReport[];
}

interface Context {
  files: number;
  seed: number;
  url: string;
  dbName: string;
  adminUrl: string;
  dir: string;
  day: number;
  report: SizeReport;
}

const CHILD_ENV = { LOG_LEVEL: 'warn', CI: '1', HTTP_ATTEMPTS: '1', HTTP_TIMEOUT_MS: '2000' };

/** Runs `node …args` measured, with PostgreSQL's CPU for the database sampled alongside. */
async function measured(ctx: Context, label: string, args: string[], env: Record<string, string> = {}) {
  const loadBefore = loadAverage();
  const pg = new PostgresCpu(ctx.dbName, 200);
  pg.start();
  let m: Measured;
  let postgresCpuS = 0;
  try {
    m = await measure({ args, env: childEnv({ ...CHILD_ENV, ...env }), label, heartbeatMs: 60_000 });
  } finally {
    postgresCpuS = pg.stop();
  }
  const cpuS = m.userS + m.sysS;
  return { m, loadBefore, cpuS, postgresCpuS, othersCpuS: Math.max(0, m.machineBusyS - cpuS - postgresCpuS) };
}

/** A server-side statement timed with PostgreSQL's CPU (the baselines: PostgreSQL alone). */
async function timedSql(ctx: Context, sqls: string[]) {
  const loadBefore = loadAverage();
  const pg = new PostgresCpu(ctx.dbName, 200);
  const busy0 = machineBusySeconds();
  pg.start();
  const t0 = performance.now();
  await withAdmin(ctx.url, async (c) => {
    for (const s of sqls) await c.query(s);
  });
  const wallS = (performance.now() - t0) / 1000;
  const postgresCpuS = pg.stop();
  return {
    wallS,
    postgresCpuS,
    loadBefore,
    othersCpuS: Math.max(0, machineBusySeconds() - busy0 - postgresCpuS),
  };
}

/** `cat` of files into a new file and fsync: writing the same bytes, the floor of a snapshot's writes. */
async function catBaseline(
  ctx: Context,
  sources: string[],
  label: string,
  count: number,
  unit: StepRow['unit'],
): Promise<StepRow> {
  const target = path.join(ctx.dir, `cat-${randomBytes(4).toString('hex')}`);
  const loadBefore = loadAverage();
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const script = 'cat "$@" > "$T" && sync "$T"';
  const out = execFileSync('/usr/bin/time', ['-f', '%U %S %M', 'sh', '-c', script, 'sh', ...sources], {
    env: { ...process.env, T: target },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 20,
  });
  void out;
  const wallS = (performance.now() - t0) / 1000;
  await rm(target, { force: true });
  return {
    step: 'baseline',
    label,
    count,
    unit,
    wallS,
    cpuS: Number.NaN,
    postgresCpuS: 0,
    peakRssKb: Number.NaN,
    othersCpuS: Math.max(0, machineBusySeconds() - busy0),
    loadBefore,
    baseline: true,
  };
}

const sumRows = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

type Step = (ctx: Context) => Promise<void>;

const STEPS: Record<string, Step> = {
  async load(ctx) {
    const { m, loadBefore, cpuS, postgresCpuS, othersCpuS } = await measured(
      ctx,
      `load ${int(ctx.files)} files`,
      tsxArgs(
        'scripts/bench/scale-load.ts',
        '--database-url',
        ctx.url,
        '--files',
        String(ctx.files),
        '--seed',
        String(ctx.seed),
      ),
    );
    const loaded = JSON.parse(m.stdout.trim().split('\n').at(-1)!) as {
      projects: number;
      rows: Record<string, number>;
    };
    ctx.report.loaded = loaded;
    const rows = sumRows(loaded.rows);
    ctx.report.rows.push({
      step: 'load',
      label: `bulk load (bulkLoad: COPY, one stream per table; then VACUUM (FREEZE, ANALYZE))`,
      count: rows,
      unit: 'rows',
      wallS: m.wallS,
      cpuS,
      postgresCpuS,
      peakRssKb: m.peakRssKb,
      othersCpuS,
      loadBefore,
      note: `${int(loaded.rows.files!)} files`,
    });
    // Baseline: PostgreSQL reading the same rows and writing them out as COPY text, nowhere.
    const tables = Object.keys(loaded.rows);
    const b = await timedSql(
      ctx,
      tables.map((t) => `COPY ${t} TO '/dev/null'`),
    );
    ctx.report.rows.push({
      step: 'load',
      label: 'baseline: COPY every table TO /dev/null (PostgreSQL alone)',
      count: rows,
      unit: 'rows',
      wallS: b.wallS,
      cpuS: 0,
      postgresCpuS: b.postgresCpuS,
      peakRssKb: Number.NaN,
      othersCpuS: b.othersCpuS,
      loadBefore: b.loadBefore,
      baseline: true,
    });
  },

  async sizes(ctx) {
    const res = await withAdmin(ctx.url, (c) =>
      c.query<{ table: string; rows: string; t: string; i: string; db: string }>(
        `SELECT c.relname AS table, c.reltuples::bigint AS rows, pg_table_size(c.oid) AS t, pg_indexes_size(c.oid) AS i,
                pg_database_size(current_database()) AS db
         FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY pg_total_relation_size(c.oid) DESC`,
      ),
    );
    ctx.report.tables = res.rows.map((r) => ({
      table: r.table,
      rows: Number(r.rows),
      tableBytes: Number(r.t),
      indexBytes: Number(r.i),
    }));
    ctx.report.databaseBytes = Number(res.rows[0]?.db ?? 0);
  },

  async explain(ctx) {
    const { m } = await measured(
      ctx,
      'explain',
      tsxArgs(
        'scripts/bench/scale-explain.ts',
        '--database-url',
        ctx.url,
        '--files',
        String(ctx.files),
        '--seed',
        String(ctx.seed),
        '--day',
        String(ctx.day),
      ),
    );
    ctx.report.explain = JSON.parse(m.stdout.trim().split('\n').at(-1)!) as ExplainResult[];
  },

  async snapshot(ctx) {
    const out = path.join(ctx.dir, 'snapshots');
    const read = await measured(
      ctx,
      'read rows',
      tsxArgs('scripts/bench/read-rows.ts', '--database-url', ctx.url),
    );
    const rr = JSON.parse(read.m.stdout.trim().split('\n').at(-1)!) as { files: number };
    const s = await measured(
      ctx,
      `full snapshot ${int(ctx.files)}`,
      tsxArgs(CLI, 'snapshot', '--out', out, '--full', '--keep', '2'),
      { DATABASE_URL: ctx.url },
    );
    const files = Number(/files:\s+(\d+) in/.exec(s.m.stdout)?.[1] ?? Number.NaN);
    const id = /snapshot (\S+)/.exec(s.m.stdout)![1]!;
    const sha256 = /sha256:\s+([0-9a-f]{64})/.exec(s.m.stdout)![1]!;
    const narHash = /nix hash:\s+(\S+)/.exec(s.m.stdout)![1]!;
    const treeBytes = Number(
      execFileSync('du', ['-sb', path.join(out, id)], { encoding: 'utf8' }).split('\t')[0],
    );
    const tarballBytes = (await stat(path.join(out, `${id}.tar.gz`))).size;
    ctx.report.snapshot = { id, treeBytes, tarballBytes, sha256, narHash };
    ctx.report.rows.push({
      step: 'snapshot',
      label: 'full snapshot (`snapshot --full`, all layouts, tarball)',
      count: files,
      unit: 'files',
      wallS: s.m.wallS,
      cpuS: s.cpuS,
      postgresCpuS: s.postgresCpuS,
      peakRssKb: s.m.peakRssKb,
      othersCpuS: s.othersCpuS,
      loadBefore: s.loadBefore,
    });
    ctx.report.rows.push({
      step: 'snapshot',
      label: "baseline: the snapshot's rows read (read-rows.ts), nothing written",
      count: rr.files,
      unit: 'files',
      wallS: read.m.wallS,
      cpuS: read.cpuS,
      postgresCpuS: read.postgresCpuS,
      peakRssKb: read.m.peakRssKb,
      othersCpuS: read.othersCpuS,
      loadBefore: read.loadBefore,
      baseline: true,
    });
    const treeFiles = execFileSync('find', [path.join(out, id), '-type', 'f'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    ctx.report.rows.push(
      await catBaseline(
        ctx,
        [...treeFiles, path.join(out, `${id}.tar.gz`)],
        'baseline: cat of the same bytes (tree + tarball) to a new file, then sync',
        files,
        'files',
      ),
    );
  },

  async day(ctx) {
    const d = ctx.day + 1;
    const { m, loadBefore, cpuS, postgresCpuS, othersCpuS } = await measured(
      ctx,
      `day ${d}`,
      tsxArgs(
        'scripts/bench/scale-day.ts',
        '--database-url',
        ctx.url,
        '--files',
        String(ctx.files),
        '--seed',
        String(ctx.seed),
        '--day',
        String(d),
      ),
    );
    const counts = JSON.parse(m.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    ctx.report.day = counts;
    ctx.day = d;
    ctx.report.rows.push({
      step: 'day',
      label: `one day of changes: ${int(counts.projects!)} projects (saveProject, saveExtraction, markProjectRemoved, changelog)`,
      count: counts.filesAdded!,
      unit: 'files',
      wallS: m.wallS,
      cpuS,
      postgresCpuS,
      peakRssKb: m.peakRssKb,
      othersCpuS,
      loadBefore,
      note: `${int(counts.extractions!)} extractions, ${int(counts.filesRemoved!)} files removed, ${int(counts.removed!)} projects removed`,
    });
  },

  async incremental(ctx) {
    const out = path.join(ctx.dir, 'snapshots');
    const s = await measured(
      ctx,
      'incremental snapshot',
      tsxArgs(CLI, 'snapshot', '--out', out, '--keep', '2'),
      { DATABASE_URL: ctx.url },
    );
    const rendered = /rendered: (\d+) keys \((\d+) reused/.exec(s.m.stdout)!;
    const files = Number(/files:\s+(\d+) in/.exec(s.m.stdout)?.[1] ?? Number.NaN);
    const sha256 = /sha256:\s+([0-9a-f]{64})/.exec(s.m.stdout)![1]!;
    const id = /snapshot (\S+)/.exec(s.m.stdout)![1]!;
    ctx.report.rows.push({
      step: 'incremental',
      label: `incremental snapshot after the day (${int(Number(rendered[1]))} keys rendered, ${int(Number(rendered[2]))} reused)`,
      count: files,
      unit: 'files',
      wallS: s.m.wallS,
      cpuS: s.cpuS,
      postgresCpuS: s.postgresCpuS,
      peakRssKb: s.m.peakRssKb,
      othersCpuS: s.othersCpuS,
      loadBefore: s.loadBefore,
    });
    // Baseline and check: a full snapshot of the same state, elsewhere; same bytes expected.
    const full = await measured(
      ctx,
      'full snapshot, same state',
      tsxArgs(CLI, 'snapshot', '--out', path.join(ctx.dir, 'snapshots-full'), '--full'),
      { DATABASE_URL: ctx.url },
    );
    const fullSha = /sha256:\s+([0-9a-f]{64})/.exec(full.m.stdout)![1]!;
    ctx.report.rows.push({
      step: 'incremental',
      label: 'baseline: full snapshot of the same state (`--full`, another directory)',
      count: files,
      unit: 'files',
      wallS: full.m.wallS,
      cpuS: full.cpuS,
      postgresCpuS: full.postgresCpuS,
      peakRssKb: full.m.peakRssKb,
      othersCpuS: full.othersCpuS,
      loadBefore: full.loadBefore,
      baseline: true,
    });
    ctx.report.incremental = {
      id,
      sha256,
      fullSha256: fullSha,
      identical: sha256 === fullSha,
      rendered: Number(rendered[1]),
      reused: Number(rendered[2]),
    };
    if (sha256 !== fullSha)
      throw new Error(`incremental tarball ${sha256} differs from the full one ${fullSha}`);
    await rm(path.join(ctx.dir, 'snapshots-full'), { recursive: true, force: true });
  },

  async status(ctx) {
    for (const [label, args] of [
      ['`status`', ['status']],
      ['`recrawl --failed --dry-run`', ['recrawl', '--failed', '--dry-run']],
      ["reconcile (`crawl --resume`'s lookup, enqueue counted)", [RECONCILE_PROBE]],
    ] as const) {
      const argv = args[0] === RECONCILE_PROBE ? tsxArgs(RECONCILE_PROBE) : tsxArgs(CLI, ...args);
      const s = await measured(ctx, label, argv, {
        DATABASE_URL: ctx.url,
        PYPI_URL: 'http://127.0.0.1:9',
        WHEEL_METADATA: 'on',
        SDIST_EXTRACTION: 'static',
      });
      ctx.report.rows.push({
        step: 'status',
        label,
        count: ctx.report.loaded?.rows.files ?? ctx.files,
        unit: 'files',
        wallS: s.m.wallS,
        cpuS: s.cpuS,
        postgresCpuS: s.postgresCpuS,
        peakRssKb: s.m.peakRssKb,
        othersCpuS: s.othersCpuS,
        loadBefore: s.loadBefore,
      });
    }
  },
};

function parseList(text: string): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes: "${s}" is not a positive integer`);
    return n;
  });
}

// --- the report ---------------------------------------------------------------------------------

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const size = (b: number) => (b >= GiB ? `${fixed(b / GiB, 2)} GiB` : `${fixed(b / MiB, 1)} MiB`);

function rate(r: StepRow): string {
  return Number.isFinite(r.count) && r.wallS > 0 ? int(r.count / r.wallS) : '–';
}

function stepTable(rows: StepRow[]): string {
  return markdownTable(
    [
      'step',
      'count',
      'seconds',
      'per second',
      'CPU s (process)',
      'CPU s (PostgreSQL)',
      'CPU s per 1,000',
      'peak RSS MB',
      "others' CPU s",
      'load before',
    ],
    rows.map((r) => [
      r.label + (r.note ? ` — ${r.note}` : ''),
      `${int(r.count)} ${r.unit}`,
      fixed(r.wallS),
      rate(r),
      Number.isFinite(r.cpuS) ? fixed(r.cpuS) : '–',
      fixed(r.postgresCpuS),
      Number.isFinite(r.cpuS) ? fixed(((r.cpuS + r.postgresCpuS) / r.count) * 1000, 3) : '–',
      Number.isFinite(r.peakRssKb) ? mb(r.peakRssKb) : '–',
      fixed(r.othersCpuS),
      r.loadBefore.split(' ')[0]!,
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** A plan cut to what matters: the nodes and the timing lines. */
function trimPlan(plan: string, maxLines = 24): string {
  const lines = plan
    .split('\n')
    .filter(
      (l) => !/^\s*(Buffers: shared hit=\d+$|Planning:|Sort Method|Batches|Heap Blocks|Worker \d)/.test(l),
    );
  return lines.length <= maxLines
    ? lines.join('\n')
    : [...lines.slice(0, maxLines - 3), '  …', ...lines.slice(-2)].join('\n');
}

function explainSection(results: ExplainResult[], plans: boolean): string {
  const out: string[] = [];
  const big = ['projects', 'releases', 'files', 'extractions', 'requirements', 'changelog'];
  out.push(
    markdownTable(
      ['query', 'path', 'statements', 'ms (PostgreSQL)', 'sequential scans of big tables'],
      results.map((q) => {
        const seq = [...new Set(q.statements.flatMap((s) => s.seqScans))].filter((t) => big.includes(t));
        return [
          q.name,
          q.group,
          String(q.statements.length),
          fixed(
            q.statements.reduce((n, s) => n + s.executionMs, 0),
            1,
          ),
          seq.length ? seq.join(', ') : 'none',
        ];
      }),
      ['l', 'l', 'r', 'r', 'l'],
    ),
  );
  if (!plans) return out.join('\n');
  out.push('', '<details><summary>The plans (trimmed)</summary>', '');
  for (const q of results) {
    out.push(`**${q.name}**`, '');
    // The statement that costs most, in full; the others are in the JSON.
    const worst = [...q.statements].sort((a, b) => b.executionMs - a.executionMs)[0];
    if (!worst) continue;
    out.push('```', worst.sql.replace(/\s+/g, ' ').slice(0, 400), '', trimPlan(worst.plan), '```', '');
  }
  out.push('</details>');
  return out.join('\n');
}

function sizeSection(s: SizeReport, plans: boolean): string {
  const out: string[] = [`### ${int(s.files)} files`, ''];
  if (s.loaded) {
    out.push(
      `Loaded: ${Object.entries(s.loaded.rows)
        .map(([t, n]) => `${int(n)} ${t}`)
        .join(', ')} (${int(s.loaded.projects)} projects generated).`,
      '',
    );
  }
  if (s.rows.length > 0) out.push(stepTable(s.rows), '');
  if (s.tables) {
    const files = s.loaded?.rows.files ?? s.files;
    out.push(
      markdownTable(
        ['table', 'rows', 'table', 'indexes', 'per million files (table + indexes)'],
        s.tables
          .filter((t) => t.tableBytes + t.indexBytes > 64 * 1024)
          .map((t) => [
            t.table,
            int(t.rows),
            size(t.tableBytes),
            size(t.indexBytes),
            size(((t.tableBytes + t.indexBytes) / files) * 1e6),
          ]),
        ['l', 'r', 'r', 'r', 'r'],
      ),
      '',
      `Database: ${size(s.databaseBytes ?? 0)} (${size(((s.databaseBytes ?? 0) / files) * 1e6)} per million files).`,
      '',
    );
  }
  if (s.snapshot)
    out.push(
      `Full snapshot \`${s.snapshot.id}\`: tree ${size(s.snapshot.treeBytes)}, tarball ${size(s.snapshot.tarballBytes)} (sha256 \`${s.snapshot.sha256}\`, NAR \`${s.snapshot.narHash}\`).`,
      '',
    );
  if (s.day)
    out.push(
      `One day of changes: ${Object.entries(s.day)
        .map(([k, v]) => `${k} ${int(v)}`)
        .join(', ')}.`,
      '',
    );
  if (s.incremental)
    out.push(
      `Incremental snapshot \`${s.incremental.id}\`: tarball sha256 \`${s.incremental.sha256}\`; the full snapshot of the same state: \`${s.incremental.fullSha256}\` — ${s.incremental.identical ? 'byte-identical' : '**different**'}.`,
      '',
    );
  if (s.explain) out.push(explainSection(s.explain, plans), '');
  return out.join('\n');
}

function render(report: Report): string {
  const m = report.machine;
  return [
    `## ${HEADING}`,
    '',
    `\`${report.command}\` — ${report.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GiB RAM, ${m.kernel}, Node ${m.node}, ${report.postgres}; code at ${report.revision}; seed ${report.seed}.`,
    '',
    "Each step is its own process. seconds = wall time; per second = count ÷ seconds; CPU s (process) = user + system of the measured process (`/usr/bin/time`); CPU s (PostgreSQL) = CPU of the backends of the step's database and the server's own processes (WAL writer, checkpointer …), sampled from /proc every 200 ms; CPU s per 1,000 = both together per 1,000 of the count, the figure to scale by; others' CPU s = what the rest of the machine used meanwhile (/proc/stat): this machine is shared, and \"load before\" is its 1-minute load average when the step started. Baselines are measured in the same run, right after the step they belong to.",
    '',
    // The plans themselves for the largest size that has them (the others' are in the JSON).
    ...report.sizes.map((s) => sizeSection(s, s === report.sizes.filter((x) => x.explain).at(-1))),
  ].join('\n');
}

async function mergeJson(file: string, report: Report): Promise<Report> {
  try {
    const old = JSON.parse(await readFile(file, 'utf8')) as Report;
    const sizes = new Map(old.sizes.map((s) => [s.files, s]));
    for (const s of report.sizes) {
      const prev = sizes.get(s.files);
      sizes.set(
        s.files,
        prev
          ? {
              ...prev,
              ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)),
              rows: [...prev.rows.filter((r) => !s.rows.some((n) => n.step === r.step)), ...s.rows],
            }
          : s,
      );
    }
    const command = old.command.split('; ').includes(report.command)
      ? old.command
      : `${old.command}; ${report.command}`;
    return { ...report, command, sizes: [...sizes.values()].sort((a, b) => a.files - b.files) };
  } catch {
    return report;
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '100000' },
      steps: { type: 'string', default: ALL_STEPS.join(',') },
      seed: { type: 'string', default: '1' },
      postgres: {
        type: 'string',
        default: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      },
      database: { type: 'string' },
      keep: { type: 'boolean', default: false },
      doc: { type: 'string', default: path.join(REPO_ROOT, 'docs', 'benchmarks.md') },
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
  let report: Report;
  if (values['from-json']) {
    report = JSON.parse(await readFile(values['from-json'], 'utf8')) as Report;
  } else {
    const steps = values.steps.split(',').map((s) => s.trim());
    for (const s of steps)
      if (!STEPS[s]) throw new Error(`--steps: unknown step "${s}" (${ALL_STEPS.join(', ')})`);
    const sizes = parseList(values.sizes);
    if (values.database && sizes.length !== 1) throw new Error('--database takes one size');
    const seed = Number(values.seed);
    const postgres = await withAdmin(values.postgres, async (c) => {
      const v = (await c.query('SHOW server_version')).rows[0].server_version as string;
      const settings = (
        await c.query(
          `SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers','work_mem','maintenance_work_mem','autovacuum','max_wal_size','synchronous_commit')`,
        )
      ).rows as Array<{ name: string; setting: string; unit: string | null }>;
      return `PostgreSQL ${v} (local; ${settings.map((s) => `${s.name}=${s.setting}${s.unit ?? ''}`).join(', ')})`;
    });
    report = {
      command: `pnpm bench scale ${args.join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: machineFacts(),
      postgres,
      revision: gitRevision(),
      seed,
      sizes: [],
    };
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-scale-'));
    try {
      for (const files of sizes) {
        const dbName = values.database ?? `bench_scale_${files}_${randomBytes(4).toString('hex')}`;
        const url = databaseUrl(values.postgres, dbName);
        const dir = path.join(tmp, String(files));
        await mkdir(dir, { recursive: true });
        const sizeReport: SizeReport = { files, database: dbName, rows: [] };
        report.sizes.push(sizeReport);
        const ctx: Context = {
          files,
          seed,
          url,
          dbName,
          adminUrl: values.postgres,
          dir,
          day: 0,
          report: sizeReport,
        };
        if (!values.database) {
          await withAdmin(values.postgres, (c) => c.query(`CREATE DATABASE ${dbName}`));
          execFileSync(process.execPath, tsxArgs(CLI, 'migrate'), {
            cwd: REPO_ROOT,
            env: childEnv({ ...CHILD_ENV, DATABASE_URL: url }),
          });
        } else {
          const day = await withAdmin(
            url,
            async (c) =>
              (await c.query(`SELECT count(*)::int AS n FROM projects WHERE change_seq > 0`)).rows[0]
                .n as number,
          );
          ctx.day = day > 0 ? 1 : 0;
        }
        try {
          for (const step of steps) {
            progress(`${int(files)} files: ${step} …`);
            await STEPS[step]!(ctx);
            if (values.json)
              await writeFile(values.json, JSON.stringify(await mergeJson(values.json, report), null, 1));
            progress(`${int(files)} files: ${step} done`);
          }
        } finally {
          if (!values.keep && !values.database) {
            await withAdmin(values.postgres, (c) =>
              c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`),
            ).catch((err: unknown) => progress(`could not drop ${dbName}: ${String(err)}`));
          }
        }
      }
    } finally {
      if (!values.keep) await rm(tmp, { recursive: true, force: true });
      else progress(`kept ${tmp}`);
    }
    if (values.json) report = await mergeJson(values.json, report);
  }
  const section = render(report);
  if (!values['no-doc']) await writeDocSection(values.doc, HEADING, section);
  process.stdout.write(`${section}\n`);
  return 0;
}
