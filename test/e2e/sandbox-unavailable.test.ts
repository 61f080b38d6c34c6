// Fail closed, as an operator meets it (issue 10 §1, issue 12 §3): real CLI processes whose PATH
// has no Nix, or a nix-build that drops the sandbox. Sdists that need setup.py are recorded as
// waiting for a sandbox (not failures), the crawl says once why and how to fix it, the summary
// tells "not run here" from "failed", `status` shows the sandbox, and once Nix is back `crawl
// --resume` runs them.
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { processMetrics } from '@pypi-graph/pipeline';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { bucketOf } from '@pypi-graph/pyspec';
import { crawlEnv, createTestDatabase, runCli, type TestDatabase } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SDISTS = path.resolve('test/fixtures/sdists');
const STAGE_OFF = /the setup\.py stage is off: /;

let server: PypiServer;
let folder: string;
let work: string;
let database: TestDatabase;
let nixBuild: string;

function run(args: string[], env: Record<string, string>) {
  return runCli(args, env, 240_000);
}

function logLines(stderr: string): Array<{ level: number; msg: string; [k: string]: unknown }> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

beforeAll(async () => {
  nixBuild = execFileSync('sh', ['-c', 'command -v nix-build || true'], { encoding: 'utf8' }).trim();
  if (!nixBuild)
    throw new Error('this test needs Nix for its last step (Debian: apt-get install -y nix-bin)');
  folder = await mkdtemp(path.join(tmpdir(), 'sandbox-unavailable-index-'));
  for (const f of ['pkginfo22-static-1.0.tar.gz', 'setuppy-only-1.0.tar.gz', 'nothing-1.0.tar.gz']) {
    await copyFile(path.join(SDISTS, f), path.join(folder, f));
  }
  server = await startPypiServer({ dir: folder });
  work = await mkdtemp(path.join(tmpdir(), 'sandbox-unavailable-'));
  database = await createTestDatabase();
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
  if (folder) await rm(folder, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('without Nix on PATH (real processes)', () => {
  it('records setup.py sdists as waiting, says why once, and runs them once Nix is there', async () => {
    const noNix = path.join(work, 'no-nix-bin');
    await mkdir(noNix, { recursive: true });
    const env = {
      PATH: noNix,
      HOME: work,
      // the interpreters are discovered under PYENV_ROOT (this machine's pyenv), not in the new HOME
      PYENV_ROOT: path.join(homedir(), '.pyenv'),
      PYPI_URL: server.url,
      DATABASE_URL: database.url,
      DATA_DIR: path.join(work, 'data'),
      HTTP_RPS_PER_HOST: '0',
      LOG_LEVEL: 'info',
      CI: '1',
    };
    const crawled = await run(['crawl', '--all'], env);
    expect(crawled.code, crawled.stderr).toBe(0);
    // The summary: the sdist whose setup.py could not run is "not run here", not a failure.
    expect(crawled.stdout).toMatch(
      /^not run here: +1 sdists wait for a sandbox to run their setup\.py \(sandbox-unavailable: 1; `pnpm status` says why\)$/m,
    );
    // the hatchling sdist: its backend is not in the index, under each of the nine Pythons (no
    // sandbox is needed to know that)
    expect(crawled.stdout).toMatch(/^failures: +9\n {2}missing-build-dependency: 9$/m);
    expect(crawled.stdout).not.toMatch(/ {2}sandbox-unavailable/);
    // Said once, in plain words, with how to install Nix; no warning per sdist.
    const logs = logLines(crawled.stderr);
    const off = logs.filter((l) => STAGE_OFF.test(l.msg));
    expect(off).toHaveLength(1);
    expect(off[0]!.msg).toMatch(
      /^the setup\.py stage is off: Nix is not installed here \(nix-build is not on PATH\)\. /,
    );
    expect(off[0]!.msg).toContain('then `pnpm crawl --resume`');
    expect(off[0]!.msg).toContain('apt-get install -y nix-bin');
    const aboutTheWaitingSdist = (l: Record<string, unknown>) =>
      l.code === 'sandbox-unavailable' || JSON.stringify(l).includes('setuppy-only');
    expect(logs.filter((l) => l.level >= 40 && !STAGE_OFF.test(l.msg) && aboutTheWaitingSdist(l))).toEqual(
      [],
    );

    const status = await run(['status'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^sandbox: +unavailable on \S+:\d+ at \S+: Nix is not installed here/m);
    expect(status.stdout).toMatch(/^waiting: +1 sdists need their setup\.py run and wait for a sandbox/m);
    expect(status.stdout).not.toMatch(/sandbox-unavailable: \d/);

    const shown = await run(['show', 'setuppy-only'], env);
    expect(shown.stdout).toMatch(
      /dependencies: not run here \[sandbox-unavailable\]: no sandbox: Nix is not installed/,
    );

    // Not in the snapshot: neither a result nor an error of the file.
    const snapDir = path.join(work, 'snap');
    const snap = await run(['snapshot', '--out', snapDir], env);
    expect(snap.code, snap.stderr).toBe(0);
    const bucket = async (layout: string, name: string) =>
      JSON.parse(await readFile(path.join(snapDir, 'latest', layout, `${bucketOf(name)}.json`), 'utf8'))[
        name
      ];
    expect(await bucket('sdist', 'setuppy-only')).toBeUndefined();
    expect(await bucket('sdist-errors', 'setuppy-only')).toBeUndefined();
    expect(await bucket('sdist', 'pkginfo22-static')).toBeDefined();

    // Nix installed: `crawl --resume` runs what waited, in the sandbox.
    const withNix = { ...env, PATH: `${path.dirname(nixBuild)}:${noNix}` };
    const resumed = await run(['crawl', '--resume'], withNix);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^resumed: .* 1 sdists without a result$/m);
    expect(resumed.stdout).toMatch(/^metadata read: +1 files \(setup\.py 1\)$/m);
    expect(resumed.stdout).toMatch(/^setup\.py: +9 results, one per \(sdist, Python version\)$/m);
    expect(resumed.stdout).not.toContain('not run here');
    const after = await run(['status'], withNix);
    expect(after.stdout).toMatch(/^sandbox: +proven on \S+:\d+ at \S+$/m);
    expect(after.stdout).not.toMatch(/^waiting:/m);
  });
});

describe('pnpm demo without Nix on PATH (real process)', () => {
  it('says once that the setup.py stage is off, and tells "not run here" from "failed"', async () => {
    const noNix = path.join(work, 'demo-bin');
    await mkdir(noNix, { recursive: true });
    const demo = await run(['demo'], {
      PATH: noNix,
      HOME: work,
      DATA_DIR: path.join(work, 'demo-data'),
      CI: '1',
    });
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/^not run here: +\d+ sdists wait for a sandbox to run their setup\.py/m);
    // among the failures by code, none is the missing sandbox
    expect(demo.stdout).not.toMatch(/^ {2}sandbox-unavailable: \d+$/m);
    const off = logLines(demo.stderr).filter((l) => STAGE_OFF.test(l.msg));
    expect(off).toHaveLength(1);
    expect(off[0]!.msg).toContain('nix-build is not on PATH');
  });
});

describe('with a nix-build that drops the sandbox (in process: the metric)', () => {
  it('counts the sdists that waited and shows the sandbox as not available', async () => {
    const bin = path.join(work, 'dropping-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(
      path.join(bin, 'nix-build'),
      `#!/bin/sh\nexec ${nixBuild} "$@" --option sandbox false --option build-users-group ""\n`,
    );
    await chmod(path.join(bin, 'nix-build'), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    const env = await crawlEnv(server.url, 'postgres', 'embedded', { SDIST_EXTRACTION: 'auto' });
    try {
      const before = await processMetrics().registry.getSingleMetricAsString(
        'pypi_graph_sandbox_unavailable_total',
      );
      expect(before).toMatch(/^pypi_graph_sandbox_unavailable_total 0$/m);
      const { crawl } = await import('@pypi-graph/cli');
      const outcome = await crawl(env.app, { all: true });
      expect(outcome.summary.notRunHere).toEqual([{ code: 'sandbox-unavailable', count: 1 }]);
      expect(outcome.summary.failures).toEqual([{ code: 'missing-build-dependency', count: 9 }]);
      const text = await processMetrics().text();
      expect(text).toMatch(/^pypi_graph_sandbox_unavailable_total 1$/m);
      expect(text).toMatch(/^pypi_graph_sandbox_available 0$/m);
      expect(text).toMatch(/^pypi_graph_sandbox_checks_total\{result="unavailable"\} 1$/m);
    } finally {
      process.env.PATH = saved;
      await env.cleanup();
    }
  });
});
