import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { currentOwner, type Logger, ownerState, ProcessOwner } from '@pypi-graph/core';

const OWNER_FILE = 'owner.json';
/**
 * A directory being made: it gets its owner record under this name and is then renamed into
 * place, so that no other process starting at the same moment sees it without its record.
 */
const STAGING_PREFIX = '.new.';
/** A staging directory older than this was left by a process that died while making it. */
const STAGING_STALE_MS = 10 * 60_000;

/** A staging directory of a process making it now: it is left alone (or it is already renamed). */
async function isFreshStaging(entry: string, full: string): Promise<boolean> {
  if (!entry.startsWith(STAGING_PREFIX)) return false;
  try {
    return Date.now() - (await stat(full)).mtimeMs < STAGING_STALE_MS;
  } catch {
    return true; // renamed into place meanwhile
  }
}

export interface ProcessTempDir {
  /** `$DATA_DIR/tmp/<pid>.<random>`: downloads and unpacked sdists of this process go here. */
  readonly path: string;
  /** Leftovers of dead processes removed when it was made. */
  readonly removed: readonly string[];
  /**
   * The directory, made again (with its owner record) if something removed it while this process
   * runs: a cleaner of old files, an operator's `rm -rf`. Called before each file that may need it,
   * so that one removal costs nothing more than the downloads it cut.
   */
  ensure(): Promise<string>;
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
 * starting worker never pulls a download from under a live one. A directory appears under its
 * name only with its record written (made under a staging name, then renamed), so processes that
 * start together never take each other's directories for leftovers. Entries without an owner
 * record (left by versions before this one, or a staging directory of a process that died while
 * making it, after ten minutes) are removed.
 */
export async function processTempDir(root: string, logger: Logger): Promise<ProcessTempDir> {
  await mkdir(root, { recursive: true });
  const removed: string[] = [];
  for (const entry of await readdir(root)) {
    const full = path.join(root, entry);
    if (await isFreshStaging(entry, full)) continue;
    const owner = await ownerOf(full);
    if (owner !== undefined && ownerState(owner) !== 'dead') continue;
    await rm(full, { recursive: true, force: true });
    removed.push(entry);
  }
  if (removed.length > 0) logger.info({ dir: root, removed }, 'removed temporary files of dead processes');
  const name = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const own = path.join(root, name);
  await makeOwned(root, name);
  let restoring: Promise<void> | undefined;
  return {
    path: own,
    removed,
    async ensure() {
      if (await exists(path.join(own, OWNER_FILE))) return own;
      // Calls that find it gone at the same moment wait for one remake.
      restoring ??= (async () => {
        await makeOwned(root, name);
        logger.warn({ dir: own }, "this process's temporary directory was removed while it ran: made again");
      })().finally(() => {
        restoring = undefined;
      });
      await restoring;
      return own;
    },
    release: () => rm(own, { recursive: true, force: true }),
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * `root/name` with its owner record, made under a staging name and renamed into place. If the
 * directory is there without its record (its contents removed), the record is written into it.
 */
async function makeOwned(root: string, name: string): Promise<void> {
  const own = path.join(root, name);
  const staging = path.join(root, `${STAGING_PREFIX}${name}`);
  const record = `${JSON.stringify(currentOwner())}\n`;
  await mkdir(root, { recursive: true });
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  await writeFile(path.join(staging, OWNER_FILE), record);
  try {
    await rename(staging, own);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await rm(staging, { recursive: true, force: true });
    await writeFile(path.join(own, OWNER_FILE), record);
  }
}
