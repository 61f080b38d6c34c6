// The discover stage alone: on PGlite, against FakeIndex (../stage-env.ts: a fake of the
// network boundary, PypiApi, which the end-to-end tests cover over real HTTP).
import {
  countPendingProjects,
  getCrawlState,
  listPendingProjects,
  markProjectRemoved,
  saveProject,
  storeCounts,
} from '@pypi-graph/db';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBacklog } from '../../src/backlog';
import { PRIORITY_BACKFILL, PRIORITY_FRESH } from '../../src/context';
import { discoverQueue } from '../../src/stages/discover';
import { FakeIndex, jobInfo, type StageEnv, stageEnv } from '../stage-env';

let env: StageEnv;
beforeEach(async () => {
  // Two changelog rows an answer: discover must page through them.
  env = await stageEnv(new FakeIndex(2));
});
afterEach(async () => env.close());

function changelog(index: FakeIndex, rows: Array<[number, string, string]>) {
  for (const [serial, name, action] of rows)
    index.changelog.push({ serial, timestamp: 1_700_000_000 + serial, name, version: '1.0', action });
}

describe('discover since a serial', () => {
  it('stores the changelog, records each project at its newest serial, queues it, and moves the mark', async () => {
    changelog(env.index, [
      [11, 'Foo_Bar', 'new release'],
      [12, 'baz', 'new release'],
      [13, 'foo-bar', 'add source file'],
      [14, 'qux', 'remove project'],
      [15, 'Baz', 'add py3 file'],
    ]);
    const out = await discoverQueue.process(env.ctx(), { mode: 'since', since: 10 }, jobInfo());
    expect(out).toEqual({ rows: 5, projects: 3, serial: 15 });

    const db = env.database.db;
    expect((await storeCounts(db)).changelogRows).toBe(5);
    expect(await getCrawlState(db, 'changelog')).toBe(15);
    // Pending until a project job finishes: `crawl --resume` finds them here if Redis loses the jobs.
    expect((await listPendingProjects(db, '', 10)).map((p) => [p.key, p.serial, p.priority])).toEqual([
      ['baz', 15, PRIORITY_FRESH],
      ['foo-bar', 13, PRIORITY_FRESH],
      ['qux', 14, PRIORITY_FRESH],
    ]);
    // One job per project and serial; an older serial of a project already queued is queued too
    // (it came on an earlier page), and the project job ignores a stale state.
    const jobs = env.queue.payloads('project') as Array<{ name: string; serial: number; priority: number }>;
    expect(jobs.map((j) => [j.name, j.serial, j.priority]).sort()).toEqual([
      ['Baz', 15, PRIORITY_FRESH],
      ['Foo_Bar', 11, PRIORITY_FRESH],
      ['baz', 12, PRIORITY_FRESH],
      ['foo-bar', 13, PRIORITY_FRESH],
      ['qux', 14, PRIORITY_FRESH],
    ]);
  });

  it('starts after the serial it is given, and does nothing when nothing is newer', async () => {
    changelog(env.index, [
      [5, 'old', 'new release'],
      [6, 'new', 'new release'],
    ]);
    await discoverQueue.process(env.ctx(), { mode: 'since', since: 5 }, jobInfo());
    expect(env.queue.payloads('project')).toEqual([{ name: 'new', serial: 6, priority: PRIORITY_FRESH }]);
    expect((await storeCounts(env.database.db)).changelogRows).toBe(1);

    const again = await discoverQueue.process(env.ctx(), { mode: 'since', since: 6 }, jobInfo());
    expect(again).toEqual({ rows: 0, projects: 0, serial: 6 });
    expect(env.queue.jobs.size).toBe(1);
  });

  it('with a window, leaves the projects in pending_projects for the feeders instead of the queue', async () => {
    changelog(env.index, [
      [1, 'a', 'new release'],
      [2, 'b', 'new release'],
      [3, 'c', 'new release'],
    ]);
    const backlog = new MemoryBacklog();
    await discoverQueue.process(env.ctx({ backlog }), { mode: 'since', since: 0 }, jobInfo());
    expect(env.queue.jobs.size).toBe(0);
    expect(await countPendingProjects(env.database.db)).toBe(3);
    expect(await backlog.pending('project')).toBe(true);
    expect(await backlog.pending('wheel-metadata')).toBe(false);
  });
});

describe('discover all', () => {
  it('queues every listed project, and every stored project the index no longer lists', async () => {
    env.index.changelog.push({
      serial: 40,
      timestamp: 1_700_000_000,
      name: 'x',
      version: null,
      action: 'create',
    });
    env.index.put({ displayName: 'Listed_One', serial: 30, releases: {} });
    env.index.put({ displayName: 'listed-two', serial: 31, releases: {} });
    const db = env.database.db;
    // Stored before: one still listed, one gone from the index, one already marked removed.
    await saveProject(db, { displayName: 'listed.one', serial: 20, versions: [], files: [] });
    await saveProject(db, { displayName: 'Gone_Now', serial: 21, versions: [], files: [] });
    await saveProject(db, { displayName: 'Was_Removed', serial: 22, versions: [], files: [] });
    await markProjectRemoved(db, 'Was_Removed', 23);

    const out = await discoverQueue.process(env.ctx(), { mode: 'all' }, jobInfo());
    expect(out).toEqual({ projects: 2, serial: 40, gone: 1 });
    expect(await getCrawlState(db, 'changelog')).toBe(40);

    const jobs = env.queue.payloads('project') as Array<{ name: string; serial: number; priority: number }>;
    expect(jobs.map((j) => [j.name, j.serial, j.priority]).sort()).toEqual([
      // The gone project is looked at with the listing's serial: its job finds it gone and marks it.
      ['Gone_Now', 40, PRIORITY_BACKFILL],
      ['Listed_One', 30, PRIORITY_BACKFILL],
      ['listed-two', 31, PRIORITY_BACKFILL],
    ]);
    expect((await listPendingProjects(db, '', 10)).map((p) => [p.key, p.name, p.serial])).toEqual([
      ['gone-now', 'Gone_Now', 40],
      ['listed-one', 'Listed_One', 30],
      ['listed-two', 'listed-two', 31],
    ]);
  });
});
