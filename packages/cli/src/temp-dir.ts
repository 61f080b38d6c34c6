import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { currentOwner, type Logger, ownerState, ProcessOwner } from '@pypi-graph/core';

const OWNER_FILE = 'owner.json';

export interface ProcessTempDir {
  /** `$DATA_DIR/tmp/<pid>.<random>`: downloads and unpacked sdists of this process go here. */
  readonly path: string;
  /** Leftovers of dead processes removed when it was made. */
  readonly removed: readonly string[];
  /** Removes this process's directory (at a clean exit). */
  release(): Promise<void>;
}

async function ownerOf(dir: string): Promise<ProcessOwner | undefined> {
  try {
    const parsed = ProcessOwner.safeParse(JSON.parse(await readFile(path.join(dir, OWNER_FILE), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A temporary directory of this process under `root` (`$DATA_DIR/tmp`), after removing what dead
 * processes left there: a download cut by a crash or a kill -9, an sdist unpacked when the
 * machine lost power. Processes sharing DATA_DIR (several workers on one host) each get their own
 * directory, with an owner record; one is removed only when its owner no longer runs, so that a
 * starting worker never pulls a download from under a live one. Entries without an owner record
 * (left by versions before this one, or a directory whose record was never written) are removed.
 */
export async function processTempDir(root: string, logger: Logger): Promise<ProcessTempDir> {
  await mkdir(root, { recursive: true });
  const removed: string[] = [];
  for (const entry of await readdir(root)) {
    const full = path.join(root, entry);
    const owner = await ownerOf(full);
    if (owner !== undefined && ownerState(owner) !== 'dead') continue;
    await rm(full, { recursive: true, force: true });
    removed.push(entry);
  }
  if (removed.length > 0) logger.info({ dir: root, removed }, 'removed temporary files of dead processes');
  const own = path.join(root, `${process.pid}.${randomBytes(4).toString('hex')}`);
  await mkdir(own);
  await writeFile(path.join(own, OWNER_FILE), `${JSON.stringify(currentOwner())}\n`);
  return {
    path: own,
    removed,
    release: () => rm(own, { recursive: true, force: true }),
  };
}
