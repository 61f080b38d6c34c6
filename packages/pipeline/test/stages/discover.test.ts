// The discover stage alone: on PGlite, against FakeIndex (../stage-env.ts: a fake of the
// network boundary, PypiApi, which the end-to-end tests cover over real HTTP).
import {
  getCrawlState,
  listPendingProjects,
  markProjectRemoved,
  projectsNotListed,
  saveProject,
  storeCounts,
} from '@pypi-graph/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PypiApi } from '../../src/api';
import { MemoryBacklog } from '../../src/backlog';
import { PRIORITY_BACKFILL, PRIORITY_FRESH } from '../../src/context';
import { discoverQueue } from '../../src/stages/discover';
import { FakeIndex, jobInfo, KeptQueue, type StageEnv, stageEnv } from '../stage-env';

// One database for the file; each case starts from an index and a queue of its own, with
// serials above the previous case's (the changelog mark only rises) and project names of its own.
let env: StageEnv;
beforeAll(async () => {
  env = await stageEnv();
});
beforeEach(() => {
  // Two changelog rows an answer: discover must page through them.
  env.index = new FakeIndex(2);
  env.queue = new KeptQueue();
});
afterAll(async () => env?.close());

/** The pending projects whose key starts with `prefix`: `[key, name, serial, priority]`. */
async function pending(prefix: string) {
  return (await listPendingProjects(env.database.db, '', 1000))
    .filter((p) => p.key.startsWith(prefix))
    .map((p) => [p.key, p.name, p.serial, p.priority]);
}

/** The stored S5 projects the recorded index listing does not name (migration 0013). */
async function s5NotListed(): Promise<string[]> {
  return (await projectsNotListed(env.database.db, 0, 1000))
    .map((p) => p.displayName)
    .filter((n) => n.startsWith('S5'));
}

function changelog(index: FakeIndex, rows: Array<[number, string, string]>) {
  for (const [serial, name, action] of rows)
    index.changelog.push({ serial, timestamp: 1_700_000_000 + serial, name, version: '1.0', action });
}

describe('discover since a serial', () => {
  it('stores the changelog, records each project at its newest serial, queues it, and moves the mark', async () => {
    const db = env.database.db;
    const rowsBefore = (await storeCounts(db)).changelogRows;
    changelog(env.index, [
      [11, 'S1_Foo', 'new release'],
      [12, 's1-baz', 'new release'],
      [13, 's1.foo', 'add source file'],
      [14, 's1-qux', 'remove project'],
      [15, 'S1_Baz', 'add py3 file'],
    ]);
    const out = await discoverQueue.process(env.ctx(), { mode: 'since', since: 10 }, jobInfo());
    expect(out).toEqual({ rows: 5, projects: 3, serial: 15 });

    expect((await storeCounts(db)).changelogRows).toBe(rowsBefore + 5);
    expect(await getCrawlState(db, 'changelog')).toBe(15);
    // Pending until a project job finishes: `crawl --resume` finds them here if Redis loses the jobs.
    expect(await pending('s1-')).toEqual([
      ['s1-baz', 'S1_Baz', 15, PRIORITY_FRESH],
      ['s1-foo', 's1.foo', 13, PRIORITY_FRESH],
      ['s1-qux', 's1-qux', 14, PRIORITY_FRESH],
    ]);
    // One job per project and serial; an older serial of a project already queued is queued too
    // (it came on an earlier page), and the project job ignores a stale state.
    const jobs = env.queue.payloads('project') as Array<{ name: string; serial: number; priority: number }>;
    expect(jobs.map((j) => [j.name, j.serial, j.priority])).toEqual([
      ['S1_Foo', 11, PRIORITY_FRESH],
      ['s1-baz', 12, PRIORITY_FRESH],
      ['s1.foo', 13, PRIORITY_FRESH],
      ['s1-qux', 14, PRIORITY_FRESH],
      ['S1_Baz', 15, PRIORITY_FRESH],
    ]);
  });

  it('starts after the serial it is given, and does nothing when nothing is newer', async () => {
    const db = env.database.db;
    const rowsBefore = (await storeCounts(db)).changelogRows;
    changelog(env.index, [
      [21, 's2-old', 'new release'],
      [22, 's2-new', 'new release'],
    ]);
    await discoverQueue.process(env.ctx(), { mode: 'since', since: 21 }, jobInfo());
    expect(env.queue.payloads('project')).toEqual([{ name: 's2-new', serial: 22, priority: PRIORITY_FRESH }]);
    expect(await pending('s2-')).toEqual([['s2-new', 's2-new', 22, PRIORITY_FRESH]]);
    expect((await storeCounts(db)).changelogRows).toBe(rowsBefore + 1);
    expect(await getCrawlState(db, 'changelog')).toBe(22);

    const again = await discoverQueue.process(env.ctx(), { mode: 'since', since: 22 }, jobInfo());
    expect(again).toEqual({ rows: 0, projects: 0, serial: 22 });
    expect(env.queue.jobs.size).toBe(1);
    expect((await storeCounts(db)).changelogRows).toBe(rowsBefore + 1);
  });

  it('with a window, leaves the projects in pending_projects for the feeders instead of the queue', async () => {
    changelog(env.index, [
      [31, 's3-a', 'new release'],
      [32, 's3-b', 'new release'],
      [33, 's3-c', 'new release'],
    ]);
    const backlog = new MemoryBacklog();
    await discoverQueue.process(env.ctx({ backlog }), { mode: 'since', since: 30 }, jobInfo());
    expect(env.queue.jobs.size).toBe(0);
    expect((await pending('s3-')).map(([key]) => key)).toEqual(['s3-a', 's3-b', 's3-c']);
    expect(await backlog.pending('project')).toBe(true);
    expect(await backlog.pending('wheel-metadata')).toBe(false);
    expect(await getCrawlState(env.database.db, 'changelog')).toBe(33);
  });
});

describe('discover all', () => {
  it('queues every listed project, and every stored project the index no longer lists', async () => {
    env.index.changelog.push({
      serial: 40,
      timestamp: 1_700_000_040,
      name: 'x',
      version: null,
      action: 'create',
    });
    env.index.put({ displayName: 'S4_Listed', serial: 38, releases: {} });
    env.index.put({ displayName: 's4-listed-two', serial: 39, releases: {} });
    const db = env.database.db;
    // Stored before: one still listed, one gone from the index, one already marked removed.
    await saveProject(db, { displayName: 's4.listed', serial: 20, versions: [], files: [] });
    await saveProject(db, { displayName: 'S4_Gone', serial: 21, versions: [], files: [] });
    await saveProject(db, { displayName: 'S4_Was_Removed', serial: 22, versions: [], files: [] });
    await markProjectRemoved(db, 'S4_Was_Removed', 23);

    const out = await discoverQueue.process(env.ctx(), { mode: 'all' }, jobInfo());
    expect(out).toEqual({ projects: 2, serial: 40, gone: 1 });
    expect(await getCrawlState(db, 'changelog')).toBe(40);

    const jobs = env.queue.payloads('project') as Array<{ name: string; serial: number; priority: number }>;
    expect(jobs.map((j) => [j.name, j.serial, j.priority]).sort()).toEqual([
      // The gone project is looked at with the listing's serial: its job finds it gone and marks it.
      ['S4_Gone', 40, PRIORITY_BACKFILL],
      ['S4_Listed', 38, PRIORITY_BACKFILL],
      ['s4-listed-two', 39, PRIORITY_BACKFILL],
    ]);
    expect(await pending('s4-')).toEqual([
      ['s4-gone', 'S4_Gone', 40, PRIORITY_BACKFILL],
      ['s4-listed', 'S4_Listed', 38, PRIORITY_BACKFILL],
      ['s4-listed-two', 's4-listed-two', 39, PRIORITY_BACKFILL],
    ]);
  });

  it('a listing cut short does not change the next one, and leaves no listing behind', async () => {
    env.index.changelog.push({
      serial: 50,
      timestamp: 1_700_000_050,
      name: 'y',
      version: null,
      action: 'create',
    });
    env.index.put({ displayName: 'S5_Listed', serial: 48, releases: {} });
    const db = env.database.db;
    await saveProject(db, { displayName: 'S5_Stale', serial: 30, versions: [], files: [] });
    // The first listing names S5_Stale, then the connection drops: that name is left recorded.
    const cut: PypiApi = Object.create(env.index);
    cut.eachPackageWithSerial = async (onBatch) => {
      await onBatch([['S5_Stale', 45]]);
      throw new Error('connection reset');
    };
    await expect(
      discoverQueue.process({ ...env.ctx(), api: cut }, { mode: 'all' }, jobInfo()),
    ).rejects.toThrow('connection reset');
    expect(await s5NotListed()).toEqual([]);
    // The whole listing no longer names S5_Stale: it is gone, whatever the cut listing said.
    env.queue = new KeptQueue();
    await discoverQueue.process(env.ctx(), { mode: 'all' }, jobInfo());
    const jobs = env.queue.payloads('project') as Array<{ name: string; serial: number }>;
    expect(
      jobs
        .filter((j) => j.name.startsWith('S5'))
        .map((j) => [j.name, j.serial])
        .sort(),
    ).toEqual([
      ['S5_Listed', 48],
      ['S5_Stale', 50],
    ]);
    // Nothing recorded any more: every stored project reads as not listed.
    expect(await s5NotListed()).toEqual(['S5_Stale']);
  });
});
