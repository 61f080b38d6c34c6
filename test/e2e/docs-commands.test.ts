// Every command line that README.md, docs/*.md and the CLI's own hints tell a person to type,
// typed as written: `bash -c '<line>'` in the repository, through pnpm, against the local PyPI
// server (started with `pnpm pypi-server --dir test/fixtures/index`), a test database and a Redis
// key prefix of its own. Each line must reach pypi-graph (a preload records which entry point and
// arguments every node process ran: packages/test-support/src/reached.cjs) and succeed, or be
// listed below with the reason it cannot run here. The lines are found mechanically
// (packages/test-support/src/doc-commands.ts): a line added to a doc, or a hint added to the
// CLI, is tested without touching this file.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createTestDatabase,
  type DocLine,
  deleteRedisPrefix,
  documentationCommandLines,
  isCommandLine,
  REACHED_PRELOAD,
  redisUrl,
  sourceCommandLines,
  type TestDatabase,
  uniqueName,
} from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve('.');
/** Where the CLI's hints and help texts live: every backticked `pnpm …` in their strings. */
const SOURCE_DIRS = ['packages/cli/src', 'packages/config/src', 'packages/core/src', 'packages/pipeline/src'];
/** Lines run at once: each is a pnpm + tsx process, on a machine of two cores. */
const CONCURRENCY = 3;

/**
 * Lines that cannot run here, each with the reason. A documented line that matches none of these
 * and is not a pnpm command line fails the test: add it here (with a reason) or make it runnable.
 */
const CANNOT_RUN: Array<[RegExp, string]> = [
  [
    /^npm install -g\b/,
    'installs pnpm into a global prefix from the npm registry (root, network): scripts/test.sh does it on a fresh machine',
  ],
  [/^export PATH=/, "changes the reader's shell; nothing to run"],
  [
    /^pnpm (install|fetch)\b/,
    'rewrites node_modules of the checkout these tests run from (scripts/test.sh and docker/Dockerfile run it)',
  ],
  [
    /^pnpm test\b|^bash scripts\/test\.sh\b|^bash \.ci\/run$/,
    'the test suite itself: running it from a test would recurse',
  ],
  [/^pnpm (typecheck|lint)$/, '.ci/run runs both after the tests, on every CI run'],
  [/^pnpm (show|view)$/, "named as what not to type: pnpm's own `pnpm view`, which asks the npm registry"],
  [/^pnpm pypi-graph …$/, 'names the form of every command; each command has its own line'],
  [
    /^docker\b|^docker-compose\b/,
    'needs a Docker engine (none where the tests run); test/deploy/compose.test.ts checks the compose file',
  ],
  [/^(sudo )?apt(-get)? /, 'installs system packages (root, network): scripts/test.sh does it'],
  [
    /^nix-(store|build|instantiate|collect-garbage)\b/,
    "acts on the machine's Nix store; the sandbox tests (packages/extractor/test/sandbox.test.ts) run these",
  ],
  [
    /^nix-hash\b/,
    "names a snapshot directory by its id; packages/snapshot/test/nar.test.ts compares our NAR hash with nix-hash's",
  ],
  [/^(ssh|curl|git pull|systemctl)\b/, 'reaches other machines or the network, or manages system services'],
  [
    /^export (DATABASE_URL|PYPI_CONTACT)=/,
    "a deployment's settings: this test sets its own (test database, Redis prefix, local index)",
  ],
  [/^cat > \.env\b/, "writes a deployment's .env into the checkout"],
  [
    /^python3 scripts\/make-(accuracy-)?fixtures\.py$/,
    'rewrites committed fixtures; the tests that use them check their bytes',
  ],
];

/**
 * How a synopsis becomes a line that runs: placeholders get values that exist in the test index,
 * optional `[…]` parts are included. Applied in order; anything left that looks like a
 * placeholder fails the test.
 */
const PLACEHOLDERS: Array<[RegExp, string]> = [
  [/ \[options\]/, ''],
  [/<command>/, 'status'],
  [/NAME…/, 'Foo_Bar acme.interface'],
  [/NAME\[==VERSION\]/, 'Foo_Bar==0.2'],
  [/\$\{name\}|\bNAME\b/g, 'Foo_Bar'],
  [/^pnpm crawl … /, 'pnpm crawl --all '],
  [/--queues …/, '--queues discover,project'],
  [/--out DIR\b/, '--out "$SNAPSHOTS"'],
  [/--dir DIR\b/, '--dir test/fixtures/index'],
  // A fixed port may be taken on a shared machine: the dashboard and the server get a free one.
  [/--port (N|3000)\b/, '--port 0'],
  [/--host H\b/, '--host 127.0.0.1'],
  [/--concurrency N\b/, '--concurrency 2'],
  [/--keep N\b/, '--keep 2'],
  [/--code C\b/, '--code archive-corrupt'],
  [/--project P\b/, '--project brokenpkg'],
  [/--since D\b/, '--since yesterday'],
  [/--cron EXPR\b/, "--cron '0 */12 * * *'"],
  [/projects=N\b/, 'projects=20'],
  // The PyPI-shaped preset at a small size, on its second day.
  [/scale=F\b/, 'scale=0.001'],
  [/--day N\b/, '--day 1'],
  [/[[\]]/g, ''],
];

/** Commands that run until stopped: started, seen ready, then SIGTERM to their process group. */
const LONG_RUNNING: Array<[RegExp, 'stdout' | 'stderr', RegExp]> = [
  [/^pnpm worker\b/, 'stderr', /"msg":"worker started"/],
  [/^pnpm scheduler\b(?!.*--once)/, 'stderr', /"msg":"scheduler started"/],
  [/^pnpm dashboard\b/, 'stdout', /^dashboard: http:\/\/127\.0\.0\.1:\d+\//m],
  [/^pnpm pypi-server\b/, 'stdout', /^pypi-server listening on http:\/\//m],
];

interface Planned {
  /** What is run. */
  run: string;
  /** Where it was written, and as what. */
  from: DocLine[];
  longRunning?: { stream: 'stdout' | 'stderr'; ready: RegExp };
}

/** `a && b` → [a, b] (outside quotes). */
function splitAnd(line: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (line.startsWith(' && ', i)) {
      parts.push(line.slice(start, i).trim());
      start = i + 4;
    }
  }
  parts.push(line.slice(start).trim());
  return parts;
}

/** Shell words of a simple command line (quotes, no expansion but `$SNAPSHOTS`). */
function shellWords(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (quote === '"' && c === '$') {
        const m = /^\$([A-Z_]+)/.exec(line.slice(i))!;
        word = (word ?? '') + (env[m[1]!] ?? '');
        i += m[0].length - 1;
      } else word = (word ?? '') + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

const ASSIGNMENT = /^[A-Z_][A-Z0-9_]*=/;

function instantiate(line: string): string {
  const bench = /^pnpm bench ([\w-]+|<name>)/.exec(line);
  if (bench) {
    // A benchmark runs for minutes and rewrites docs/benchmarks.md: the line is checked to reach
    // the benchmark runner, which answers with that benchmark's usage (`<name>`: the first one).
    return `pnpm bench ${bench[1] === '<name>' ? 'index' : bench[1]} --help`;
  }
  let out = line;
  for (const [re, value] of PLACEHOLDERS) out = out.replace(re, value);
  // `pnpm dashboard` alone listens on 3000, which may be taken on a shared machine.
  if (/^pnpm dashboard$/.test(out)) out = 'pnpm dashboard --port 0';
  return out;
}

/** What is left of a placeholder after instantiation (the `VAR=` assignments aside). */
function leftoverPlaceholder(line: string): string | undefined {
  const args = line.replace(/^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+/, '').replace(/\$[A-Z_]+/g, '');
  return /<[^>]*>|…|\$\{|\[|\]|\b[A-Z]{1,8}\b(?!=)/.exec(args)?.[0];
}

function plan(lines: DocLine[]): { planned: Planned[]; problems: string[] } {
  const byRun = new Map<string, Planned>();
  const problems: string[] = [];
  for (const doc of lines) {
    for (const part of splitAnd(doc.line)) {
      if (CANNOT_RUN.some(([re]) => re.test(part))) continue;
      const bare = part.replace(/^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+/, '');
      if (!/^pnpm /.test(bare)) {
        problems.push(`${doc.where}: \`${part}\` is neither a pnpm command nor listed in CANNOT_RUN`);
        continue;
      }
      const run = instantiate(part);
      const left = leftoverPlaceholder(run);
      if (left !== undefined) {
        problems.push(
          `${doc.where}: \`${part}\` → \`${run}\` still holds ${JSON.stringify(left)}: add it to PLACEHOLDERS`,
        );
        continue;
      }
      const long = LONG_RUNNING.find(([re]) => re.test(run.replace(/^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+/, '')));
      const entry = byRun.get(run) ?? {
        run,
        from: [],
        longRunning: long ? { stream: long[1], ready: long[2] } : undefined,
      };
      entry.from.push(doc);
      byRun.set(run, entry);
    }
  }
  return { planned: [...byRun.values()], problems };
}

// ---------------------------------------------------------------------------------------------

const PACKAGE = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

/** The entry point and arguments a `pnpm <script> …` line must reach. */
function expectedReach(run: string, env: Record<string, string>): { script: string; args: string[] } {
  const all = shellWords(run, env);
  const words = all.slice(all.findIndex((w) => !ASSIGNMENT.test(w)));
  const [, name, ...rest] = words;
  const script = PACKAGE.scripts[name!];
  if (!script) throw new Error(`pnpm ${name}: no such script in package.json`);
  const [tsx, file, ...fixed] = script.split(' ');
  if (tsx !== 'tsx') throw new Error(`script ${name} is not run by tsx: ${script}`);
  return { script: file!, args: [...fixed, ...rest] };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  reached: Array<{ script: string; args: string[] }>;
  timedOut: boolean;
}

let serverProcess: ChildProcess | undefined;
let indexUrl: string;
let database: TestDatabase;
let redis: string;
let prefix: string;
let dataDir: string;
let env: Record<string, string>;
let background: ChildProcess | undefined;
let reachedSeq = 0;
/** What each planned line gave, for the demo's printed lines below (the demo runs once). */
const results = new Map<string, RunResult>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Runs one line with `bash -c` in the repository, in a process group of its own. A long-running
 * one is stopped with SIGTERM to its group once `ready` matched.
 */
async function runLine(
  line: string,
  options: { timeoutMs?: number; longRunning?: Planned['longRunning'] } = {},
): Promise<RunResult> {
  const reachedFile = path.join(dataDir, `reached-${++reachedSeq}.jsonl`);
  const child = spawn('bash', ['-c', line], {
    cwd: ROOT,
    env: { ...env, PYPI_GRAPH_REACHED: reachedFile },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr?.on('data', (d) => {
    out.stderr += d;
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, options.timeoutMs ?? 150_000);
  if (options.longRunning) {
    const { stream, ready } = options.longRunning;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (ready.test(out[stream]) || child.exitCode !== null || timedOut) {
          clearInterval(poll);
          resolve();
        }
      }, 100);
    });
    killGroup(child, 'SIGTERM');
  }
  const code = await closed;
  clearTimeout(timer);
  const reached = await readFile(reachedFile, 'utf8').then(
    (t) =>
      t
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { script: string; args: string[] }),
    () => [],
  );
  return { code, ...out, reached, timedOut };
}

const DOC_LINES = documentationCommandLines(ROOT);
const HINTS = sourceCommandLines(ROOT, SOURCE_DIRS);
const PLAN = plan([...DOC_LINES, ...HINTS.lines]);

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await redisUrl();
  prefix = uniqueName('docs');
  dataDir = await mkdtemp(path.join(tmpdir(), 'docs-commands-'));
  const base: Record<string, string> = {};
  // The caller's own pypi-graph settings must not leak into the lines.
  for (const [k, v] of Object.entries(process.env)) {
    if (
      v !== undefined &&
      !/^(DATABASE_URL|REDIS_URL|PYPI_|DATA_DIR|SNAPSHOT_DIR|QUEUE_PREFIX|METRICS_|SDIST_|SANDBOX_|WHEEL_|HTTP_|XMLRPC_|LOG_LEVEL|NODE_OPTIONS)/.test(
        k,
      )
    )
      base[k] = v;
  }
  env = {
    ...base,
    DATABASE_URL: database.url,
    REDIS_URL: redis,
    QUEUE_PREFIX: prefix,
    DATA_DIR: dataDir,
    SNAPSHOTS: path.join(dataDir, 'out'),
    CI: '1',
    LOG_LEVEL: 'info',
    HTTP_RPS_PER_HOST: '0',
    XMLRPC_RPS: '100',
    // setup.py in the sandbox is tested by test/e2e/sdists.test.ts; here it would only be slow.
    SDIST_EXTRACTION: 'static',
    NODE_OPTIONS: `--require ${REACHED_PRELOAD}`,
  };
  // The local index, started the way the README says.
  serverProcess = spawn('bash', ['-c', 'pnpm pypi-server --dir test/fixtures/index'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  indexUrl = await new Promise<string>((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => reject(new Error(`pypi-server did not start: ${text}`)), 60_000);
    serverProcess!.stdout?.on('data', (d) => {
      text += d;
      const m = /pypi-server listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
  });
  env.PYPI_URL = indexUrl;
  // Something to show, re-crawl and snapshot, before the lines run in any order.
  const seed = await runLine('pnpm crawl --all');
  expect(seed.code, seed.stderr).toBe(0);
  // A worker for the lines that only enqueue (`--no-work`); `pnpm worker` lines are tested apart.
  background = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'worker'], {
    cwd: ROOT,
    env: { ...env, NODE_OPTIONS: '' },
    stdio: 'ignore',
  });
}, 240_000);

afterAll(async () => {
  if (background) {
    const gone = new Promise((r) => background!.on('close', r));
    background.kill('SIGTERM');
    await gone;
  }
  if (serverProcess) {
    const gone = new Promise((r) => serverProcess!.on('close', r));
    killGroup(serverProcess, 'SIGTERM');
    await gone;
  }
  await database?.drop();
  if (redis && prefix) await deleteRedisPrefix(redis, prefix);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the command lines of the docs and the CLI', () => {
  it('are found, and each is runnable or listed with a reason', () => {
    // The extraction works: lines every reader meets are there.
    const runs = PLAN.planned.map((p) => p.run);
    for (const expected of ['pnpm demo', 'pnpm status', 'pnpm crawl --since yesterday', 'pnpm migrate'])
      expect(runs, expected).toContain(expected);
    expect(runs.some((r) => r.startsWith('pnpm pypi-graph show Foo_Bar'))).toBe(true);
    // A hint of the CLI is among them.
    expect(HINTS.lines.map((l) => l.line)).toContain(`pnpm crawl --project \${name}`);
    // Every `pnpm …` the CLI prints is written between backticks (so that it is found above),
    // except the lines the demo prints to be copied as they are: the last test runs those from
    // the demo's own output.
    expect(
      HINTS.unquoted
        .filter((l) => !l.where.startsWith('packages/cli/src/commands/demo.ts:'))
        .map((l) => `${l.where}: ${l.line}`),
    ).toEqual([]);
    expect(PLAN.problems).toEqual([]);
    // pnpm's own `show` is never what a line runs.
    expect(runs.filter((r) => /(^|\s)pnpm show\b/.test(r))).toEqual([]);
  });

  it('finds inline spans and shell blocks alike (the extractor itself)', () => {
    expect(isCommandLine('DATA_DIR=/x pnpm status')).toBe(true);
    expect(isCommandLine('SDIST_EXTRACTION')).toBe(false);
  });
});

describe.concurrent('every command line runs through pnpm as written', () => {
  let running = 0;
  const waiting: Array<() => void> = [];
  const slot = async () => {
    while (running >= CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };

  it.each(PLAN.planned.map((p) => [p.run, p] as const))('%s', async (_name, planned) => {
    await slot();
    let result: RunResult;
    try {
      result = await runLine(planned.run, { longRunning: planned.longRunning });
    } finally {
      release();
    }
    results.set(planned.run, result);
    const where = planned.from.map((d) => d.where).join(', ');
    const context = `${planned.run} (from ${where})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
    expect(result.timedOut, context).toBe(false);
    // Reached pypi-graph: the right entry point with exactly the line's arguments.
    expect(result.reached, context).toContainEqual(expectedReach(planned.run, env));
    expect(`${result.stdout}${result.stderr}`, context).not.toMatch(/ERR_PNPM|npm error|E404/);
    if (planned.longRunning) {
      expect(result.stdout + result.stderr, context).toMatch(planned.longRunning.ready);
      // Stopped by SIGTERM without an error of its own (a refresh the scheduler was running is
      // interrupted: that one is expected).
      const errors = result.stderr
        .split('\n')
        .filter((l) => /^error|"level":(50|60)/.test(l) && !l.includes('"code":"aborted"'));
      expect(errors, context).toEqual([]);
    } else {
      expect(result.code, context).toBe(0);
    }
  });
});

describe('the lines the demo prints', () => {
  it('run as printed: `try:` and the lines under it', async () => {
    const demo = results.get('pnpm demo') ?? (await runLine('pnpm demo'));
    expect(demo.code, demo.stderr).toBe(0);
    const printed = demo.stdout
      .split('\n')
      .map((l) => l.replace(/^try:\s+/, '').trim())
      .filter((l) => isCommandLine(l) && /\bpnpm /.test(l));
    // Projects named from what was crawled, and the data's status.
    expect(printed.filter((l) => l.includes('pnpm pypi-graph show ')).length).toBeGreaterThanOrEqual(2);
    expect(printed.some((l) => / pnpm status$/.test(l))).toBe(true);
    for (const line of printed) {
      const r = await runLine(line);
      const context = `${line}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect(r.code, context).toBe(0);
      expect(r.reached, context).toContainEqual(expectedReach(line, env));
      if (line.includes(' show ')) expect(r.stdout, context).toMatch(/^\S+ \(\S+\) {2}serial \d+/m);
      // The demo's server is gone: status says so in one line, at once.
      if (line.endsWith(' pnpm status'))
        expect(r.stdout, context).toMatch(/^index: +http:\/\/127\.0\.0\.1:\d+ not reachable \(/m);
    }
  }, 300_000);
});
