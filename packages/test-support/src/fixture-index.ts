// The local PyPI server over a few fixture files: copies of them in a temporary folder of their
// own (the server serves a whole folder, and a test wants only these files in its index).
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';

export interface FixtureIndex {
  readonly server: PypiServer;
  /** The temporary folder it serves. */
  readonly folder: string;
  /** Stops the server and removes the folder. */
  close(): Promise<void>;
}

/**
 * Serves the files of `dir` that `files` names (a list of file names, or a test of each name in
 * `dir`), copied into a temporary folder whose name starts with `prefix`.
 */
export async function serveFixtures(
  dir: string,
  files: readonly string[] | ((name: string) => boolean),
  prefix = 'fixture-index-',
): Promise<FixtureIndex> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  try {
    const names = typeof files === 'function' ? (await readdir(dir)).filter(files) : files;
    for (const f of names) await copyFile(path.join(dir, f), path.join(folder, f));
    const server = await startPypiServer({ dir: folder });
    return {
      server,
      folder,
      async close() {
        await server.close();
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(folder, { recursive: true, force: true });
    throw err;
  }
}
