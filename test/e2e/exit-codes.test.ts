// Exit codes and giving up, with real processes (README.md, "Exit codes"): an index that cannot
// be reached (a closed port, a name that does not resolve) is reported once, at once, with exit
// code 4; work that failed in part gives 3; commands that only read the database do not call
// PYPI_URL; `pnpm worker` without Redis refuses before it creates anything.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { createTestDatabase, type TestDatabase } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = path.resolve('packages/cli/src/main.ts');
let dataDir: string;
let database: TestDatabase;
let server: PypiServer;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'exit-codes-'));
  database = await createTestDatabase();
  server = await startPypiServer({ dir: path.resolve('test/fixtures/index') });
});

afterAll(async () => {
  await server?.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function run(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, CI: '1', LOG_LEVEL: 'info', ...env }))
    if (v !== undefined) childEnv[k] = v;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('an index that cannot be reached', () => {
  // The baseline: the same command's start-up with nothing to do, measured in the same run, so
  // that "at once" means "no later than start-up plus one short request", whatever the load.
  let startup = 0;
  beforeAll(async () => {
    const r = await run(['migrate'], { DATA_DIR: path.join(dataDir, 'baseline') });
    expect(r.code, r.stderr).toBe(0);
    startup = r.ms;
  });

  it.each([
    ['a closed port', async () => `http://127.0.0.1:${await closedPort()}`, /ECONNREFUSED/],
    // .invalid never resolves (RFC 2606).
    ['a name that does not resolve', async () => 'http://pypi-graph-test.invalid', /ENOTFOUND|EAI_AGAIN/],
  ])('%s: one error with a hint, exit code 4, nothing retried', async (_what, url, cause) => {
    const pypiUrl = await url();
    const r = await run(['crawl', '--project', 'requests'], {
      PYPI_URL: pypiUrl,
      DATA_DIR: path.join(dataDir, 'unreachable'),
    });
    expect(r.code, r.stderr).toBe(4);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(errors).toEqual([
      expect.stringMatching(
        new RegExp(`^error \\[index-unreachable\\]: the index at ${pypiUrl} is not reachable: `),
      ),
    ]);
    expect(errors[0]).toMatch(cause);
    expect(r.stderr).toMatch(/^hint: check PYPI_URL/m);
    // Not one retry, not one job: the crawl never started.
    expect(r.stderr).not.toContain('retrying');
    expect(r.stderr).not.toContain('"queue"');
    expect(r.stdout).toBe('');
    // Within start-up + the probe's own bound (10 s), not after every job's retries (≥ 50 s).
    expect(r.ms).toBeLessThan(startup + 10_000 + 5_000);
  });
});

describe('exit codes of work that failed', () => {
  it('3 when a project could not be read (the summary says which code), 0 when only files failed', async () => {
    const env = {
      PYPI_URL: server.url,
      DATABASE_URL: database.url,
      HTTP_RPS_PER_HOST: '0',
      SDIST_EXTRACTION: 'off',
    };
    // A broken JSON API answer for one project: its crawl fails for good (response-invalid).
    server.setFaults([{ match: '^/pypi/yanky/json/?$', kind: 'malformed-json' }]);
    try {
      const broken = await run(['crawl', '--project', 'yanky', 'Foo_Bar'], env);
      expect(broken.code, broken.stderr).toBe(3);
      expect(broken.stdout).toMatch(/^ {2}response-invalid: 1$/m);
    } finally {
      server.clearFaults();
    }
    // The fixture's corrupt wheel is a result, not a failure of the command.
    const ok = await run(['crawl', '--project', 'brokenpkg'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ {2}archive-corrupt: 1$/m);
  });

  it('1 for a project the index does not have, 2 for a wrong command line', async () => {
    const env = { PYPI_URL: server.url, DATABASE_URL: database.url, SDIST_EXTRACTION: 'off' };
    const missing = await run(['crawl', '--project', 'no-such-project'], env);
    expect(missing.code, missing.stderr).toBe(1);
    expect(missing.stderr).toContain(
      `error [project-not-found]: not on the index at ${server.url}: no-such-project`,
    );
    const usage = await run(['crawl', '--no-such-option'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown option '--no-such-option'");
  });
});

describe('commands that only read the database', () => {
  it('status asks the index the data came from, once, and says in one line when it is gone', async () => {
    // Another live index as PYPI_URL: neither show nor status may send it anything.
    const other = await startPypiServer({ dir: path.resolve('test/fixtures/index') });
    const env = { PYPI_URL: other.url, DATABASE_URL: database.url };
    try {
      // The data comes from `server` (this test does not rely on the ones above).
      const first = await run(['crawl', '--project', 'Foo_Bar'], {
        PYPI_URL: server.url,
        DATABASE_URL: database.url,
        SDIST_EXTRACTION: 'off',
      });
      expect(first.code, first.stderr).toBe(0);
      const show = await run(['show', 'Foo_Bar'], env);
      expect(show.code, show.stderr).toBe(0);
      const status = await run(['status'], env);
      expect(status.code, status.stderr).toBe(0);
      // The index recorded by the crawls above, and its lag.
      expect(status.stdout).toContain(`index:     ${server.url}, last serial `);
      expect(status.stdout).toContain(`(PYPI_URL is now ${other.url})`);
      expect(other.requestLog).toEqual([]);

      // The recorded index goes away: one line, at once.
      const gone = await startPypiServer({ dir: path.resolve('test/fixtures/index') });
      const crawled = await run(['crawl', '--project', 'Foo_Bar'], {
        ...env,
        PYPI_URL: gone.url,
        SDIST_EXTRACTION: 'off',
      });
      expect(crawled.code, crawled.stderr).toBe(0);
      await gone.close();
      const after = await run(['status'], env);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout.split('\n').filter((l) => l.startsWith('index:'))).toEqual([
        expect.stringMatching(new RegExp(`^index: +${gone.url} not reachable \\(connect ECONNREFUSED`)),
      ]);
      expect(after.stderr).not.toContain('retrying');
      expect(other.requestLog).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('pnpm worker without REDIS_URL', () => {
  it('refuses with a code and a hint before it opens or creates a database', async () => {
    const dir = path.join(dataDir, 'worker-without-redis');
    const r = await run(['worker'], { DATA_DIR: dir, REDIS_URL: undefined, DATABASE_URL: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [config-invalid]: `pnpm worker` needs REDIS_URL');
    expect(r.stderr).toMatch(/^hint: set REDIS_URL/m);
    expect(existsSync(path.join(dir, 'pglite'))).toBe(false);
  });
});

describe('a SANDBOX_PYTHONS entry that is not there (issue 12 §9)', () => {
  it('stops every command with config-invalid naming the entry, before it opens or creates a database', async () => {
    const dir = path.join(dataDir, 'bad-sandbox-pythons');
    const r = await run(['status'], {
      DATA_DIR: dir,
      DATABASE_URL: undefined,
      SANDBOX_PYTHONS: '27=/root/.pyenv/versions/2.7.18/bin/python2.7,39=/opt/nowhere/bin/python3.9',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error [config-invalid]: invalid configuration: SANDBOX_PYTHONS: 39=/opt/nowhere/bin/python3.9: no such file',
    );
    expect(r.stderr).toMatch(/^hint: SANDBOX_PYTHONS is KEY=PATH/m);
    expect(existsSync(path.join(dir, 'pglite'))).toBe(false);
  });
});
