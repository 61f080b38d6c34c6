// pnpm bench project-peak: the peak memory of one project job against the project's size. A
// project job fetches the project's JSON API answer and its Simple page, merges them and stores
// the files in one transaction; PyPI's largest projects answer with tens of megabytes. Each row
// crawls one project of the PyPI-shaped index alone (`crawl --project P`, wheel and sdist stages
// off) into a new, empty PostgreSQL database, under /usr/bin/time: its peak RSS, wall and CPU
// seconds. The baseline is the same command of older code (a git worktree of --baseline), run
// in turn with this code on the same server, project by project, --runs times each.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { presetCensus } from '@pypi-graph/pypi-server';
import pg from 'pg';
import {
  childEnv,
  databaseUrl,
  fixed,
  gitRevision,
  int,
  machineFacts,
  markdownTable,
  mb,
  measure,
  progress,
  REPO_ROOT,
  startServer,
  textTable,
  tsxArgs,
  withAdmin,
  writeDocSection,
} from './common';

const HEADING = "One project job's peak memory against the project's size (`pnpm bench project-peak`)";

const USAGE = `usage: pnpm bench project-peak [--scale 1] [--projects Pib_Mazoz,tof-fidad,Gem-Gitur]
                               [--baseline 310d981] [--runs 3] [--postgres URL]
                               [--doc docs/benchmarks.md] [--no-doc]

  --scale      the PyPI-shaped index served (pnpm pypi-server --synthetic pypi,scale=F)
  --projects   the projects crawled, one row each (the defaults: a small one, one of 7,031
               files and the largest of scale 1, 21,563 files)
  --baseline   the git revision whose code is the baseline (a worktree of it is made under the
               system's temporary directory, its dependencies installed offline; it is kept for
               the next run: \`git worktree remove --force DIR\` removes it)
  --runs       runs of each project with each code, in turn
  --postgres   administrative PostgreSQL URL: a new database per run, dropped afterwards
  --doc        where the "## ${HEADING}" section is written
  --no-doc     print the results only`;

interface Run {
  peakRssKb: number;
  wallS: number;
  cpuS: number;
}

interface Row {
  project: string;
  files: number;
  jsonBytes: number;
  simpleBytes: number;
  current: Run[];
  baseline: Run[];
}

function size(bytes: number): string {
  return bytes < 1e5 ? `${fixed(bytes / 1e3, 0)} KB` : `${fixed(bytes / 1e6)} MB`;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A worktree of `revision` with its dependencies, or the reason there is none. */
function baselineCheckout(revision: string): string {
  const dir = path.join(os.tmpdir(), `pypi-graph-bench-baseline-${revision}`);
  if (!existsSync(path.join(dir, 'node_modules'))) {
    execFileSync('git', ['worktree', 'add', '--force', '--detach', dir, revision], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    });
    progress(`baseline ${revision}: installing its dependencies offline in ${dir}`);
    execFileSync('pnpm', ['install', '--offline', '--frozen-lockfile', '--silent'], {
      cwd: dir,
      stdio: 'inherit',
    });
  }
  return dir;
}

async function bodySize(url: string, accept: string): Promise<number> {
  const res = await fetch(url, { headers: { accept } });
  return (await res.arrayBuffer()).byteLength;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string', default: '1' },
      projects: { type: 'string', default: 'Pib_Mazoz,tof-fidad,Gem-Gitur' },
      baseline: { type: 'string', default: '310d981' },
      runs: { type: 'string', default: '3' },
      postgres: {
        type: 'string',
        default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scale = Number(values.scale);
  const runs = Number(values.runs);
  const projects = values.projects.split(',').filter(Boolean);
  if (!(scale > 0) || !Number.isInteger(runs) || runs < 1 || projects.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const facts = machineFacts();
  const revision = gitRevision();
  const base = baselineCheckout(values.baseline);
  const census = presetCensus(`pypi,scale=${scale}`);
  const server = await startServer(`pypi,scale=${scale}`);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-peak-'));
  const rows: Row[] = [];
  try {
    for (const project of projects) {
      const row: Row = {
        project,
        files: 0,
        jsonBytes: await bodySize(`${server.url}/pypi/${project}/json`, 'application/json'),
        simpleBytes: await bodySize(
          `${server.url}/simple/${project.toLowerCase().replace(/[-_.]+/g, '-')}/`,
          'application/vnd.pypi.simple.v1+json',
        ),
        current: [],
        baseline: [],
      };
      for (let i = 0; i < runs; i++) {
        // In turn, the order swapped every run: neither code always meets a warmer machine.
        const order: Array<['current' | 'baseline', string]> =
          i % 2 === 0
            ? [
                ['baseline', base],
                ['current', REPO_ROOT],
              ]
            : [
                ['current', REPO_ROOT],
                ['baseline', base],
              ];
        for (const [which, cwd] of order) {
          const db = `bench_peak_${process.pid}_${rows.length}_${i}_${which}`;
          await withAdmin(values.postgres, (c) => c.query(`CREATE DATABASE ${db}`));
          try {
            const url = databaseUrl(values.postgres, db);
            const m = await measure({
              label: `${project} (${which}, run ${i + 1})`,
              cwd,
              args: tsxArgs(path.join(cwd, 'packages/cli/src/main.ts'), 'crawl', '--project', project),
              env: childEnv({
                DATABASE_URL: url,
                PYPI_URL: server.url,
                DATA_DIR: path.join(dataDir, db),
                WHEEL_METADATA: 'off',
                SDIST_EXTRACTION: 'off',
                LOG_LEVEL: 'warn',
                CI: '1',
              }),
            });
            row[which].push({ peakRssKb: m.peakRssKb, wallS: m.wallS, cpuS: m.userS + m.sysS });
            const client = new pg.Client({ connectionString: url });
            await client.connect();
            const n = Number(
              (await client.query('SELECT count(*) AS n FROM files WHERE NOT removed')).rows[0].n,
            );
            await client.end();
            if (row.files !== 0 && n !== row.files)
              throw new Error(`${project}: ${which} stored ${n} files, not ${row.files}`);
            row.files = n;
            progress(
              `${project} ${which} run ${i + 1}: ${n} files, peak ${mb(m.peakRssKb)} MB, ${fixed(m.wallS)} s`,
            );
          } finally {
            await withAdmin(values.postgres, (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
          }
        }
      }
      rows.push(row);
    }
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }

  const headers = [
    'project',
    'files',
    'JSON API answer',
    'Simple page',
    `peak RSS, baseline (${values.baseline})`,
    'peak RSS, this code',
    'wall s, baseline',
    'wall s, this code',
    'CPU s, baseline',
    'CPU s, this code',
  ];
  const range = (rs: Run[], f: (r: Run) => number, digits = 0) => {
    const v = rs.map(f);
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    return lo === hi || fixed(lo, digits) === fixed(hi, digits)
      ? fixed(lo, digits)
      : `${fixed(lo, digits)}–${fixed(hi, digits)}`;
  };
  const table = rows.map((r) => [
    `\`${r.project}\``,
    int(r.files),
    size(r.jsonBytes),
    size(r.simpleBytes),
    `${range(r.baseline, (x) => x.peakRssKb / 1024)} MB`,
    `${range(r.current, (x) => x.peakRssKb / 1024)} MB`,
    range(r.baseline, (x) => x.wallS, 1),
    range(r.current, (x) => x.wallS, 1),
    range(r.baseline, (x) => x.cpuS, 1),
    range(r.current, (x) => x.cpuS, 1),
  ]);
  const align: Array<'l' | 'r'> = ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'];
  const small = rows[0]!;
  const large = rows.at(-1)!;
  const over = (rs: Run[], ref: Run[]) =>
    (median(rs.map((x) => x.peakRssKb)) - median(ref.map((x) => x.peakRssKb))) / 1024;
  const out = [
    `## ${HEADING}`,
    '',
    `\`pnpm bench project-peak --scale ${values.scale} --projects ${values.projects} --baseline ${values.baseline} --runs ${runs}\``,
    `(code ${revision}, baseline ${values.baseline}; ${facts.cpus} CPUs (${facts.cpuModel}), ${facts.memoryGb} GiB, Node ${facts.node}, ${new Date().toISOString().slice(0, 16)} UTC).`,
    '',
    `Each run is \`pnpm pypi-graph crawl --project P\` against \`pnpm pypi-server --synthetic pypi,scale=${values.scale}\` ` +
      '(PyPI-shaped; its largest project has ' +
      `${int(census.maxFilesPerProject)} files), with \`WHEEL_METADATA=off\` and \`SDIST_EXTRACTION=off\`, ` +
      'into a new, empty PostgreSQL database, as its own `node` process under `/usr/bin/time` (peak RSS is ' +
      `the kernel's maxrss of that process). ${runs} runs of each code per project, in turn. The baseline is ` +
      `the same command of the code at ${values.baseline}, from a worktree of it.`,
    '',
    markdownTable(headers, table, align),
    '',
    `Above the smallest project's peak (medians): \`${large.project}\` costs ${fixed(over(large.baseline, small.baseline), 0)} MB ` +
      `more with the baseline and ${fixed(over(large.current, small.current), 0)} MB more with this code.`,
    '',
  ];
  process.stdout.write(`${textTable(headers, table, align)}\n`);
  if (!values['no-doc']) {
    const doc = path.resolve(REPO_ROOT, values.doc);
    await writeDocSection(doc, HEADING, out.join('\n'));
    progress(`wrote "## ${HEADING}" in ${path.relative(REPO_ROOT, doc)}`);
  }
  return 0;
}
