/**
 * File-system steps of an atomic publish. Every temporary name in the output directory starts
 * with `.tmp-<pid>-`, so one rule cleans what a killed run left behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';

export const TMP_PREFIX = '.tmp-';

/** Temporary paths this process is using right now (not stale even though our pid is alive). */
const active = new Set<string>();

function tmpName(): string {
  return `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `.tmp-*` entries of `outDir` whose writer is gone: a name without a pid, a pid that no
 * longer runs, or our own pid when this process is not using that path. A run in progress in
 * another live process keeps its temp directory. Returns the names removed.
 */
export async function removeStaleTemps(outDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(outDir)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const path = join(outDir, name);
    const pid = Number(/^\.tmp-(\d+)-/.exec(name)?.[1] ?? Number.NaN);
    const stale =
      !Number.isSafeInteger(pid) || pid <= 0 || (pid === process.pid ? !active.has(path) : !pidAlive(pid));
    if (!stale) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Creates a fresh temporary directory in `outDir`, marked as in use until `release`. */
export async function makeTempDir(outDir: string): Promise<{ path: string; release: () => Promise<void> }> {
  const path = await mkdtemp(join(outDir, `${TMP_PREFIX}${process.pid}-`));
  active.add(path);
  return {
    path,
    release: async () => {
      await rm(path, { recursive: true, force: true });
      active.delete(path);
    },
  };
}

/** fsync a directory so a rename inside it survives a power loss (best effort: not every FS allows it). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Writes `data` to `path` through a temp file in `dir` and a rename: readers see old or new, never half. */
export async function writeFileAtomic(dir: string, path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dir, tmpName());
  active.add(tmp);
  try {
    const handle = await open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
    active.delete(tmp);
  }
  await syncDir(dir);
}

/** Points the symlink `path` at `target` by renaming a fresh symlink over it. */
export async function replaceSymlink(dir: string, path: string, target: string): Promise<void> {
  const tmp = join(dir, tmpName());
  active.add(tmp);
  try {
    await symlink(target, tmp);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
    active.delete(tmp);
  }
  await syncDir(dir);
}

/** Renames `outDir/name` to a temp name, then removes it: it is either there whole or gone. */
export async function removeDirAtomically(outDir: string, name: string): Promise<void> {
  const tmp = join(outDir, tmpName());
  active.add(tmp);
  try {
    await rename(join(outDir, name), tmp);
    await syncDir(outDir);
    await rm(tmp, { recursive: true, force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    active.delete(tmp);
  }
}
