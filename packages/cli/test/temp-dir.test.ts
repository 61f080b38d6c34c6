// `$DATA_DIR/tmp` at start: what dead processes left is removed, a live process's directory is
// not. The owners are real processes (a `sleep` that runs, one that has exited).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { currentOwner, ownerState, silentLogger } from '@pypi-graph/core';
import { afterEach, expect, it } from 'vitest';
import { processTempDir } from '../src/temp-dir';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function start(args: string[]): Promise<ChildProcess> {
  const child = spawn('sleep', args, { stdio: 'ignore' });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

async function ownedBy(dir: string, pid: number): Promise<void> {
  await mkdir(dir);
  // The record such a process wrote itself: pid, host, boot id and its start time from /proc.
  const owner = { ...currentOwner(), pid };
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  owner.startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  await writeFile(path.join(dir, 'owner.json'), JSON.stringify(owner));
  await writeFile(path.join(dir, '.4f1d.part'), 'half a download');
}

it('removes the leftovers of dead processes and of older versions, keeps a live one, makes its own', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'pypi-graph-tmp-'));
  try {
    const live = await start(['30']);
    const dead = await start(['30']);
    await ownedBy(path.join(root, `${live.pid}.aaaa`), live.pid!);
    await ownedBy(path.join(root, `${dead.pid}.bbbb`), dead.pid!);
    const exited = new Promise((r) => dead.once('exit', r));
    dead.kill('SIGKILL');
    await exited;
    // Older versions unpacked sdists straight into tmp, without an owner record.
    await mkdir(path.join(root, 'sdist-x1Yz'));
    await writeFile(path.join(root, 'sdist-x1Yz', 'pkg-1.0.tar.gz'), 'partial');
    await writeFile(path.join(root, '.9e8f.part'), 'partial');

    const temp = await processTempDir(root, silentLogger);
    expect([...temp.removed].sort()).toEqual([`${dead.pid}.bbbb`, '.9e8f.part', 'sdist-x1Yz'].sort());
    const left = (await readdir(root)).sort();
    expect(left).toEqual([`${live.pid}.aaaa`, path.basename(temp.path)].sort());
    expect(await readdir(temp.path)).toEqual(['owner.json']);

    // A second process starting now leaves this one's directory alone.
    const second = await processTempDir(root, silentLogger);
    expect(second.removed).toEqual([]);
    await second.release();
    await temp.release();
    expect(await readdir(root)).toEqual([`${live.pid}.aaaa`]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('tells a recycled pid from its owner by the start time', async () => {
  const child = await start(['30']);
  const owner = { ...currentOwner(), pid: child.pid! };
  expect(ownerState(owner)).toBe('dead'); // our start time, not the sleep's: another process
  expect(ownerState(currentOwner())).toBe('alive');
  expect(ownerState({ ...currentOwner(), host: 'another-host.invalid' })).toBe('elsewhere');
});

it('processes starting together each keep their own directory', async () => {
  // Workers of one host start at the same moment (a deployment, the tests' three workers): each
  // sweeps tmp while the others are making their directories. Before the staging rename, one
  // could remove another's directory in the moment between its mkdir and its owner record, and
  // every sdist of that worker then failed with ENOENT.
  const root = await mkdtemp(path.join(tmpdir(), 'pypi-graph-tmp-'));
  try {
    for (let round = 0; round < 20; round++) {
      // Started a little apart, so that their sweeps fall between the others' steps.
      const dirs = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i % 3));
          return processTempDir(root, silentLogger);
        }),
      );
      for (const d of dirs) expect(await readdir(d.path)).toEqual(['owner.json']);
      expect(dirs.flatMap((d) => d.removed)).toEqual([]);
      await Promise.all(dirs.map((d) => d.release()));
    }
    expect(await readdir(root)).toEqual([]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('removes a staging directory only once it is stale', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'pypi-graph-tmp-'));
  try {
    // One being made by a process right now (no record yet), one left by a process that died
    // while making it, eleven minutes ago.
    await mkdir(path.join(root, '.new.111.aaaa'));
    await mkdir(path.join(root, '.new.222.bbbb'));
    const old = new Date(Date.now() - 11 * 60_000);
    await utimes(path.join(root, '.new.222.bbbb'), old, old);
    const temp = await processTempDir(root, silentLogger);
    expect(temp.removed).toEqual(['.new.222.bbbb']);
    expect((await readdir(root)).sort()).toEqual(['.new.111.aaaa', path.basename(temp.path)].sort());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('is made again, with its record, when something removes it while the process runs', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'pypi-graph-tmp-'));
  try {
    const temp = await processTempDir(root, silentLogger);
    expect(await temp.ensure()).toBe(temp.path);

    // The directory removed (an operator's rm -rf of one directory): made again under its name.
    await rm(temp.path, { recursive: true });
    expect(await temp.ensure()).toBe(temp.path);
    expect(await readdir(temp.path)).toEqual(['owner.json']);

    // The whole of tmp removed, and many files asking at once: one remake, no error.
    await rm(root, { recursive: true });
    const paths = await Promise.all(Array.from({ length: 16 }, () => temp.ensure()));
    expect(new Set(paths)).toEqual(new Set([temp.path]));
    expect(await readdir(root)).toEqual([path.basename(temp.path)]);
    expect(await readdir(temp.path)).toEqual(['owner.json']);

    // Its contents removed but the directory left: the record written back, a download kept.
    await rm(path.join(temp.path, 'owner.json'));
    await writeFile(path.join(temp.path, '.5a5a.part'), 'a download in progress');
    await temp.ensure();
    expect((await readdir(temp.path)).sort()).toEqual(['.5a5a.part', 'owner.json']);

    // What was made again is this live process's: another process's sweep leaves it.
    const other = await processTempDir(root, silentLogger);
    expect(other.removed).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(
      [path.basename(temp.path), path.basename(other.path)].sort(),
    );
    await other.release();
    await temp.release();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
