import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  it('exits with status 2 and a usage line on bad arguments', async () => {
    const p = start(['--synthetic', 'projects=5']);
    const q = start([]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toMatch(/files-per-project/);
    expect(p.stderr()).toMatch(/usage: pypi-server/);
    expect(p.stdout()).toBe('');
    expect(await q.exit).toBe(2);
    expect(q.stderr()).toMatch(/--dir and\/or --synthetic/);
  });
});
