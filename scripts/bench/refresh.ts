// pnpm bench refresh: what one day's refresh costs against the PyPI-shaped index (issue 9 §5).
//
// For each scale: the local server's PyPI-shaped preset is started at day 0 (its own process),
// and a second one at day 1 tells which projects day 1 changes. The database is given the
// day-0 state of those projects (`crawl --project …`, the baseline: what crawling the same
// projects from scratch costs), the server is advanced by one day, and `crawl --since <the
// start of day 0>` (a time, so the crawl finds its serial by bisecting the changelog) is
// measured; its requests are counted by the server (/_admin/stats). Then `crawl --resume`,
// `status` and `recrawl --failed --dry-run` are timed on the same database.
//
// The sdist stage runs with SDIST_EXTRACTION=static (static metadata, sdists without it wait
// for a sandbox): the sandbox's cost per sdist is `pnpm bench sdist`'s; here only requests and
// the crawl's own work are measured.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  childEnv,
  databaseUrl,
  fixed,
  gitRevision,
  int,
  type LocalServer,
  loadAverage,
  type MachineFacts,
  type Measured,
  machineFacts,
  markdownTable,
  mb,
  measure,
  progress,
  REPO_ROOT,
  startServer,
  tsxArgs,
  withAdmin,
  writeDocSection,
  xmlrpc,
} from './common';

const HEADING = 'The refresh of one day (`pnpm bench refresh`)';
const CLI = 'packages/cli/src/main.ts';

const USAGE = `usage: pnpm bench refresh [--scales 0.01,0.1,1] [--index-only 1] [--seed 1] [--postgres URL]
                          [--doc docs/benchmarks.md] [--no-doc] [--json FILE] [--from-json FILE]

  --scales     sizes of the PyPI-shaped preset (1 = PyPI: about 737,000 projects, 11.6 million files)
  --index-only at these scales both crawls store the file index only (WHEEL_METADATA=off,
               SDIST_EXTRACTION=off): the day-0 state of the heavy-tailed projects a day touches
               holds hundreds of thousands of files at PyPI's size, too many to read on 2 cores
  --postgres   administrative PostgreSQL URL (a database is created per scale, dropped afterwards)
  --json FILE  every measurement as JSON; --from-json FILE writes the section from such a file`;

interface Step {
  label: string;
  wallS: number;
  cpuS: number;
  peakRssKb: number;
  machineBusyS: number;
  loadBefore: string;
}

interface ServerCounts {
  requests: number;
  bytesSent: number;
  byRoute: Record<string, number>;
  byXmlrpcMethod: Record<string, number>;
}

interface ScaleReport {
  scale: number;
  /** WHEEL_METADATA=off and SDIST_EXTRACTION=off for both crawls: pages and the changelog only. */
  indexOnly: boolean;
  /** The preset's size at day 0. */
  indexProjects: number;
  lastSerial: number;
  /** What advancing by one day changed (the server's own count). */
  day: { events: number; projects: number; created: number };
  /** Projects of day 1 that exist at day 0 (crawled first, as the state before the refresh). */
  before: { projects: number; filesAdded: number; counts: ServerCounts; step: Step };
  refresh: {
    projectsCrawled: number;
    filesAdded: number;
    filesRemoved: number;
    counts: ServerCounts;
    step: Step;
  };
  quick: Step[];
}

interface Report {
  command: string;
  date: string;
  machine: MachineFacts;
  revision: string;
  seed: number;
  scales: ScaleReport[];
}

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** Every changelog row after `since`: [name, action, serial] of each. */
async function changelogSince(url: string, since: number): Promise<Array<[string, string, number]>> {
  const rows: Array<[string, string, number]> = [];
  for (;;) {
    const text = await xmlrpc(
      url,
      'changelog_since_serial',
      `<param><value><int>${since}</int></value></param>`,
    );
    const page: Array<[string, string, number]> = [];
    // Each row is an array of scalars: name, version (or nil), timestamp, action, serial.
    for (const m of text.matchAll(
      /<value><array><data>((?:(?!<array>)[\s\S])*?)<\/data><\/array><\/value>/g,
    )) {
      const values = [...m[1]!.matchAll(/<(string|int|i4|nil)\s*\/?>(?:([^<]*)<\/\1>)?/g)].map((v) =>
        v[1] === 'nil' ? '' : unescapeXml(v[2] ?? ''),
      );
      // (the outer array of an empty page matches too, with no values)
      if (values.length >= 4) page.push([values[0]!, values[3]!, Number(values.at(-1))]);
    }
    if (page.length === 0) return rows;
    if (!Number.isFinite(page.at(-1)![2]))
      throw new Error(`unreadable changelog row: ${JSON.stringify(page.at(-1))} ${text.slice(-600)}`);
    rows.push(...page);
    since = page.at(-1)![2];
  }
}

async function admin(url: string, what: string, method = 'GET'): Promise<unknown> {
  const res = await fetch(`${url}/_admin/${what}`, { method });
  if (res.status !== 200) throw new Error(`/_admin/${what}: ${res.status} ${await res.text()}`);
  return res.json();
}

function step(label: string, m: Measured, loadBefore: string): Step {
  return {
    label,
    wallS: m.wallS,
    cpuS: m.userS + m.sysS,
    peakRssKb: m.peakRssKb,
    machineBusyS: m.machineBusyS,
    loadBefore,
  };
}

const counts = (s: ServerCounts): ServerCounts => ({
  requests: s.requests,
  bytesSent: s.bytesSent,
  byRoute: s.byRoute,
  byXmlrpcMethod: s.byXmlrpcMethod,
});

function summaryNumber(stdout: string, label: string): number {
  const m = new RegExp(`^${label}:\\s+(\\d+)`, 'm').exec(stdout);
  return m ? Number(m[1]) : Number.NaN;
}

async function measureScale(
  scale: number,
  seed: number,
  adminUrl: string,
  indexOnly: boolean,
): Promise<ScaleReport> {
  const spec = `pypi,scale=${scale},seed=${seed}`;
  const dbName = `pypi_graph_bench_refresh_${String(scale).replace('.', '_')}_${process.pid}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-refresh-'));
  let server: LocalServer | undefined;
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${dbName}`));
  try {
    progress(`scale ${scale}: the servers at day 0 and day 1`);
    server = await startServer(spec, ['--day', '0']);
    const day0 = (await admin(server.url, 'day')) as { lastSerial: number; asOf: string; projects: number };
    const next = await startServer(spec, ['--day', '1']);
    let rows: Array<[string, string, number]>;
    try {
      rows = await changelogSince(next.url, day0.lastSerial);
    } finally {
      await next.close();
    }
    const changed = new Set(rows.map((r) => r[0]));
    const created = new Set(rows.filter((r) => r[1] === 'create').map((r) => r[0]));
    const existing = [...changed].filter((n) => !created.has(n)).sort();
    progress(
      `scale ${scale}: day 1 changes ${changed.size} projects (${created.size} new); ${existing.length} exist at day 0`,
    );

    const env = childEnv({
      DATABASE_URL: databaseUrl(adminUrl, dbName),
      PYPI_URL: server.url,
      DATA_DIR: path.join(dir, 'data'),
      SDIST_EXTRACTION: indexOnly ? 'off' : 'static',
      ...(indexOnly ? { WHEEL_METADATA: 'off' } : {}),
      HTTP_RPS_PER_HOST: '0',
      LOG_LEVEL: 'warn',
      CI: '1',
    });
    await measure({ args: tsxArgs(CLI, 'migrate'), env, label: 'migrate' });

    // The state before the refresh: the day-0 state of the projects day 1 changes.
    await admin(server.url, 'stats', 'DELETE');
    let load = loadAverage();
    const beforeM = await measure({
      args: tsxArgs(CLI, 'crawl', '--project', ...existing),
      env,
      label: `crawl --project (${existing.length} projects, day 0)`,
      heartbeatMs: 60_000,
    });
    const beforeCounts = counts((await admin(server.url, 'stats')) as ServerCounts);

    // One day later.
    const change = (await admin(server.url, 'advance-day', 'POST')) as { events: number; projects: number };
    await admin(server.url, 'stats', 'DELETE');
    load = loadAverage();
    const refreshM = await measure({
      args: tsxArgs(CLI, 'crawl', '--since', day0.asOf),
      env: { ...env, XMLRPC_RPS: '1' },
      label: `crawl --since ${day0.asOf}`,
      heartbeatMs: 60_000,
    });
    const refreshCounts = counts((await admin(server.url, 'stats')) as ServerCounts);

    const quick: Step[] = [];
    for (const args of [['crawl', '--resume'], ['status'], ['recrawl', '--failed', '--dry-run']]) {
      const l = loadAverage();
      const m = await measure({ args: tsxArgs(CLI, ...args), env, label: args.join(' ') });
      quick.push(step(args.join(' '), m, l));
    }
    return {
      scale,
      indexOnly,
      indexProjects: day0.projects,
      lastSerial: day0.lastSerial,
      day: { events: change.events, projects: change.projects, created: created.size },
      before: {
        projects: existing.length,
        filesAdded: summaryNumber(beforeM.stdout, 'files added'),
        counts: beforeCounts,
        step: step('crawl --project (day-0 state)', beforeM, load),
      },
      refresh: {
        projectsCrawled: summaryNumber(refreshM.stdout, 'projects crawled'),
        filesAdded: summaryNumber(refreshM.stdout, 'files added'),
        filesRemoved: summaryNumber(refreshM.stdout, 'files removed'),
        counts: refreshCounts,
        step: step('crawl --since (the day)', refreshM, load),
      },
      quick,
    };
  } finally {
    await server?.close();
    await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    await rm(dir, { recursive: true, force: true });
  }
}

function routeCount(c: ServerCounts, ...routes: string[]): number {
  return routes.reduce((a, r) => a + (c.byRoute[r] ?? 0), 0);
}

function section(report: Report): string {
  const m = report.machine;
  const out: string[] = [
    `## ${HEADING}`,
    '',
    `\`${report.command}\` — ${report.date}, revision ${report.revision}; ${m.cpus} cores (${m.cpuModel}), ${m.memoryGb} GiB, ${m.kernel}, Node ${m.node}.`,
    '',
    "The local server's PyPI-shaped preset (`pnpm pypi-server --synthetic pypi,scale=F`, its own process) is started at day 0; a second one at day 1 says which projects day 1 changes. The database (PostgreSQL, embedded runner) is given the day-0 state of those projects with `crawl --project …` — the **baseline**: what crawling the same projects from scratch costs — then the server is advanced by one day (`POST /_admin/advance-day`) and `crawl --since <start of day 0>` runs: a time, so the crawl finds its serial by bisecting the changelog. Requests are counted by the server (`/_admin/stats`). `SDIST_EXTRACTION=static`: sdists without static metadata wait for a sandbox (its cost per sdist is `pnpm bench sdist`'s), `HTTP_RPS_PER_HOST=0` (local server), `XMLRPC_RPS=1` (PyPI's polite rate) for the refresh. At the scales marked *index only* both crawls store the file index without reading any metadata (`WHEEL_METADATA=off SDIST_EXTRACTION=off`): the day-0 state of the heavy-tailed projects one day touches is too many files to read on this machine in the time; the smaller scales show what reading new files costs (about one request per new file). Seconds are wall time of the whole command (start-up included); CPU s its user + system time; machine CPU s what every process used meanwhile (the server and PostgreSQL included).",
    '',
  ];
  const head = [
    'scale',
    'index projects',
    'day 1: events',
    'projects changed (new)',
    'step',
    'projects',
    'files added',
    'requests',
    'XML-RPC calls',
    'JSON + Simple pages',
    'metadata / file requests',
    'requests per changed project',
    's',
    'CPU s',
    'machine CPU s',
    'peak RSS MB',
  ];
  const rows: string[][] = [];
  for (const s of report.scales) {
    for (const [label, projects, files, c, st] of [
      [
        'baseline: the same projects from scratch (day 0)',
        s.before.projects,
        s.before.filesAdded,
        s.before.counts,
        s.before.step,
      ],
      [
        'refresh: `crawl --since` the day',
        s.refresh.projectsCrawled,
        s.refresh.filesAdded,
        s.refresh.counts,
        s.refresh.step,
      ],
    ] as const) {
      const xml = Object.values(c.byXmlrpcMethod).reduce((a, n) => a + n, 0);
      rows.push([
        `${s.scale}${s.indexOnly ? ' (index only)' : ''}`,
        int(s.indexProjects),
        int(s.day.events),
        `${int(s.day.projects)} (${int(s.day.created)})`,
        label,
        int(projects),
        int(files),
        int(c.requests),
        `${int(xml)} (${Object.entries(c.byXmlrpcMethod)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`,
        int(routeCount(c, 'json-project', 'simple-project', 'json-release')),
        int(routeCount(c, 'metadata', 'file')),
        fixed(c.requests / Math.max(1, s.day.projects), 2),
        fixed(st.wallS),
        fixed(st.cpuS),
        fixed(st.machineBusyS),
        mb(st.peakRssKb),
      ]);
    }
  }
  out.push(markdownTable(head, rows), '');
  out.push('Commands that must answer in seconds, on the database after the refresh:', '');
  out.push(
    markdownTable(
      ['scale', 'command', 's', 'CPU s', 'peak RSS MB', 'load before'],
      report.scales.flatMap((s) =>
        s.quick.map((q) => [
          String(s.scale),
          `\`${q.label}\``,
          fixed(q.wallS),
          fixed(q.cpuS),
          mb(q.peakRssKb),
          q.loadBefore,
        ]),
      ),
    ),
    '',
  );
  for (const s of report.scales) {
    const xml = Object.values(s.refresh.counts.byXmlrpcMethod).reduce((a, n) => a + n, 0);
    out.push(
      `At scale ${s.scale} (last serial ${int(s.lastSerial)}, log2 ≈ ${fixed(Math.log2(s.lastSerial), 1)}): the refresh made ${int(xml)} XML-RPC calls and ${fixed(
        s.refresh.counts.requests / Math.max(1, s.day.projects),
        2,
      )} requests per changed project in all, against ${fixed(s.before.counts.requests / Math.max(1, s.before.projects), 2)} per project for the same projects crawled from scratch.`,
    );
  }
  out.push('');
  return out.join('\n');
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      scales: { type: 'string', default: '0.01,0.1,1' },
      'index-only': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      postgres: {
        type: 'string',
        default: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      },
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
    const seed = Number(values.seed);
    const scales = values.scales.split(',').map(Number);
    if (scales.some((s) => !(s > 0 && s <= 1))) throw new Error(`--scales ${values.scales}: each in (0, 1]`);
    report = {
      command: `pnpm bench refresh ${args.join(' ')}`.trim(),
      date: new Date().toISOString().slice(0, 10),
      machine: machineFacts(),
      revision: gitRevision(),
      seed,
      scales: [],
    };
    const indexOnly = new Set(values['index-only'].split(',').filter(Boolean).map(Number));
    for (const scale of scales) {
      report.scales.push(await measureScale(scale, seed, values.postgres, indexOnly.has(scale)));
      if (values.json) await writeFile(values.json, JSON.stringify(report, null, 2));
    }
  }
  const text = section(report);
  process.stdout.write(text);
  if (!values['no-doc']) await writeDocSection(values.doc, HEADING, text);
  return 0;
}
