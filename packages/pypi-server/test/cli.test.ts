import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, get, REPO } from './helpers';

// `pnpm pypi-server …` as a separate process: the ready line, flags, signals.

const TSX = join(REPO, 'node_modules/.bin/tsx');
const MAIN = join(REPO, 'packages/pypi-server/src/main.ts');
const tmp = mkdtempSync(join(tmpdir(), 'pypi-server-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function start(args: string[]): Proc {
  const child = spawn(TSX, [MAIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function ready(p: Proc): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const m = /^pypi-server listening on (http:\/\/\S+)\n/.exec(p.stdout());
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server not ready; stderr: ${p.stderr()}`);
}

describe('pypi-server CLI', () => {
  it('prints exactly one ready line, loads --faults, obeys the admin endpoint and exits on SIGTERM', async () => {
    const faults = join(tmp, 'faults.json');
    writeFileSync(faults, JSON.stringify([{ match: '^/simple/yanky/$', kind: '503', times: 1 }]));
    const p = start(['--dir', FIXTURES, '--port', '0', '--faults', faults, '--xmlrpc-rate', '50']);
    const url = await ready(p);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(`${url}/simple/yanky/`)).status).toBe(503);
    expect((await get(`${url}/simple/yanky/`)).status).toBe(200);
    // another process sets faults through HTTP
    const set = await fetch(`${url}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify([{ match: '^/pypi/', kind: '429', retryAfter: 2 }]),
    });
    expect(set.status).toBe(200);
    const limited = await get(`${url}/pypi/yanky/json`);
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '2']);
    const stats = (await (await fetch(`${url}/_admin/stats`)).json()) as { requests: number };
    expect(stats.requests).toBe(3);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(p.stdout()).toBe(`pypi-server listening on ${url}\n`);
  });

  it('serves a synthetic index and stops on SIGINT', async () => {
    const p = start(['--synthetic', 'projects=5,files-per-project=2,seed=9', '--host', '127.0.0.1']);
    const url = await ready(p);
    const index = (await (
      await get(`${url}/simple/`, { Accept: 'application/vnd.pypi.simple.v1+json' })
    ).json()) as { projects: unknown[] };
    expect(index.projects).toHaveLength(5);
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(0);
  });

  it('serves the PyPI-shaped preset from a given day, advances it over HTTP and logs every request', async () => {
    const logFile = join(tmp, 'requests.ndjson');
    const p = start(['--synthetic', 'pypi,scale=0.0005', '--day', '2', '--request-log', logFile]);
    const url = await ready(p);
    const day = (await (await fetch(`${url}/_admin/day`)).json()) as {
      day: number;
      asOf: string;
      lastSerial: number;
    };
    expect(day).toMatchObject({ day: 2, asOf: '2025-01-03T00:00:00.000Z' });
    const advanced = (await (await fetch(`${url}/_admin/advance-day`, { method: 'POST' })).json()) as {
      day: number;
      fromSerial: number;
    };
    expect(advanced).toMatchObject({ day: 3, fromSerial: day.lastSerial });
    expect((await get(`${url}/simple/`)).status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    // Admin calls are not index requests: the log has the one /simple/ request.
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string });
    expect(lines.map((l) => l.path)).toEqual(['/simple/']);
  });

  it('exits with status 2 and a usage line on bad arguments', async () => {
    const p = start(['--synthetic', 'projects=5']);
    const q = start([]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toMatch(/files-per-project/);
    expect(p.stderr()).toMatch(/usage: pypi-server/);
    expect(p.stdout()).toBe('');
    expect(await q.exit).toBe(2);
    expect(q.stderr()).toMatch(/--dir and\/or --synthetic/);
    const r = start(['--synthetic', 'pypi,scale=big']);
    const d = start(['--synthetic', 'projects=2,files-per-project=2', '--day', '1']);
    expect(await r.exit).toBe(2);
    expect(r.stderr()).toMatch(/scale=big/);
    expect(r.stderr()).toMatch(/--synthetic pypi\[,scale=F\]/);
    expect(await d.exit).toBe(2);
    expect(d.stderr()).toMatch(/--day needs the PyPI-shaped preset/);
  });
});
