import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { type CrawlError, currentOwner, databaseError, ownerState, ProcessOwner } from '@pypi-graph/core';

// One process at a time may open a PGlite directory: PGlite is PostgreSQL compiled to WASM in
// the opening process, with no server in between, and two of them writing the same files corrupt
// them. PostgreSQL's own postmaster.pid does not help (PGlite runs no postmaster), so the opener
// holds `<dir>.lock`, a file naming its process (packages/core/src/process-owner.ts). A lock whose
// process is gone (killed, crashed, the machine rebooted) is taken over.

export interface PgliteLock {
  readonly path: string;
  release(): Promise<void>;
}

type Read = { kind: 'missing' } | { kind: 'owner'; owner: ProcessOwner; text: string } | { kind: 'garbage' };

async function readLock(path: string): Promise<Read> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  try {
    const parsed = ProcessOwner.safeParse(JSON.parse(text));
    return parsed.success ? { kind: 'owner', owner: parsed.data, text } : { kind: 'garbage' };
  } catch {
    return { kind: 'garbage' };
  }
}

function lockedError(dir: string, path: string, owner: ProcessOwner, elsewhere: boolean): CrawlError {
  return databaseError(
    'database-locked',
    elsewhere
      ? `the embedded database ${dir} was opened by pid ${owner.pid} on host ${owner.host}, which this machine cannot ask`
      : `the embedded database ${dir} is open in another process (pid ${owner.pid})`,
    {
      hint: elsewhere
        ? `if that process is gone, remove ${path}; several processes at once need a PostgreSQL (DATABASE_URL)`
        : `one process at a time opens a PGlite directory: stop that one (kill ${owner.pid}) or use another DATA_DIR; several processes at once need a PostgreSQL (DATABASE_URL)`,
      details: { dir, lock: path, owner },
    },
  );
}

/** Takes `<dir>.lock` for this process, or throws `database-locked` naming the live owner. */
export async function lockPglite(dir: string): Promise<PgliteLock> {
  const path = `${dir}.lock`;
  const text = `${JSON.stringify(currentOwner())}\n`;
  // Written whole under another name, then linked: the lock never exists half-written.
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(draft, text);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(draft, path);
        return {
          path,
          async release() {
            const now = await readLock(path);
            if (now.kind === 'owner' && now.text === text) await unlink(path).catch(() => {});
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await readLock(path);
      if (held.kind === 'missing') continue; // released meanwhile
      if (held.kind === 'owner') {
        const state = ownerState(held.owner);
        if (state !== 'dead') throw lockedError(dir, path, held.owner, state === 'elsewhere');
      }
      // Stale (its process is gone, or the file is not a lock we can read): moved aside, then
      // checked, so that two processes taking it over at once cannot both win.
      const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
      try {
        await rename(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another one moved it
        throw err;
      }
      const moved = await readFile(aside, 'utf8').catch(() => '');
      if (held.kind === 'owner' && moved !== held.text) {
        // Between our look and the rename, another process took it over: give it back.
        await link(aside, path).catch(() => {});
      }
      await unlink(aside).catch(() => {});
    }
    throw databaseError('database-locked', `could not take the lock of the embedded database ${dir}`, {
      hint: 'several processes are opening it at once; start one',
      details: { dir, lock: path },
    });
  } finally {
    await unlink(draft).catch(() => {});
  }
}
