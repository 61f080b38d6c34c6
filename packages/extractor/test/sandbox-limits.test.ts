// Limits per build, not per process (issue 10 §2), against this machine's real Nix and cgroups
// (v1 memory and pids here): each build in a cgroup of its own with a memory and a process cap,
// each interpreter's writes on a tmpfs of its own, no process of a build left behind. The hostile
// setup.py scripts are sized to exceed a build's caps, not the machine (see the fixtures' readme).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroups, type RunSandboxOptions, runSandbox, type SandboxResult } from '../src';
import { makeSdist, REPO } from './make-sdist';

let work: string;
const SALT = randomBytes(8).toString('hex');

async function run(fixture: string, extra: Partial<RunSandboxOptions> = {}, name = fixture) {
  const sdist = await makeSdist(work, fixture, SALT, name);
  return runSandbox({ sdistPath: sdist.file, sha256: sdist.sha256, filename: sdist.filename, ...extra });
}

function failure(result: SandboxResult | undefined) {
  if (!result || !('error' in result)) throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  return result.error;
}

/** Host processes whose command line mentions `needle` (the sdist's directory in the build). */
function processesOf(needle: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((line) => line.includes(needle) && !line.includes('ps -eo'));
}

/** Build cgroups of this process still on the machine. */
async function buildCgroupsLeft(): Promise<string[]> {
  const support = await detectCgroups();
  const dirs =
    support.kind === 'v1' ? [support.memory, support.pids] : support.kind === 'v2' ? [support.parent] : [];
  const { readdir } = await import('node:fs/promises');
  const left: string[] = [];
  for (const d of dirs) {
    for (const name of await readdir(d))
      if (name.startsWith(`pypi-graph-build-${process.pid}-`)) left.push(name);
  }
  return left;
}

beforeAll(async () => {
  const support = await detectCgroups();
  if (support.kind === 'none') throw new Error(`these tests need cgroups (memory, pids): ${support.reason}`);
  work = await mkdtemp(path.join(tmpdir(), 'pypi-graph-limits-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('per-build limits (real Nix, real cgroups)', () => {
  it('runs the builder itself in the build’s own cgroup, and removes the cgroup afterwards', async () => {
    const { results, cgroup } = await run('cgroup-self', { pythons: ['311'] });
    const seen = 'ok' in results['311']! ? results['311'].ok.install_requires : [];
    const own = seen.filter((s) => /pypi-graph-build-\d+-\d+-[0-9a-f]+$/.test(s));
    // v1: the memory and the pids hierarchies; v2: the unified one
    expect(own.length).toBeGreaterThanOrEqual(1);
    const support = await detectCgroups();
    if (support.kind === 'v1') {
      expect(own.some((s) => s.includes('-memory-'))).toBe(true);
      expect(own.some((s) => s.includes('-pids-'))).toBe(true);
    }
    expect(cgroup).toMatchObject({ oomKills: 0, processLimitHits: 0, leftoverKilled: 0 });
    expect(await buildCgroupsLeft()).toEqual([]);
  });

  it('ends a fork-and-allocate bomb over the build’s memory cap as sandbox-build-memory', async () => {
    // 8 × 600 MB, each within its 1 GiB address space, against 2 GiB for the whole build.
    const before = await readFile('/proc/meminfo', 'utf8');
    const available = Number(before.match(/^MemAvailable: +(\d+) kB$/m)?.[1]) * 1024;
    expect(available).toBeGreaterThan(6 * 1024 ** 3); // the premise: the machine could hold 4.8 GB
    const err = await run('alloc-bomb', {
      pythons: ['311'],
      limits: { wallSeconds: 30, cpuSeconds: 20 },
      buildLimits: { memoryMiB: 2048 },
    }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'sandbox-build-memory' });
    const peak = (err as { details?: { peakMemoryBytes?: number } }).details?.peakMemoryBytes;
    // the host kept its memory: the build never held more than its cap
    expect(peak).toBeLessThanOrEqual(2048 * 1024 * 1024);
    expect(peak).toBeGreaterThan(1024 * 1024 * 1024);
    expect(processesOf('alloc-bomb-1.0')).toEqual([]);
    expect(await buildCgroupsLeft()).toEqual([]);
  });

  it('ends a disk filler as sandbox-disk-full, in a tmpfs of its own: the host keeps its disk', async () => {
    const { results } = await run('disk-filler', { pythons: ['27', '311', '313'], limits: { diskMiB: 64 } });
    for (const key of ['27', '311', '313'] as const) {
      const error = failure(results[key]);
      expect(error.code).toBe('sandbox-disk-full');
      // It wrote to a filesystem of 64 MiB (its tmpfs, in the build's memory), not to the host's
      // disk, where Nix keeps the build directory (nix-build's TMPDIR) and stages $out.
      expect(error.tail).toContain(`directory-filesystem-bytes=${64 * 1024 * 1024}`);
    }
  });

  it('ends a script that leaves a daemon behind as sandbox-process-escaped; no process survives', async () => {
    const started = performance.now();
    const { results, cgroup } = await run('detach', { pythons: ['27', '311', '313'] });
    for (const key of ['27', '311', '313'] as const) {
      expect(failure(results[key])).toMatchObject({
        code: 'sandbox-process-escaped',
        log: '1 process(es) outlived setup.py and were killed',
      });
    }
    // the daemons would have run 10 minutes
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(processesOf('detach-1.0')).toEqual([]);
    expect(cgroup?.leftoverKilled).toBe(0);
    expect(await buildCgroupsLeft()).toEqual([]);
  });

  it('fails closed where there are no cgroups: the probe refuses, so nothing runs', () => {
    // No cgroups, for real but for one process only: a mount namespace of its own without
    // /sys/fs/cgroup (util-linux unshare; nothing changes for the rest of the machine).
    const script =
      "import { probeSandbox } from '@pypi-graph/extractor'; const v = await probeSandbox(); console.log(JSON.stringify(v))";
    const out = execFileSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'umount -R /sys/fs/cgroup && exec "$0" --import tsx --input-type=module -e "$1"',
        process.execPath,
        script,
      ],
      { cwd: REPO, encoding: 'utf8', timeout: 120_000 },
    );
    const verdict = JSON.parse(out.trim().split('\n').pop()!);
    expect(verdict).toMatchObject({
      ok: false,
      reason: 'no cgroups for per-build limits: no cgroup memory and pids controllers are mounted',
    });
    expect(verdict.hint).toContain('SANDBOX_CGROUPS=off');
  });

  it('runs with per-process limits only when cgroups are turned off (SANDBOX_CGROUPS=off)', async () => {
    // another name: another derivation, not the cache hit of the run in a cgroup above
    const { results, cgroup } = await run('cgroup-self', { pythons: ['311'], cgroups: 'off' }, 'cgroup-off');
    expect(cgroup).toBeUndefined();
    const seen = 'ok' in results['311']! ? results['311'].ok.install_requires : [];
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.includes('pypi-graph-build-'))).toEqual([]);
  });
});
