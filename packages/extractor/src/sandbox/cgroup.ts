import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILD_MEMORY_MIB } from '@pypi-graph/config';
import { sandboxError } from '@pypi-graph/core';
import type { NixCommandResult } from './nix';

// Per-build limits (issue 10 §2): each sdist's nix-build runs in a cgroup of its own, with a memory
// cap and a process cap for the build as a whole. The builder inherits the cgroup from nix-build
// (Nix 2.8 creates no cgroup of its own and no cgroup namespace; the probe checks it on every
// machine). After the build everything left in the cgroup is killed and the cgroup removed.
//
// Where: below this process's own cgroup (v1: per controller; v2: beside it, since a v2 cgroup
// holding processes cannot hand controllers down), so that whatever limits the operator's
// service manager sets on pypi-graph still apply to its builds.

export interface BuildLimits {
  /** Memory of the whole build (every process, and the tmpfs its interpreters write to), MiB. */
  memoryMiB: number;
  /** Processes and threads of the whole build. */
  processes: number;
}

export const DEFAULT_BUILD_LIMITS: BuildLimits = Object.freeze({
  memoryMiB: BUILD_MEMORY_MIB,
  processes: 256,
});

export type CgroupSupport =
  | { kind: 'v1'; memory: string; pids: string }
  | { kind: 'v2'; parent: string }
  | { kind: 'none'; reason: string };

/** What a build's cgroup saw, read before it is removed. */
export interface BuildCgroupReport {
  /** Processes the kernel's OOM killer killed because the build reached its memory cap. */
  oomKills: number;
  /** Times a fork failed because the build reached its process cap. */
  processLimitHits: number;
  /** The most memory the build used, bytes (when the kernel says). */
  peakMemoryBytes: number | undefined;
  /** Processes still in the cgroup after nix-build had ended, killed. */
  leftoverKilled: number;
}

export interface BuildCgroup {
  /** Its directory's name (`pypi-graph-build-<pid>-<n>-<random>`), the same in every hierarchy. */
  readonly name: string;
  /** The `cgroup.procs` files a process writes its pid to, to join. */
  readonly procsFiles: string[];
  /** Reads the counters, kills what is left, removes the cgroup. */
  destroy(): Promise<BuildCgroupReport>;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

interface Mount {
  point: string;
  fstype: string;
  superOptions: string[];
}

async function mounts(): Promise<Mount[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right = ''] = line.split(' - ');
      const fields = (left ?? '').split(' ');
      const [fstype = '', , superOpts = ''] = right.split(' ');
      return { point: fields[4] ?? '', fstype, superOptions: superOpts.split(',') };
    });
}

/** This process's cgroup path per v1 controller (`memory`, `pids`) and for v2 (`''`). */
async function ownCgroups(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).split('\n')) {
    const [, controllers, p] = line.match(/^\d+:([^:]*):(.*)$/) ?? [];
    if (controllers === undefined || p === undefined) continue;
    for (const c of controllers.split(',')) out.set(c, p);
  }
  return out;
}

let detected: Promise<CgroupSupport> | undefined;

/** Finds where this process may create build cgroups with a memory and a process cap (once). */
export function detectCgroups(): Promise<CgroupSupport> {
  detected ??= findCgroups().then(async (support) => {
    if (support.kind === 'v1') await removeStale([support.memory, support.pids]);
    if (support.kind === 'v2') await removeStale([support.parent]);
    return support;
  });
  return detected;
}

function findCgroups(): Promise<CgroupSupport> {
  return (async (): Promise<CgroupSupport> => {
    const all = await mounts();
    const own = await ownCgroups();
    const v1 = (controller: string) =>
      all.find((m) => m.fstype === 'cgroup' && m.superOptions.includes(controller));
    const memory = v1('memory');
    const pids = v1('pids');
    if (memory && pids) {
      const dirs = {
        memory: path.join(memory.point, own.get('memory') ?? '/'),
        pids: path.join(pids.point, own.get('pids') ?? '/'),
      };
      for (const dir of Object.values(dirs)) {
        if (!(await exists(path.join(dir, 'cgroup.procs')))) {
          return { kind: 'none', reason: `cgroup v1: ${dir} is not this process's cgroup` };
        }
      }
      return { kind: 'v1', ...dirs };
    }
    const unified = all.find((m) => m.fstype === 'cgroup2');
    if (unified) {
      const mine = path.join(unified.point, own.get('') ?? '/');
      // A cgroup that holds processes cannot enable controllers for children: the builds go
      // beside this process's cgroup, under its parent (or under the root, which may).
      const parent = mine === unified.point ? mine : path.dirname(mine);
      const available = (await readFile(path.join(parent, 'cgroup.subtree_control'), 'utf8').catch(() => ''))
        .trim()
        .split(/\s+/);
      if (!available.includes('memory') || !available.includes('pids')) {
        try {
          await writeFile(path.join(parent, 'cgroup.subtree_control'), '+memory +pids');
        } catch (err) {
          return {
            kind: 'none',
            reason: `cgroup v2: the memory and pids controllers are not enabled in ${parent} and cannot be (${(err as Error).message})`,
          };
        }
      }
      return { kind: 'v2', parent };
    }
    return { kind: 'none', reason: 'no cgroup memory and pids controllers are mounted' };
  })();
}

async function readNumber(file: string, field?: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  if (field === undefined) return Number(text.trim());
  const m = text.match(new RegExp(`^${field} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

async function pidsIn(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((n) => n > 0);
}

/** Kills every process of the cgroup until none is left (a fork can race one round). */
async function emptyOut(dirs: string[]): Promise<number> {
  const killed = new Set<number>();
  for (let round = 0; round < 200; round++) {
    const pids = [...new Set((await Promise.all(dirs.map(pidsIn))).flat())];
    if (pids.length === 0) return killed.size;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // gone already
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw sandboxError('sandbox-failed', `processes of a build survive in ${dirs.join(', ')}`);
}

let sequence = 0;

/** A fresh cgroup for one build, with its caps set; `support` from detectCgroups(). */
export async function createBuildCgroup(
  support: Exclude<CgroupSupport, { kind: 'none' }>,
  limits: BuildLimits,
): Promise<BuildCgroup> {
  const name = `pypi-graph-build-${process.pid}-${++sequence}-${randomBytes(3).toString('hex')}`;
  const memoryBytes = String(limits.memoryMiB * 1024 * 1024);
  if (support.kind === 'v1') {
    const dirs = [path.join(support.memory, name), path.join(support.pids, name)];
    await mkdir(dirs[0]!);
    await mkdir(dirs[1]!);
    try {
      await writeFile(path.join(dirs[0]!, 'memory.limit_in_bytes'), memoryBytes);
      // Memory + swap, where the kernel accounts swap: no way around the cap through swap.
      const memsw = path.join(dirs[0]!, 'memory.memsw.limit_in_bytes');
      if (await exists(memsw)) await writeFile(memsw, memoryBytes);
      await writeFile(path.join(dirs[1]!, 'pids.max'), String(limits.processes));
    } catch (err) {
      await Promise.all(dirs.map((d) => rmdir(d).catch(() => {})));
      throw err;
    }
    return {
      name,
      procsFiles: dirs.map((d) => path.join(d, 'cgroup.procs')),
      async destroy() {
        const report = {
          oomKills: (await readNumber(path.join(dirs[0]!, 'memory.oom_control'), 'oom_kill')) ?? 0,
          processLimitHits: (await readNumber(path.join(dirs[1]!, 'pids.events'), 'max')) ?? 0,
          peakMemoryBytes: await readNumber(path.join(dirs[0]!, 'memory.max_usage_in_bytes')),
        };
        const leftoverKilled = await emptyOut(dirs);
        for (const d of dirs) await rmdir(d);
        return { ...report, leftoverKilled };
      },
    };
  }
  const dir = path.join(support.parent, name);
  await mkdir(dir);
  try {
    await writeFile(path.join(dir, 'memory.max'), memoryBytes);
    const swap = path.join(dir, 'memory.swap.max');
    if (await exists(swap)) await writeFile(swap, '0');
    await writeFile(path.join(dir, 'pids.max'), String(limits.processes));
  } catch (err) {
    await rmdir(dir).catch(() => {});
    throw err;
  }
  return {
    name,
    procsFiles: [path.join(dir, 'cgroup.procs')],
    async destroy() {
      const report = {
        oomKills: (await readNumber(path.join(dir, 'memory.events'), 'oom_kill')) ?? 0,
        processLimitHits: (await readNumber(path.join(dir, 'pids.events'), 'max')) ?? 0,
        peakMemoryBytes: await readNumber(path.join(dir, 'memory.peak')),
      };
      // cgroup.kill (Linux 5.14) kills every process at once, new forks included.
      await writeFile(path.join(dir, 'cgroup.kill'), '1').catch(() => {});
      const leftoverKilled = await emptyOut([dir]);
      await rmdir(dir);
      return { ...report, leftoverKilled };
    },
  };
}

/** Whether each build gets a cgroup (`required`: no sdist runs without one) or not (`off`). */
export type CgroupPolicy = 'required' | 'off';

export const CGROUPS_OFF_HINT =
  'per-build limits need the cgroup memory and pids controllers (run as root; v2: a delegated cgroup); SANDBOX_CGROUPS=off runs builds with per-process limits only (worst case in nix/README.md "Limits")';

/**
 * The cgroup of one build, or none when the policy is `off`. `required` and no cgroups here:
 * `sandbox-unavailable` (fail closed: nothing runs without its caps).
 */
export async function buildCgroup(
  policy: CgroupPolicy,
  limits: BuildLimits,
): Promise<BuildCgroup | undefined> {
  if (policy === 'off') return undefined;
  const support = await detectCgroups();
  if (support.kind === 'none') {
    throw sandboxError('sandbox-unavailable', `no cgroups for per-build limits: ${support.reason}`, {
      hint: CGROUPS_OFF_HINT,
    });
  }
  return createBuildCgroup(support, limits);
}

/**
 * Build cgroups of processes that are gone (a worker killed mid-build): what is left in them is
 * killed, and they are removed. Run once per process, when cgroups are first detected.
 */
async function removeStale(dirs: string[]): Promise<void> {
  for (const parent of dirs) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(name.match(/^pypi-graph-build-(\d+)-/)?.[1]);
      if (!pid || pid === process.pid || alive(pid)) continue;
      const dir = path.join(parent, name);
      await emptyOut([dir]).catch(() => {});
      await rmdir(dir).catch(() => {});
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The command line that runs `command args` inside the cgroup: a shell joins it (writes its own
 * pid to each `cgroup.procs`), then execs the command, so nothing of the build ever runs outside.
 */
export function inCgroup(cgroup: BuildCgroup, command: string, args: string[]): [string, string[]] {
  const script =
    'set -e; n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n-1)); done; exec "$@"';
  return [
    '/bin/sh',
    ['-c', script, 'sh', String(cgroup.procsFiles.length), ...cgroup.procsFiles, command, ...args],
  ];
}

/**
 * Runs `build` (a nix-build) inside a fresh cgroup of its own when the policy asks for one, and
 * returns what the cgroup saw; the cgroup is emptied and removed in every case. `build` gets the
 * cgroup's name and the `wrap` that puts a command in it (both undefined without one).
 */
export async function inBuildCgroup(
  policy: CgroupPolicy,
  limits: BuildLimits,
  build: (
    wrap: ((command: string, args: string[]) => [string, string[]]) | undefined,
    name: string | undefined,
  ) => Promise<NixCommandResult>,
): Promise<{ res: NixCommandResult; report: BuildCgroupReport | undefined }> {
  const cgroup = await buildCgroup(policy, limits);
  if (!cgroup) return { res: await build(undefined, undefined), report: undefined };
  const outcome = await build((command, args) => inCgroup(cgroup, command, args), cgroup.name).then(
    (res) => ({ res }),
    (err: unknown) => ({ err }),
  );
  // also after an abort or a timeout: no process of the build outlives it
  const report = await cgroup.destroy();
  if ('err' in outcome) throw outcome.err;
  return { res: outcome.res, report };
}
