// Issue 10, point 4: a full disk and a failing disk are faults of this machine, not of the file
// being read. DATA_DIR is a real tmpfs of 1 MiB (mount needs root) and the sdist is 2 MiB; then a
// tmpfs remounted read-only, which is what ext4 does after I/O errors (errors=remount-ro).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { crawl, formatSummary } from '@pypi-graph/cli';
import { CrawlError, toCrawlError } from '@pypi-graph/core';
import { listFilesWithoutResult, projectDependencies } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { crawlEnv, PY_ARCHIVES } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAKE = `${PY_ARCHIVES}${String.raw`
# 2 MiB that do not compress: more than the 1 MiB file system can hold.
sdist("df_big", [("PKG-INFO", b"Metadata-Version: 2.2\nName: df_big\nVersion: 1.0\nRequires-Dist: requests\n\n"),
                 ("data.bin", os.urandom(2 << 20))])
`}`;

const run = promisify(execFile);
let server: PypiServer;
let folder: string;
const mounts: string[] = [];

/** A tmpfs of `size` at a new directory; unmounted in afterAll. */
async function tmpfs(size: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pypi-graph-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `these tests mount a small tmpfs as DATA_DIR and need root: ${(err as { stderr?: Buffer }).stderr ?? err}`,
    );
  }
  mounts.push(dir);
  return dir;
}

const remount = (dir: string, options: string) => execFileSync('mount', ['-o', `remount,${options}`, dir]);

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'disk-faults-'));
  await run('python3', ['-c', MAKE, folder]);
  server = await startPypiServer({ dir: folder });
});
afterAll(async () => {
  await server?.close();
  for (const dir of mounts) {
    execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
  await rm(folder, { recursive: true, force: true });
});

async function sdistResult(env: Awaited<ReturnType<typeof crawlEnv>>) {
  const [file] = await projectDependencies(env.app.db, 'df-big');
  return (file?.extractions ?? []).map((e) => [e.method, e.status, e.failureCode]);
}

describe('faults of the disk under DATA_DIR', () => {
  it('a full disk: disk-full, retried, nothing recorded against the file; with space back, --resume reads it', async () => {
    const dataDir = await tmpfs('1m');
    const env = await crawlEnv(server.url, 'postgres', 'embedded', {
      DATA_DIR: dataDir,
      SDIST_EXTRACTION: 'static',
    });
    try {
      const outcome = await crawl(env.app, { all: true });
      // The job ended with disk-full (after its retries), and the database blames nobody.
      expect(outcome.stats.failures).toEqual({ 'disk-full': 1 });
      expect(outcome.summary.failures).toEqual([]);
      expect(formatSummary(outcome)).toContain(
        '  disk-full: 1\n  (disk-full: faults of this machine, not recorded against any file; fix it, then `pnpm crawl --resume`)',
      );
      expect(await sdistResult(env)).toEqual([]);
      expect((await listFilesWithoutResult(env.app.db, 'sdist', '1', 0, 10)).map((f) => f.filename)).toEqual([
        'df_big-1.0.tar.gz',
      ]);
      // The partial download is gone: only this process's directory and its owner record remain.
      const tmp = path.join(dataDir, 'tmp');
      const [own, ...others] = await readdir(tmp);
      expect(others).toEqual([]);
      expect(await readdir(path.join(tmp, own!))).toEqual(['owner.json']);

      remount(dataDir, 'size=16m');
      const again = await crawl(env.app, { resume: true });
      expect(again.resumed?.sdists).toBe(1);
      expect(again.stats.failures).toEqual({});
      expect(await sdistResult(env)).toEqual([['pkg-info', 'ok', null]]);
    } finally {
      await env.cleanup();
    }
  });

  it('a file system gone read-only (as ext4 after I/O errors): io-error, not against the file', async () => {
    const dataDir = await tmpfs('16m');
    const env = await crawlEnv(server.url, 'postgres', 'embedded', {
      DATA_DIR: dataDir,
      SDIST_EXTRACTION: 'static',
    });
    try {
      remount(dataDir, 'ro');
      const outcome = await crawl(env.app, { all: true });
      expect(outcome.stats.failures).toEqual({ 'io-error': 1 });
      expect(outcome.summary.failures).toEqual([]);
      expect(await sdistResult(env)).toEqual([]);
      remount(dataDir, 'rw');
      await crawl(env.app, { resume: true });
      expect(await sdistResult(env)).toEqual([['pkg-info', 'ok', null]]);
    } finally {
      remount(dataDir, 'rw');
      await env.cleanup();
    }
  });

  it("the process's temporary directory removed while it runs: made again, the sdist read, nothing failed", async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded', { SDIST_EXTRACTION: 'static' });
    try {
      // A cleaner of old files or an operator's rm -rf, after start-up made the directory.
      const tmp = path.join(env.dataDir, 'tmp');
      const [own] = await readdir(tmp);
      await rm(tmp, { recursive: true });
      // Before temp.ensure, every download of this process failed (ENOENT: internal-error)
      // until it was restarted.
      const outcome = await crawl(env.app, { all: true });
      expect(outcome.stats.failures).toEqual({});
      expect(await sdistResult(env)).toEqual([['pkg-info', 'ok', null]]);
      expect(await readdir(tmp)).toEqual([own]);
      expect(await readdir(path.join(tmp, own!))).toEqual(['owner.json']);
    } finally {
      await env.cleanup();
    }
  });

  it('maps EIO and ENOSPC to their codes, also under a verdict on the file', () => {
    // A mock of the errno error: a real EIO needs a failing block device, and this machine has no
    // device-mapper to make one (a loop device over a full file reports ENOSPC, not EIO).
    const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
    expect(toCrawlError(eio)).toMatchObject({ code: 'io-error', retryable: true });
    // What the archive reader makes of a read that failed: a verdict on the file, unless asked first.
    const blamed = new CrawlError('archive-corrupt', 'cannot read tar.gz', { cause: eio });
    expect(toCrawlError(blamed).code).toBe('io-error');
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(toCrawlError(full)).toMatchObject({ code: 'disk-full', retryable: true });
    expect(toCrawlError(full).hint).toMatch(/DATA_DIR/);
    // A verdict with another cause stays a verdict.
    const corrupt = new CrawlError('archive-corrupt', 'bad', { cause: new Error('unexpected end of file') });
    expect(toCrawlError(corrupt).code).toBe('archive-corrupt');
  });
});
