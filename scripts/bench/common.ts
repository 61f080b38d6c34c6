// Shared parts of the benchmarks: measured child processes, the local PyPI server, machine facts
// and the docs/benchmarks.md writer. Every measured step runs as its own `node` process under
// /usr/bin/time, so its peak RSS is that process's alone (no pnpm/tsx wrapper, not this script).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ParseArgsConfig, parseArgs, promisify } from 'node:util';
import type { SandboxResult } from '@pypi-graph/extractor';
import type { PythonKey } from '@pypi-graph/model';
import { Redis } from 'ioredis';
import pg from 'pg';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

const started = Date.now();

/** A progress line on stderr (results go to stdout). */
export function progress(message: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[bench ${t}s] ${message}\n`);
}

// Every variable packages/config reads: a child sees only what the benchmark sets.
const CONFIG_VARS =
  /^(DATABASE_URL|REDIS_URL|DATA_DIR|PYPI_.*|XMLRPC_RPS|HTTP_.*|QUEUE_PREFIX|PROJECT_CONCURRENCY|SNAPSHOT_DIR|SNAPSHOT_KEEP|LOG_LEVEL|CI)$/;

/** This process's environment without pypi-graph's configuration, plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!CONFIG_VARS.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface RssSample {
  /** Seconds since the process started. */
  t: number;
  rssKb: number;
}

export interface Measured {
  wallS: number;
  peakRssKb: number;
  userS: number;
  sysS: number;
  /** CPU seconds the whole machine was busy during the step (every process, this one included). */
  machineBusyS: number;
  stdout: string;
  stderr: string;
  /** VmRSS of the node process, sampled every `sampleMs`. */
  samples: RssSample[];
}

export interface MeasureOptions {
  /** Arguments to `node` (e.g. `['--import', 'tsx', 'packages/cli/src/main.ts', 'crawl', '--all']`). */
  args: string[];
  env: NodeJS.ProcessEnv;
  label: string;
  sampleMs?: number;
  /** A progress line every this many ms while the step runs. */
  heartbeatMs?: number;
  /** Where it runs: the repository by default (another checkout for a baseline of older code). */
  cwd?: string;
}

const TIME = '/usr/bin/time';

async function childOf(pid: number): Promise<number | undefined> {
  try {
    const first = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `node …args` under `/usr/bin/time` and returns its wall time, peak RSS (the kernel's
 * maxrss of that one process), CPU times, output and an RSS curve. Throws when it fails.
 */
export async function measure(options: MeasureOptions): Promise<Measured> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-time-'));
  const timeFile = path.join(tmp, 'time');
  try {
    const child = spawn(TIME, ['-f', '%e %M %U %S', '-o', timeFile, process.execPath, ...options.args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-200_000);
    });
    const t0 = performance.now();
    const busy0 = machineBusySeconds();
    const samples: RssSample[] = [];
    let nodePid: number | undefined;
    const sampler = setInterval(async () => {
      nodePid ??= child.pid === undefined ? undefined : await childOf(child.pid);
      if (nodePid === undefined) return;
      const rssKb = vmKb(nodePid);
      if (rssKb > 0) samples.push({ t: (performance.now() - t0) / 1000, rssKb });
    }, options.sampleMs ?? 500);
    const heartbeat = setInterval(() => {
      const last = samples.at(-1);
      progress(
        `  ${options.label}: ${((performance.now() - t0) / 1000).toFixed(0)} s` +
          (last ? `, RSS ${(last.rssKb / 1024).toFixed(0)} MB` : ''),
      );
    }, options.heartbeatMs ?? 30_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const machineBusyS = machineBusySeconds() - busy0;
    clearInterval(sampler);
    clearInterval(heartbeat);
    const timeText = await readFile(timeFile, 'utf8').catch(() => '');
    // With a non-zero exit, GNU time writes "Command exited with non-zero status N" first.
    const fields = timeText.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
    if (code !== 0 || fields.length !== 4 || fields.some((n) => !Number.isFinite(n))) {
      throw new Error(
        `${options.label} failed (exit ${code}): node ${options.args.join(' ')}\n${timeText}\n--- stderr (end) ---\n${stderr.slice(-4000)}\n--- stdout ---\n${stdout.slice(-2000)}`,
      );
    }
    const [wallS, peakRssKb, userS, sysS] = fields as [number, number, number, number];
    return { wallS, peakRssKb, userS, sysS, machineBusyS, stdout, stderr, samples };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `node --import tsx <file> …`: TypeScript without a tsx wrapper process between. */
export function tsxArgs(file: string, ...args: string[]): string[] {
  return ['--import', 'tsx', file, ...args];
}

/** A pypi-graph command (`pnpm pypi-graph <args>`) run by a bench in its own process. */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Its exit code (null when a signal ended it), once it has ended. */
  exited: Promise<number | null>;
  /** The last 20,000 characters of its standard error. */
  stderr(): string;
}

/** Starts `packages/cli/src/main.ts <args>` in the repository, standard output ignored. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, tsxArgs('packages/cli/src/main.ts', ...args), {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, pid: child.pid!, exited, stderr: () => err };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds every CPU of the machine has been busy since boot (/proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds a running process has used so far. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** A process's VmRSS in kB from /proc (0 once it has exited). */
export function vmKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Redis's `used_memory` in kB (INFO memory). */
export async function usedMemoryKb(redis: Redis): Promise<number> {
  const m = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Every key under a bench's `QUEUE_PREFIX` (to measure or delete them). */
export async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** A fresh PostgreSQL database, Redis key prefix and data directory for one crawl of a bench. */
export interface CrawlPlace {
  /** The database's name (PostgresCpu counts its backends). */
  name: string;
  dbUrl: string;
  prefix: string;
  /** The crawl's environment: these places, the index at `pypiUrl`, no rate limit on it. */
  env: NodeJS.ProcessEnv;
  /** Deletes the prefix's keys, drops the database, removes the directory. */
  remove(): Promise<void>;
}

export async function crawlPlace(
  tag: string,
  adminUrl: string,
  redisUrl: string,
  pypiUrl: string,
  extra: Record<string, string>,
): Promise<CrawlPlace> {
  const name = `pgbench_${tag}_${process.pid}_${Date.now()}`;
  const prefix = `bench-${tag}-${process.pid}-${Date.now()}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `pypi-graph-bench-${tag}-`));
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const dbUrl = databaseUrl(adminUrl, name);
  const env = childEnv({
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PYPI_URL: pypiUrl,
    DATA_DIR: dataDir,
    XMLRPC_RPS: '100',
    HTTP_RPS_PER_HOST: '0',
    LOG_LEVEL: 'warn',
    ...extra,
  });
  return {
    name,
    dbUrl,
    prefix,
    env,
    async remove() {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
      try {
        const keys = await keysWithPrefix(redis, prefix);
        for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
      } finally {
        redis.disconnect();
      }
      await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface LocalServer {
  url: string;
  pid: number;
  cpuSeconds(): number;
  close(): Promise<void>;
}

/**
 * Starts `pnpm pypi-server --synthetic <spec> …extraArgs` as its own process (its memory and CPU
 * are not the crawler's) and waits for its "listening" line.
 */
export async function startServer(spec: string, extraArgs: string[] = []): Promise<LocalServer> {
  const child = spawn(
    process.execPath,
    tsxArgs(
      'packages/pypi-server/src/main.ts',
      '--synthetic',
      spec,
      '--port',
      '0',
      '--log-level',
      'warn',
      ...extraArgs,
    ),
    { cwd: REPO_ROOT, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`pypi-server did not start in 60 s\n${stderr}`)), 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /pypi-server listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`pypi-server exited with ${code}\n${stderr}`));
    });
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    cpuSeconds: () => cpuSecondsOf(pid),
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  kernel: string;
  loadAverage: string;
}

export function machineFacts(): MachineFacts {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {}
  let cpus = os.availableParallelism();
  try {
    cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cpus;
  } catch {}
  return {
    cpus,
    cpuModel,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: loadAverage(),
  };
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

/** The commit the benchmark ran on, and whether tracked files differed from it. */
export function gitRevision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

/** The version of a package installed for one of the workspace packages. */
export function installedVersion(fromPackage: string, name: string): string {
  try {
    const file = path.join(REPO_ROOT, 'packages', fromPackage, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** A markdown table. */
export function markdownTable(headers: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const sep = headers.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [headers, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** The same table, aligned for a terminal. */
export function textTable(headers: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => ((align?.[i] ?? 'l') === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const DOC_INTRO = `# Benchmarks

Speed and memory are measured with \`pnpm bench <name>\` (\`scripts/bench.ts\`, one file per
benchmark in \`scripts/bench/\`), never as timed unit tests. Each section below is rewritten by its
benchmark and states the command, the date and the machine; every figure is compared with a
baseline measured in the same run. Peak memory is the maximum resident set size of the measured
\`node\` process alone (\`/usr/bin/time\`), not of the servers it talks to.
`;

/**
 * Writes `section` (starting with `## <heading>`) into the benchmarks document: replaces the
 * section with that heading, or appends it; creates the document with its intro when absent.
 */
export async function writeDocSection(file: string, heading: string, section: string): Promise<void> {
  let doc: string;
  try {
    doc = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    doc = DOC_INTRO;
  }
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === `## ${heading}`);
  const body = section.trimEnd().split('\n');
  if (start < 0) {
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    lines.push('', ...body, '');
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
    if (end < 0) end = lines.length;
    const after = lines.slice(end);
    lines.splice(start, end - start, ...body, ...(after.length > 0 ? [''] : []));
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    lines.push('');
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, lines.join('\n'));
}

/** 12345.6 → "12,346". */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A number with `digits` decimals. */
export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

export function mb(kb: number): string {
  return (kb / 1024).toFixed(0);
}

/** Runs `fn` on a connection to the administrative database. */
export async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The server's version and the named settings as `SHOW` prints them (`shared_buffers=6GB`): what
 * moves a benchmark's figures, written beside them.
 */
export function postgresSettings(
  adminUrl: string,
  names: readonly string[],
): Promise<{ version: string; settings: string[] }> {
  return withAdmin(adminUrl, async (c) => {
    const version = String((await c.query('SHOW server_version')).rows[0].server_version).split(' ')[0]!;
    const settings: string[] = [];
    for (const name of names) settings.push(`${name}=${(await c.query(`SHOW ${name}`)).rows[0][name]}`);
    return { version, settings };
  });
}

/** The URL of another database on the same server. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

const PG_AUX =
  /: (checkpointer|background writer|walwriter|autovacuum launcher|autovacuum worker|logical replication launcher|stats collector|archiver)\b/;

/**
 * CPU seconds of PostgreSQL's processes for one database: its backends (`postgres: … user db
 * host(port) state`) plus the server's own processes (postmaster, WAL writer, checkpointer,
 * background writer: they work for every database, ours included), read from /proc every
 * `everyMs`. Backends of other databases (other work on the machine) are left out. A backend
 * that exits between two samples loses its last interval's CPU (at most `everyMs` of it).
 */
export class PostgresCpu {
  private readonly base = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private readonly counted = new Map<number, boolean>();
  private readonly notPostgres = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: string,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), this.everyMs);
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    return this.read();
  }

  /** The CPU seconds so far (sampled now), while it keeps sampling. */
  read(): number {
    this.sample(false);
    let total = 0;
    for (const [pid, cpu] of this.last) {
      if (this.counted.get(pid)) total += cpu - (this.base.get(pid) ?? 0);
    }
    return total;
  }

  private sample(initial: boolean): void {
    let pids: string[];
    try {
      pids = readdirSync('/proc');
    } catch {
      return;
    }
    for (const name of pids) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || this.notPostgres.has(pid)) continue;
      if (!this.last.has(pid)) {
        if (readText(`/proc/${pid}/comm`)?.trim() !== 'postgres') {
          this.notPostgres.add(pid);
          continue;
        }
      }
      const cmdline = readText(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' ').trim();
      if (cmdline === undefined) continue;
      const cpu = cpuSecondsOf(pid);
      if (!Number.isFinite(cpu)) continue;
      // A backend just forked still shows the postmaster's command line: classify again each time.
      const backend = /^postgres: /.test(cmdline) && !PG_AUX.test(cmdline);
      this.counted.set(pid, !backend || cmdline.includes(` ${this.database} `));
      if (!this.base.has(pid)) this.base.set(pid, initial ? cpu : 0);
      this.last.set(pid, cpu);
    }
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** One XML-RPC call to the index at `url` (`/pypi`); the response's text. Throws on a fault. */
export async function xmlrpc(url: string, method: string, params = ''): Promise<string> {
  const res = await fetch(`${url}/pypi`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml' },
    body: `<?xml version='1.0'?><methodCall><methodName>${method}</methodName><params>${params}</params></methodCall>`,
  });
  const text = await res.text();
  if (res.status !== 200 || text.includes('<fault>'))
    throw new Error(`${method}(${params}): ${text.slice(0, 300)}`);
  return text;
}

/** What `pnpm bench scale` gives each of its child steps (scale-load.ts, scale-explain.ts, scale-day.ts). */
export interface ScaleStepArgs {
  databaseUrl: string;
  files: number;
  seed: number;
  /** The step's own options, as parsed. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
}

/**
 * The entry point of a `pnpm bench scale` step, run as its own process (`node --import tsx FILE
 * --database-url URL --files N [--seed S] …`): nothing when FILE is imported. Reads those options
 * plus `options`, runs `step` and prints what it returns as one JSON line; without the database
 * URL or the file count, prints `usage: USAGE` and exits with 2.
 */
export async function scaleStep(
  meta: ImportMeta,
  usage: string,
  options: NonNullable<ParseArgsConfig['options']>,
  step: (args: ScaleStepArgs) => Promise<unknown>,
): Promise<void> {
  if (meta.url !== `file://${process.argv[1]}`) return;
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      files: { type: 'string' },
      seed: { type: 'string', default: '1' },
      ...options,
    },
  });
  const databaseUrl = values['database-url'];
  if (typeof databaseUrl !== 'string' || !values.files) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  const out = await step({ databaseUrl, files: Number(values.files), seed: Number(values.seed), values });
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** Runs `fn` on every item, at most `concurrency` (at least 1) at a time, in the items' order. */
export async function pool<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

// The sdist benchmarks (sdist.ts, sdist-real.ts): their generated corpus and their results.

/** The corpus generator and the seed's builder (Python, stdlib only). */
export const SDIST_CORPUS_PY = path.join(REPO_ROOT, 'scripts', 'bench', 'sdist-corpus.py');

/** One sandbox run's results by Python key. */
export type SandboxResults = Partial<Record<PythonKey, SandboxResult>>;

/**
 * `sdist-corpus.py gen|gen-real FOLDER COUNT SALT`: the sdists it wrote into FOLDER, each as it
 * describes it plus its path and sha256.
 */
export async function generateSdists<T extends { filename: string }>(
  mode: 'gen' | 'gen-real',
  folder: string,
  count: number,
  salt: string,
): Promise<Array<T & { file: string; sha256: string }>> {
  const { stdout } = await promisify(execFile)(
    'python3',
    [SDIST_CORPUS_PY, mode, folder, String(count), salt],
    {
      maxBuffer: 64 << 20,
    },
  );
  return Promise.all(
    (JSON.parse(stdout) as T[]).map(async (e) => {
      const file = path.join(folder, e.filename);
      const sha256 = createHash('sha256')
        .update(await readFile(file))
        .digest('hex');
      return { ...e, file, sha256 };
    }),
  );
}

/** JSON with the keys of every object sorted: equal for equal values, whatever their key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A result without the traceback tail (it names the directory the script ran in). */
export function sandboxOutcome(r: SandboxResult | null | undefined): string {
  if (!r) return 'missing';
  if ('ok' in r) return stableJson(r.ok);
  return stableJson({ code: r.error.code, log: r.error.log });
}
