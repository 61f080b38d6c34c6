// pnpm bench index: a synthetic index served by the local PyPI server, crawled with
// `crawl --all` into PostgreSQL and into PGlite, then snapshotted from each; files/s and peak RSS
// of every step, at two or more index sizes, so that memory growth with the index shows.
// Baselines measured in the same run: the crawl's HTTP requests without a database
// (scripts/bench/http-baseline.ts) and the snapshot's row reads without writing
// (scripts/bench/read-rows.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  childEnv,
  databaseUrl,
  fixed,
  gitRevision,
  installedVersion,
  int,
  type LocalServer,
  loadAverage,
  type MachineFacts,
  type Measured,
  machineFacts,
  markdownTable,
  mb,
  measure,
  postgresSettings,
  progress,
  REPO_ROOT,
  type RssSample,
  startServer,
  textTable,
  tsxArgs,
  withAdmin,
  writeDocSection,
} from './common';

const HEADING = 'Index crawl';
const CLI = 'packages/cli/src/main.ts';

const USAGE = `usage: pnpm bench index [--sizes 20000,100000] [--files-per-project 5] [--seed 1]
                        [--concurrency 16] [--postgres URL] [--doc docs/benchmarks.md] [--no-doc] [--json FILE] [--from-json FILE] [--keep]

  --sizes              index sizes in files (projects = size / files-per-project, rounded up)
  --files-per-project  files per synthetic project
  --seed               seed of the synthetic index
  --concurrency        PROJECT_CONCURRENCY of the crawls and the HTTP baseline
  --postgres           administrative PostgreSQL URL: a fresh database is created and dropped per size
  --doc                where the "## ${HEADING}" section is written
  --no-doc             print the results only
  --json FILE          where to write every measurement as JSON (default: a file in the temporary directory)
  --from-json FILE     write the section again from such a file, without measuring
  --keep               keep the temporary directory (databases, snapshots) and databases`;

type StepKind = 'baseline-http' | 'crawl' | 'startup' | 'read-rows' | 'snapshot';

interface StepResult {
  kind: StepKind;
  backend?: 'postgres' | 'pglite';
  label: string;
  files: number;
  measured: Measured;
  /** CPU seconds the local PyPI server spent during the step (HTTP steps only). */
  serverCpuS?: number;
  /** The step's baseline files/s, for the ratio column. */
  baselineRate?: number;
  note?: string;
}

interface SizeResult {
  files: number;
  projects: number;
  filesPerProject: number;
  steps: StepResult[];
  sha256: { postgres: string; pglite: string };
  postgresBytes: number;
  pgliteBytes: number;
}

/** Everything one run measured: what the doc section is written from. */
interface Report {
  command: string;
  /** ISO time of the start. */
  date: string;
  machine: MachineFacts;
  postgres: string;
  pgliteVersion: string;
  revision: string;
  loadAfter: string;
  filesPerProject: number;
  seed: number;
  concurrency: number;
  results: SizeResult[];
}

const rate = (s: StepResult) => s.files / s.measured.wallS;

function parseSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--sizes: "${text}" is not a list of positive integers`);
  }
  return sizes;
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${text}" is not a positive integer`);
  return n;
}

function match(text: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(text);
  if (!m) throw new Error(`no ${what} in the output:\n${text}`);
  return m;
}

async function duBytes(dir: string): Promise<number> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile('du', ['-sb', dir], (err, out) => resolve(err ? Number.NaN : Number(out.split('\t')[0])));
  });
}

/** RSS at 25, 50, 75 and 100 % of a run's wall time, from the samples. */
function rssCurve(samples: RssSample[], wallS: number): string {
  if (samples.length === 0) return '–';
  return [0.25, 0.5, 0.75, 1]
    .map((f) => {
      const target = f * wallS;
      let best = samples[0]!;
      for (const s of samples) if (Math.abs(s.t - target) < Math.abs(best.t - target)) best = s;
      return mb(best.rssKb);
    })
    .join(' / ');
}

async function runSize(
  files: number,
  opts: {
    filesPerProject: number;
    seed: number;
    concurrency: number;
    adminUrl: string;
    tmp: string;
    keep: boolean;
  },
): Promise<SizeResult> {
  const projects = Math.ceil(files / opts.filesPerProject);
  const expected = projects * opts.filesPerProject;
  const spec = `projects=${projects},files-per-project=${opts.filesPerProject},seed=${opts.seed}`;
  const dir = path.join(opts.tmp, String(expected));
  await mkdir(dir, { recursive: true });
  const dbName = `bench_${randomBytes(6).toString('hex')}`;
  const pgUrl = databaseUrl(opts.adminUrl, dbName);
  const pgliteDataDir = path.join(dir, 'pglite-data');
  const backends = {
    postgres: { DATABASE_URL: pgUrl, DATA_DIR: path.join(dir, 'postgres-data') },
    pglite: { DATA_DIR: pgliteDataDir },
  } as const;
  const common = {
    LOG_LEVEL: 'warn',
    HTTP_RPS_PER_HOST: '0',
    // The file index only: the wheel and sdist stages have benchmarks of their own.
    WHEEL_METADATA: 'off',
    SDIST_EXTRACTION: 'off',
    PROJECT_CONCURRENCY: String(opts.concurrency),
    CI: '1',
  };
  const steps: StepResult[] = [];
  progress(`index of ${int(expected)} files (${spec}); PostgreSQL database ${dbName}, files in ${dir}`);
  await withAdmin(opts.adminUrl, (c) => c.query(`CREATE DATABASE ${dbName}`));
  try {
    // A fresh server for every HTTP step: each one starts from the same cold server.
    const withServer = async <T>(fn: (server: LocalServer) => Promise<T>): Promise<T> => {
      const server = await startServer(spec);
      try {
        return await fn(server);
      } finally {
        await server.close();
      }
    };
    const step = async (
      result: Omit<StepResult, 'measured' | 'files'>,
      args: string[],
      env: NodeJS.ProcessEnv,
      files: (m: Measured) => number,
      server?: LocalServer,
    ): Promise<StepResult & { measured: Measured }> => {
      progress(`${int(expected)} files: ${result.label} …`);
      const cpu0 = server?.cpuSeconds();
      const measured = await measure({ args, env, label: result.label });
      const out: StepResult = { ...result, measured, files: files(measured) };
      if (server && cpu0 !== undefined) out.serverCpuS = server.cpuSeconds() - cpu0;
      steps.push(out);
      progress(
        `${int(expected)} files: ${result.label}: ${int(out.files)} files in ${fixed(measured.wallS)} s = ` +
          `${int(rate(out))} files/s, peak RSS ${mb(measured.peakRssKb)} MB`,
      );
      return out;
    };

    const baseline = await withServer((server) =>
      step(
        { kind: 'baseline-http', label: 'HTTP only, no database (baseline)' },
        tsxArgs(
          'scripts/bench/http-baseline.ts',
          '--url',
          server.url,
          '--concurrency',
          String(opts.concurrency),
        ),
        childEnv({}),
        (m) => (JSON.parse(m.stdout.trim().split('\n').at(-1)!) as { files: number }).files,
        server,
      ),
    );
    if (baseline.files !== expected)
      throw new Error(`the baseline saw ${baseline.files} files, not ${expected}`);
    const httpRate = rate(baseline);

    // What every command pays before any work (process start-up, loading the modules, opening the
    // database, migrating it; for PGlite also creating its directory): measured on its own, so
    // that the crawl's figures are the crawl's.
    for (const backend of ['postgres', 'pglite'] as const) {
      await step(
        {
          kind: 'startup',
          backend,
          label: `start-up: migrate the empty ${backend === 'postgres' ? 'PostgreSQL database' : 'PGlite directory'}`,
        },
        tsxArgs(CLI, 'migrate'),
        childEnv({ ...common, ...backends[backend] }),
        () => 0,
      );
    }
    for (const backend of ['postgres', 'pglite'] as const) {
      await withServer((server) =>
        step(
          {
            kind: 'crawl',
            backend,
            label: `crawl --all → ${backend === 'postgres' ? 'PostgreSQL' : 'PGlite'}`,
            baselineRate: httpRate,
          },
          tsxArgs(CLI, 'crawl', '--all'),
          childEnv({ ...common, ...backends[backend], PYPI_URL: server.url }),
          (m) => {
            if (!/failures:\s+none/.test(m.stdout))
              throw new Error(`the crawl reported failures:\n${m.stdout}`);
            const added = Number(match(m.stdout, /files added:\s+(\d+)/, 'files added')[1]);
            if (added !== expected) throw new Error(`the crawl added ${added} files, not ${expected}`);
            return added;
          },
          server,
        ),
      );
    }
    const sha256 = { postgres: '', pglite: '' };
    for (const backend of ['postgres', 'pglite'] as const) {
      const name = backend === 'postgres' ? 'PostgreSQL' : 'PGlite';
      const read = await step(
        { kind: 'read-rows', backend, label: `read the snapshot's rows ← ${name} (baseline)` },
        tsxArgs(
          'scripts/bench/read-rows.ts',
          ...(backend === 'postgres'
            ? ['--database-url', pgUrl]
            : ['--pglite', path.join(pgliteDataDir, 'pglite')]),
        ),
        childEnv({}),
        (m) => (JSON.parse(m.stdout.trim().split('\n').at(-1)!) as { files: number }).files,
      );
      const snap = await step(
        { kind: 'snapshot', backend, label: `snapshot ← ${name}`, baselineRate: rate(read) },
        tsxArgs(CLI, 'snapshot', '--out', path.join(dir, `snapshots-${backend}`)),
        childEnv({ ...common, ...backends[backend] }),
        (m) => Number(match(m.stdout, /files:\s+(\d+) in \d+ projects/, 'file count')[1]),
      );
      sha256[backend] = match(snap.measured.stdout, /sha256:\s+([0-9a-f]{64})/, 'tarball sha256')[1]!;
      if (snap.files !== expected)
        throw new Error(`the snapshot from ${name} has ${snap.files} files, not ${expected}`);
    }
    progress(`${int(expected)} files: tarball sha256 PostgreSQL ${sha256.postgres}, PGlite ${sha256.pglite}`);

    const postgresBytes = await withAdmin(opts.adminUrl, async (c) =>
      Number((await c.query('SELECT pg_database_size($1) AS n', [dbName])).rows[0].n),
    );
    const pgliteBytes = await duBytes(path.join(pgliteDataDir, 'pglite'));
    return {
      files: expected,
      projects,
      filesPerProject: opts.filesPerProject,
      steps,
      sha256,
      postgresBytes,
      pgliteBytes,
    };
  } finally {
    if (!opts.keep) {
      await withAdmin(opts.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(
        (err: unknown) => progress(`could not drop ${dbName}: ${String(err)}`),
      );
    }
  }
}

const ALIGN: Array<'l' | 'r'> = ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'];
const HEADERS = [
  'step',
  'files',
  'seconds',
  'files/s',
  'vs baseline',
  'peak RSS MB',
  'CPU s',
  'server CPU s',
  "others' CPU s",
];

/** CPU seconds the rest of the machine used during a step (for PostgreSQL steps, its backends too). */
function othersCpuS(s: StepResult): number {
  return s.measured.machineBusyS - s.measured.userS - s.measured.sysS - (s.serverCpuS ?? 0);
}

/** More than half a CPU busy with other work: the step's wall time is inflated by contention. */
const contended = (s: StepResult) => s.backend !== 'postgres' && othersCpuS(s) / s.measured.wallS > 0.5;

function stepRows(size: SizeResult): string[][] {
  return size.steps.map((s) => [
    s.label,
    s.kind === 'startup' ? '–' : int(s.files),
    fixed(s.measured.wallS) + (contended(s) ? ' †' : ''),
    s.kind === 'startup' ? '–' : int(rate(s)),
    s.baselineRate ? `${fixed(rate(s) / s.baselineRate, 2)}×` : '',
    mb(s.measured.peakRssKb),
    fixed(s.measured.userS + s.measured.sysS),
    s.serverCpuS === undefined ? '' : fixed(s.serverCpuS),
    fixed(Math.max(0, othersCpuS(s))),
  ]);
}

function crawlOf(size: SizeResult, backend: 'postgres' | 'pglite'): StepResult {
  return size.steps.find((s) => s.kind === 'crawl' && s.backend === backend)!;
}

function memoryRows(small: SizeResult, large: SizeResult): string[][] {
  const rows: string[][] = [];
  for (const kind of ['crawl', 'snapshot'] as const) {
    for (const backend of ['postgres', 'pglite'] as const) {
      const a = small.steps.find((s) => s.kind === kind && s.backend === backend)!;
      const b = large.steps.find((s) => s.kind === kind && s.backend === backend)!;
      rows.push([
        b.label,
        mb(a.measured.peakRssKb),
        mb(b.measured.peakRssKb),
        `${fixed(b.measured.peakRssKb / a.measured.peakRssKb, 2)}×`,
        rssCurve(b.measured.samples, b.measured.wallS),
      ]);
    }
  }
  return rows;
}

function memorySentence(small: SizeResult, large: SizeResult): string {
  const factor = large.files / small.files;
  const parts = (['postgres', 'pglite'] as const).map((backend) => {
    const a = crawlOf(small, backend).measured.peakRssKb;
    const b = crawlOf(large, backend).measured.peakRssKb;
    const ratio = b / a;
    const lm = crawlOf(large, backend).measured;
    const late = Math.max(0, ...lm.samples.filter((x) => x.t >= lm.wallS / 2).map((x) => x.rssKb));
    const peakSample = lm.samples.reduce((m, x) => (x.rssKb > m.rssKb ? x : m), { t: 0, rssKb: 0 });
    let verdict: string;
    if (ratio <= 1.2) verdict = 'flat';
    else if (late > 0 && late <= a * 1.2) {
      verdict =
        `the larger run's peak comes early (around ${fixed((peakSample.t / lm.wallS) * 100, 0)} % of its wall time) ` +
        `and over its second half RSS stays at or below ${mb(late)} MB, so the crawl itself holds flat`;
    } else {
      verdict = `not flat: it grows by ${fixed(((b - a) / 1024 / (large.files - small.files)) * 1000, 1)} MB per 1,000 files`;
    }
    return `into ${backend === 'postgres' ? 'PostgreSQL' : 'PGlite'} it peaks at ${mb(a)} MB for ${int(small.files)} files and ${mb(b)} MB for ${int(large.files)} (${fixed(ratio, 2)}× for ${fixed(factor, 1)}× the files: ${verdict})`;
  });
  const sentences = [`Crawling ${parts.join('; ')}.`];
  const startup = large.steps.find((s) => s.kind === 'startup' && s.backend === 'pglite')!.measured.peakRssKb;
  if (startup > crawlOf(large, 'pglite').measured.peakRssKb) {
    sentences.push(
      `The highest figure of all is the start-up on a new PGlite directory (${mb(startup)} MB): creating the ` +
        'embedded database, once, not crawling; it does not depend on the index size.',
    );
  }
  return sentences.join(' ');
}

/** Where the crawl's time goes: CPU per 1,000 files in the crawler and in the local server. */
function cpuSentence(size: SizeResult, cpus: number): string {
  const per = (s: StepResult) => fixed(((s.measured.userS + s.measured.sysS) / s.files) * 1000, 2);
  const server = (s: StepResult) => fixed(((s.serverCpuS ?? Number.NaN) / s.files) * 1000, 2);
  const http = size.steps.find((s) => s.kind === 'baseline-http')!;
  const pgCrawl = crawlOf(size, 'postgres');
  const pgliteCrawl = crawlOf(size, 'pglite');
  return (
    `CPU seconds per 1,000 files at ${int(size.files)} files: the HTTP baseline ${per(http)} in its own process ` +
    `(server ${server(http)}); the crawl into PostgreSQL ${per(pgCrawl)} in the crawler (server ` +
    `${server(pgCrawl)}; PostgreSQL's own backends not counted); into PGlite ${per(pgliteCrawl)} ` +
    `(server ${server(pgliteCrawl)}; the database runs inside the crawler). The ${cpus} CPUs are shared by ` +
    'the crawler, the server and PostgreSQL: the difference in CPU per file is the cost of the database work.'
  );
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '20000,100000' },
      'files-per-project': { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '16' },
      postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      json: { type: 'string' },
      'from-json': { type: 'string' },
      keep: { type: 'boolean', default: false },
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
  const sizes = parseSizes(values.sizes);
  const filesPerProject = positive('files-per-project', values['files-per-project']);
  const seed = Number(values.seed);
  const concurrency = positive('concurrency', values.concurrency);
  const command = ['pnpm bench index', ...args].join(' ');
  const date = new Date();
  const machine = machineFacts();
  // The settings that move these figures; autovacuum also decides whether the planner has statistics.
  const pgServer = await postgresSettings(values.postgres, [
    'shared_buffers',
    'synchronous_commit',
    'fsync',
    'autovacuum',
  ]);
  const postgres = `PostgreSQL ${pgServer.version} (local; ${pgServer.settings.join(', ')})`;
  const pgliteVersion = installedVersion('db', '@electric-sql/pglite');

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-index-'));
  const results: SizeResult[] = [];
  try {
    for (const files of sizes) {
      results.push(
        await runSize(files, {
          filesPerProject,
          seed,
          concurrency,
          adminUrl: values.postgres,
          tmp,
          keep: values.keep,
        }),
      );
    }
  } finally {
    if (values.keep) progress(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  }
  const report: Report = {
    command,
    date: date.toISOString(),
    machine,
    postgres,
    pgliteVersion,
    revision: gitRevision(),
    loadAfter: loadAverage(),
    filesPerProject,
    seed,
    concurrency,
    results,
  };
  // Every measurement, RSS samples included, so that the section can be written again (--from-json)
  // without measuring again.
  const dumpFile = path.resolve(
    values.json ?? path.join(os.tmpdir(), `pypi-graph-bench-index-${Date.now()}.json`),
  );
  await writeFile(
    dumpFile,
    `${JSON.stringify(report, (k, v) => (k === 'stderr' || k === 'stdout' ? undefined : v))}\n`,
  );
  progress(`measurements in ${dumpFile}`);
  return publish(report, values);
}

/** Prints the results and writes the doc section. */
async function publish(report: Report, values: { doc: string; 'no-doc': boolean }): Promise<number> {
  const { command, machine, postgres, pgliteVersion, filesPerProject, seed, concurrency, results } = report;
  const date = new Date(report.date);

  const out: string[] = [];
  const text: string[] = [];
  out.push(`## ${HEADING}`, '');
  out.push(
    `\`${command}\` — ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GiB RAM, ${machine.kernel}, ` +
      `Node ${machine.node}, ${postgres}, PGlite ${pgliteVersion}; code at ${report.revision}; ` +
      `load average ${machine.loadAverage} before, ${report.loadAfter} after (other work on the machine counts).`,
    '',
    `A synthetic index (\`pnpm pypi-server --synthetic projects=N,files-per-project=${filesPerProject},seed=${seed}\`, ` +
      'its own process, started afresh for each HTTP step) is crawled with `crawl --all` ' +
      `(\`HTTP_RPS_PER_HOST=0 PROJECT_CONCURRENCY=${concurrency} LOG_LEVEL=warn\`, embedded runner) into a new ` +
      'PostgreSQL database and into a new PGlite directory, each created and migrated first by `migrate` (the ' +
      'start-up rows: what any command pays before it works), then each is published with `snapshot`. ' +
      'Each step is one `node --import tsx …` process: seconds are its wall time from start to exit ' +
      '(its start-up included), files/s = files stored or written ÷ those seconds, ' +
      'peak RSS is its maximum resident set size (`/usr/bin/time`), CPU s its user + system time; ' +
      "server CPU s is what the local PyPI server spent meanwhile (it shares the machine's CPUs); " +
      "others' CPU s is what the rest of the machine used meanwhile (/proc/stat; PostgreSQL's backends " +
      'included in the PostgreSQL steps, other work on the machine in all): † marks a step during which other ' +
      'work kept more than half a CPU busy, so its seconds are inflated and its CPU s are the steadier figure. ' +
      "Baselines, same run: the crawl's HTTP requests (JSON API + PEP 691 Simple page per project, " +
      `${concurrency} projects at once, bodies parsed) without a database; the snapshot's row reads ` +
      '(`pypiBucket`, `wheelBucket` and `sdistBucket` over the 256 buckets) without writing. "vs baseline" = files/s ÷ the baseline\'s files/s.',
    '',
  );
  for (const size of results) {
    const title = `${int(size.files)} files (${int(size.projects)} projects × ${size.filesPerProject})`;
    out.push(`### ${title}`, '', markdownTable(HEADERS, stepRows(size), ALIGN), '');
    const same = size.sha256.postgres === size.sha256.pglite;
    out.push(
      `Snapshot tarball sha256: PostgreSQL \`${size.sha256.postgres}\`, PGlite \`${size.sha256.pglite}\` — ` +
        (same ? 'identical.' : '**DIFFERENT**.') +
        ` Stored: PostgreSQL database ${mb(size.postgresBytes / 1024)} MB, PGlite directory ${mb(size.pgliteBytes / 1024)} MB.`,
      '',
    );
    text.push(
      title,
      textTable(HEADERS, stepRows(size), ALIGN),
      `tarball sha256: postgres ${size.sha256.postgres}`,
    );
    text.push(`                pglite   ${size.sha256.pglite} ${same ? '(identical)' : '(DIFFERENT)'}`, '');
  }
  const cpu = cpuSentence(results.at(-1)!, machine.cpus);
  out.push('### Where the time goes', '', cpu, '');
  text.push(cpu, '');
  if (results.length >= 2) {
    const small = results[0]!;
    const large = results.at(-1)!;
    const headers = [
      'step',
      `peak RSS MB, ${int(small.files)} files`,
      `peak RSS MB, ${int(large.files)} files`,
      'ratio',
      `RSS MB at 25/50/75/100 % of the ${int(large.files)}-file run`,
    ];
    const rows = memoryRows(small, large);
    const sentence = memorySentence(small, large);
    out.push(
      '### Memory as the index grows',
      '',
      markdownTable(headers, rows, ['l', 'r', 'r', 'r', 'r']),
      '',
      sentence,
      '',
    );
    text.push(textTable(headers, rows, ['l', 'r', 'r', 'r', 'r']), '', sentence, '');
  }
  process.stdout.write(`${text.join('\n')}\n`);
  const ok = results.every((r) => r.sha256.postgres === r.sha256.pglite);
  if (!values['no-doc']) {
    const doc = path.resolve(REPO_ROOT, values.doc);
    await writeDocSection(doc, HEADING, out.join('\n'));
    progress(`wrote "## ${HEADING}" in ${path.relative(REPO_ROOT, doc)}`);
  }
  if (!ok) process.stderr.write('the snapshots from PostgreSQL and PGlite differ\n');
  return ok ? 0 : 1;
}
