// Two real processes on one PGlite directory: the second is refused with database-locked and a
// hint naming the first; once the first is gone (SIGKILL: no chance to clean up), its lock is
// stale and taken over.
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CrawlError } from '@pypi-graph/core';
import { startCli, startTs, watch } from '@pypi-graph/test-support';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDatabase } from '../src/index';

const HOLD = path.join(import.meta.dirname, 'hold-pglite.ts');
let dataDir: string;
let pglite: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'pglite-lock-'));
  pglite = path.join(dataDir, 'pglite');
});
afterEach(async () => rm(dataDir, { recursive: true, force: true }));

async function refusal(p: Promise<unknown>): Promise<CrawlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrawlError);
  return err as CrawlError;
}

it('refuses a second process with database-locked while the first runs, and takes over a dead one', async () => {
  const holder = startTs(HOLD, [pglite]);
  const held = watch(holder);
  const [, pid] = await held.waitFor('stdout', /^open (\d+)$/m);
  try {
    // This test process is the second one.
    const err = await refusal(openDatabase({ pglitePath: pglite }));
    expect(err.code).toBe('database-locked');
    expect(err.message).toContain(`pid ${pid}`);
    expect(err.hint).toMatch(/kill \d+.*DATABASE_URL/);
    // And the CLI as a third: the code and the hint, exit status 1.
    const cli = watch(
      startCli(['status'], { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'silent' }),
    );
    expect(await cli.exited).toBe(1);
    expect(cli.out.stderr).toContain(
      `error [database-locked]: the embedded database ${pglite} is open in another process (pid ${pid})`,
    );
    expect(cli.out.stderr).toMatch(/^hint: one process at a time opens a PGlite directory/m);
  } finally {
    holder.kill('SIGKILL');
    await held.exited;
  }
  // The lock file is still there, naming a process that no longer exists: taken over.
  expect(JSON.parse(await readFile(`${pglite}.lock`, 'utf8')).pid).toBe(Number(pid));
  const database = await openDatabase({ pglitePath: pglite });
  try {
    expect(JSON.parse(await readFile(`${pglite}.lock`, 'utf8')).pid).toBe(process.pid);
    await database.db.execute(sql`SELECT 1`);
  } finally {
    await database.close();
  }
  // A clean close removes the lock; the next open needs no takeover.
  await expect(access(`${pglite}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
  const again = await openDatabase({ pglitePath: pglite });
  await again.close();
});

it('lets a process that closed it cleanly be followed by another at once', async () => {
  const holder = startTs(HOLD, [pglite]);
  const held = watch(holder);
  await held.waitFor('stdout', /^open \d+$/m);
  holder.kill('SIGTERM');
  expect(await held.exited).toBe(0);
  await expect(access(`${pglite}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
  const database = await openDatabase({ pglitePath: pglite });
  await database.close();
});
