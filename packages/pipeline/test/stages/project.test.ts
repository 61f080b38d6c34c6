// The project stage alone: on PGlite, against FakeIndex (../stage-env.ts: a fake of the
// network boundary, PypiApi, which the end-to-end tests cover over real HTTP). Each case uses
// its own project names, so they share one database.
import { CrawlError } from '@pypi-graph/core';
import { addPendingProjects, countPendingProjects, getProject, listPendingProjects } from '@pypi-graph/db';
import type { SdistExtractor } from '@pypi-graph/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WheelMetadataReader } from '../../src/context';
import { projectQueue } from '../../src/stages/project';
import { jobInfo, type StageEnv, sha, stageEnv } from '../stage-env';

let env: StageEnv;
beforeAll(async () => {
  env = await stageEnv();
});
afterAll(async () => env?.close());

// A project job only asks whether a reader and an extractor are there: it queues their work.
const wheels: WheelMetadataReader = {
  read: async () => {
    throw new Error('not called by the project stage');
  },
};
const sdists: SdistExtractor = {
  extract: async () => {
    throw new Error('not called by the project stage');
  },
};

/** The stored files of a project: `version filename [yanked] [removed]`, in the stored order. */
async function stored(name: string): Promise<string[] | undefined> {
  const view = await getProject(env.database.db, name);
  return view?.releases.flatMap((r) =>
    r.files.map((f) =>
      [r.version, f.filename, f.yanked && 'yanked', f.removed && 'removed'].filter(Boolean).join(' '),
    ),
  );
}

describe('a project job', () => {
  it('stores the releases and files, queues a job per wheel and sdist, and is no longer pending', async () => {
    env.index.put({
      displayName: 'Alpha_Pkg',
      serial: 7,
      releases: {
        '1.0': [
          { filename: 'Alpha_Pkg-1.0.tar.gz', sha256: sha('1') },
          { filename: 'alpha_pkg-1.0-py3-none-any.whl', sha256: sha('2'), coreMetadata: true },
        ],
        '1.1': [{ filename: 'alpha_pkg-1.1-py3-none-any.whl', sha256: sha('3'), yanked: 'broken' }],
        '2.0.dev0': [],
      },
    });
    const db = env.database.db;
    await addPendingProjects(db, [{ name: 'Alpha_Pkg', serial: 7, priority: 1 }]);

    const out = await projectQueue.process(
      env.ctx({ wheels, sdists }),
      { name: 'alpha-pkg', serial: 7, priority: 1 },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'saved', filesAdded: 3, filesRemoved: 0 });

    const view = await getProject(db, 'alpha-pkg');
    expect(view).toMatchObject({ displayName: 'Alpha_Pkg', lastSerial: 7, removed: false });
    expect(view?.releases.map((r) => r.version).sort()).toEqual(['1.0', '1.1', '2.0.dev0']);
    expect((await stored('alpha-pkg'))?.sort()).toEqual([
      '1.0 Alpha_Pkg-1.0.tar.gz',
      '1.0 alpha_pkg-1.0-py3-none-any.whl',
      '1.1 alpha_pkg-1.1-py3-none-any.whl yanked',
    ]);
    const wheel = view?.releases
      .flatMap((r) => r.files)
      .find((f) => f.filename.endsWith('1.0-py3-none-any.whl'));
    expect(wheel).toMatchObject({ sha256: sha('2'), hasCoreMetadata: true, packagetype: 'bdist_wheel' });

    expect(env.queue.payloads('wheel-metadata')).toEqual([
      { sha256: sha('2'), filename: 'alpha_pkg-1.0-py3-none-any.whl' },
      { sha256: sha('3'), filename: 'alpha_pkg-1.1-py3-none-any.whl' },
    ]);
    expect(env.queue.payloads('sdist-extract')).toEqual([
      { sha256: sha('1'), filename: 'Alpha_Pkg-1.0.tar.gz' },
    ]);
    expect([...env.queue.jobs.values()].every((j) => j.priority === 1)).toBe(true);
    expect((await listPendingProjects(db, '', 10)).map((p) => p.key)).not.toContain('alpha-pkg');
  });

  it('marks files the index no longer lists as removed, and queues nothing without a reader', async () => {
    env.index.put({
      displayName: 'beta',
      serial: 3,
      releases: {
        '1': [
          { filename: 'beta-1.tar.gz', sha256: sha('4') },
          { filename: 'beta-1-py3-none-any.whl', sha256: sha('5') },
        ],
        '2': [{ filename: 'beta-2.tar.gz', sha256: sha('6') }],
      },
    });
    const before = env.queue.jobs.size;
    await projectQueue.process(env.ctx(), { name: 'beta', serial: 3 }, jobInfo());
    // The wheel of 1 and all of 2 leave the index.
    env.index.put({
      displayName: 'beta',
      serial: 4,
      releases: { '1': [{ filename: 'beta-1.tar.gz', sha256: sha('4') }] },
    });
    const out = await projectQueue.process(env.ctx(), { name: 'beta', serial: 4 }, jobInfo());
    expect(out).toEqual({ status: 'saved', filesAdded: 0, filesRemoved: 2 });
    expect((await stored('beta'))?.sort()).toEqual([
      '1 beta-1-py3-none-any.whl removed',
      '1 beta-1.tar.gz',
      '2 beta-2.tar.gz removed',
    ]);
    expect(
      (await getProject(env.database.db, 'beta'))?.releases.find((r) => r.version === '2')?.removed,
    ).toBe(true);
    expect(env.queue.jobs.size).toBe(before);
  });

  it('ignores a state older than the stored one', async () => {
    env.index.put({
      displayName: 'gamma',
      serial: 9,
      releases: { '1': [{ filename: 'gamma-1.tar.gz', sha256: sha('7') }] },
    });
    await projectQueue.process(env.ctx(), { name: 'gamma', serial: 9 }, jobInfo());
    // A lagging answer (a cache behind the first): older serial, without the file.
    env.index.put({ displayName: 'gamma', serial: 8, releases: { '1': [] } });
    const out = await projectQueue.process(env.ctx(), { name: 'gamma', serial: 8 }, jobInfo());
    expect(out).toEqual({ status: 'stale', filesAdded: 0, filesRemoved: 0 });
    expect(await stored('gamma')).toEqual(['1 gamma-1.tar.gz']);
  });

  it('marks a project the index no longer has as removed, with its files', async () => {
    env.index.put({
      displayName: 'delta',
      serial: 2,
      releases: { '1': [{ filename: 'delta-1.tar.gz', sha256: sha('8') }] },
    });
    await projectQueue.process(env.ctx(), { name: 'delta', serial: 2 }, jobInfo());
    env.index.remove('delta');
    const db = env.database.db;
    await addPendingProjects(db, [{ name: 'delta', serial: 5, priority: 10 }]);
    const pending = await countPendingProjects(db);

    const out = await projectQueue.process(env.ctx(), { name: 'delta', serial: 5 }, jobInfo());
    expect(out).toEqual({ status: 'removed', filesAdded: 0, filesRemoved: 1 });
    expect(await getProject(db, 'delta')).toMatchObject({ removed: true, lastSerial: 5 });
    expect(await stored('delta')).toEqual(['1 delta-1.tar.gz removed']);
    expect(await countPendingProjects(db)).toBe(pending - 1);
  });

  it('records a final failure against the project, keeping what was stored, and is no longer pending', async () => {
    env.index.put({
      displayName: 'epsilon',
      serial: 1,
      releases: { '1': [{ filename: 'epsilon-1.tar.gz', sha256: sha('9') }] },
    });
    await projectQueue.process(env.ctx(), { name: 'epsilon', serial: 1 }, jobInfo());
    const db = env.database.db;
    await addPendingProjects(db, [{ name: 'epsilon', serial: 2, priority: 10 }]);
    await projectQueue.onFailed?.(
      env.ctx(),
      { name: 'epsilon', serial: 2 },
      new CrawlError('response-invalid', 'bad JSON'),
    );
    expect(await getProject(db, 'epsilon')).toMatchObject({
      failureCode: 'response-invalid',
      failureMessage: 'bad JSON',
      removed: false,
    });
    expect(await stored('epsilon')).toEqual(['1 epsilon-1.tar.gz']);
    expect((await listPendingProjects(db, '', 100)).map((p) => p.key)).not.toContain('epsilon');
  });
});
