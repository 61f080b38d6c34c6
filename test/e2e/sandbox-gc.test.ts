// The Nix store does not grow without bound (issue 5 §1): once an sdist's results are stored,
// its extraction output, the derivation that built it and the sdist's own store path are
// deleted; the interpreters and tools stay. Real sandbox, real store.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crawl } from '@pypi-graph/cli';
import { projectDependencies } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { crawlEnv } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A project name of this run only, so that no other test's store paths are involved.
const NAME = `gcprobe${randomBytes(4).toString('hex')}`;
let server: PypiServer;
let folder: string;

function nix(args: string[]): string {
  return execFileSync('nix-store', args, { encoding: 'utf8' }).trim();
}

function sdistStorePaths(): string[] {
  return readdirSync('/nix/store')
    .filter((n) => n.endsWith(`-${NAME}-1.0.tar.gz`))
    .map((n) => `/nix/store/${n}`);
}

beforeAll(async () => {
  execFileSync('nix-build', ['--version']); // the sandbox is needed: fail, do not skip
  folder = await mkdtemp(path.join(tmpdir(), 'gc-index-'));
  // An sdist with a setup.py only (PKG-INFO 1.0 is not trusted): it goes through the sandbox.
  execFileSync('python3', [
    '-c',
    `
import io, sys, tarfile
name, out = sys.argv[1], sys.argv[2]
files = {
  f"{name}-1.0/setup.py": f"from setuptools import setup\\nsetup(name={name!r}, version='1.0', install_requires=['six>=1.0'])\\n",
  f"{name}-1.0/PKG-INFO": f"Metadata-Version: 1.0\\nName: {name}\\nVersion: 1.0\\n",
}
with tarfile.open(out, "w:gz") as t:
  for n, text in files.items():
    data = text.encode()
    info = tarfile.TarInfo(n); info.size = len(data); info.mtime = 0
    t.addfile(info, io.BytesIO(data))
`,
    NAME,
    path.join(folder, `${NAME}-1.0.tar.gz`),
  ]);
  server = await startPypiServer({ dir: folder });
});
afterAll(async () => {
  await server?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

async function crawlOnce(gc: 'on' | 'off') {
  const env = await crawlEnv(server.url, 'pglite', 'embedded', {
    SDIST_EXTRACTION: 'sandbox',
    SANDBOX_GC: gc,
  });
  try {
    const outcome = await crawl(env.app, { all: true });
    expect(outcome.summary.failures).toEqual([]);
    const [file] = await projectDependencies(env.app.db, NAME);
    return (file?.extractions ?? []).map((e) => [e.pythonKey, e.method, e.status, e.requirements]);
  } finally {
    await env.cleanup();
  }
}

describe('sandbox outputs and the Nix store', () => {
  it('are deleted once the results are stored; the interpreters stay and the next run works', async () => {
    // Kept (SANDBOX_GC=off): the sdist, its derivation and its output are in the store.
    const kept = await crawlOnce('off');
    expect(kept).toHaveLength(9);
    expect(kept.every(([, method, status]) => method === 'setup.py' && status === 'ok')).toBe(true);
    const [sdist] = sdistStorePaths();
    expect(sdist).toBeDefined();
    const drvs = nix(['--query', '--referrers', sdist!])
      .split('\n')
      .filter((p) => p.endsWith('.drv'));
    expect(drvs).toHaveLength(1);
    const out = nix(['--query', '--outputs', drvs[0]!]);
    expect(existsSync(out)).toBe(true);
    const tools = nix(['--query', '--references', drvs[0]!]).split('\n');

    // Collected (the default): same results, and all three paths are gone.
    const collected = await crawlOnce('on');
    expect(collected).toEqual(kept);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(drvs[0]!)).toBe(false);
    expect(sdistStorePaths()).toEqual([]);
    // What the derivation used besides the sdist (interpreter set, extractor scripts, setuptools) is still there.
    const others = tools.filter((p) => p !== sdist);
    expect(others.length).toBeGreaterThan(0);
    for (const p of others) expect(existsSync(p), p).toBe(true);

    // And a third run, from nothing, gives the same results.
    expect(await crawlOnce('on')).toEqual(kept);
    expect(sdistStorePaths()).toEqual([]);
  }, 300_000);
});
