/**
 * Retention: a snapshot of all of PyPI is gigabytes, so only the newest few are kept. What
 * `latest` points to is never removed, whatever `keep` says.
 */
import { readdir, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { removeDirAtomically } from './fs-atomic';
import { REUSE_DIR } from './reuse';

/** `<serial>-<12 hex>`: the name of a snapshot directory (see `snapshotId`). */
const SNAPSHOT_ID = /^(\d+)-[0-9a-f]{12}$/;

export interface PruneResult {
  kept: string[];
  removed: string[];
}

/**
 * Keeps the `keep` newest snapshots of `outDir` (by serial, then by the directory's mtime), the
 * one `latest` points to always among them, and removes every other one: its tree, tarball,
 * `.sha256` file and reuse data. `keep` must be at least 1.
 */
export async function pruneSnapshots(outDir: string, keep: number): Promise<PruneResult> {
  if (!Number.isInteger(keep) || keep < 1)
    throw new RangeError(`keep must be a positive integer, got ${keep}`);
  const latest = await readlink(join(outDir, 'latest')).catch(() => undefined);
  const ids: Array<{ id: string; serial: bigint; mtime: number }> = [];
  for (const entry of await readdir(outDir, { withFileTypes: true })) {
    const m = SNAPSHOT_ID.exec(entry.name);
    if (!m || !entry.isDirectory()) continue;
    const { mtimeMs } = await stat(join(outDir, entry.name));
    ids.push({ id: entry.name, serial: BigInt(m[1]!), mtime: mtimeMs });
  }
  ids.sort((a, b) => (a.serial === b.serial ? b.mtime - a.mtime : a.serial > b.serial ? -1 : 1));
  const kept: string[] = latest !== undefined && ids.some((s) => s.id === latest) ? [latest] : [];
  for (const { id } of ids) if (kept.length < keep && !kept.includes(id)) kept.push(id);
  const removed: string[] = [];
  for (const { id } of ids) {
    if (kept.includes(id)) continue;
    for (const name of [
      `${id}.tar.gz.sha256`,
      `${id}.tar.gz`,
      join(REUSE_DIR, `${id}.entries`),
      join(REUSE_DIR, `${id}.pieces`),
    ]) {
      await rm(join(outDir, name), { force: true });
    }
    // Renamed out of the way first: a run killed meanwhile leaves a temp directory that the next
    // run removes, never a half-deleted tree under the snapshot's name.
    await removeDirAtomically(outDir, id);
    removed.push(id);
  }
  return { kept, removed };
}
