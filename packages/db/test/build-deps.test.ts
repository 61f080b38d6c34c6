import { createTestDatabase, type TestDatabase } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Database,
  type FileRecord,
  fileBySha256,
  migrate,
  openDatabase,
  pureTagsFit,
  resolveBuildDependencies,
  saveExtraction,
  saveProject,
} from '../src/index';

// The resolver of build dependencies against the stored index (issue 11 §2), on real PostgreSQL:
// projects, files and wheel results written as the crawl writes them.

let t: TestDatabase;
let database: Database;

function wheel(filename: string, version: string, over: Partial<FileRecord> = {}): FileRecord {
  const sha = Buffer.from(filename).toString('hex').padEnd(64, '0').slice(0, 64);
  return {
    filename,
    version,
    packagetype: 'bdist_wheel',
    pythonVersion: 'py3',
    url: `http://files.example/${filename}`,
    sha256: sha,
    size: 10,
    uploadTime: new Date('2020-01-01T00:00:00Z'),
    requiresPython: null,
    yanked: false,
    yankedReason: null,
    hasCoreMetadata: false,
    coreMetadataSha256: null,
    ...over,
  };
}

/** Stores a project and a wheel result (Requires-Dist rows) for each wheel whose metadata was "read". */
async function project(name: string, files: Array<[FileRecord, string[] | null]>) {
  await saveProject(database.db, {
    displayName: name,
    serial: 1,
    versions: [...new Set(files.map(([f]) => f.version))],
    files: files.map(([f]) => f),
  });
  for (const [f, requires] of files) {
    if (requires === null) continue;
    const stored = await fileBySha256(database.db, f.sha256, f.filename);
    await saveExtraction(database.db, {
      fileId: stored!.fileId,
      pythonKey: 'any',
      method: 'pep658',
      extractorVersion: '1',
      status: 'ok',
      startedAt: new Date(),
      requirements: requires.map((requirement) => ({ kind: 'install' as const, requirement })),
    });
  }
}

const names = (r: { wheels: Array<{ name: string; version: string }> }) =>
  r.wheels.map((w) => `${w.name}==${w.version}`);

beforeAll(async () => {
  t = await createTestDatabase();
  database = await openDatabase({ databaseUrl: t.url });
  await migrate(database);
  await project('plug', [
    [wheel('plug-1.0-py2.py3-none-any.whl', '1.0'), ['helper>=1', 'onlypy2; python_version < "3"']],
    [
      wheel('plug-2.0-py3-none-any.whl', '2.0', { requiresPython: '>=3.8' }),
      ['helper>=2', 'extra-dep; extra == "x"'],
    ],
    [wheel('plug-3.0b1-py3-none-any.whl', '3.0b1'), []],
    [wheel('plug-4.0-py3-none-any.whl', '4.0', { yanked: true }), []],
    [wheel('plug-5.0-cp311-cp311-manylinux_2_17_x86_64.whl', '5.0'), []],
  ]);
  await project('helper', [
    [wheel('helper-1.5-py2.py3-none-any.whl', '1.5'), []],
    [wheel('helper-2.0-py3-none-any.whl', '2.0'), []],
  ]);
  await project('onlypy2', [[wheel('onlypy2-1.0-py2-none-any.whl', '1.0'), []]]);
  await project('extra-dep', [[wheel('extra_dep-1.0-py3-none-any.whl', '1.0'), []]]);
  await project('unread', [[wheel('unread-1.0-py3-none-any.whl', '1.0'), null]]);
});
afterAll(async () => {
  await database?.close();
  await t?.drop();
});

describe('resolveBuildDependencies', () => {
  it('takes the newest final, non-yanked pure wheel that fits the Python, then its own dependencies', async () => {
    expect(names(await resolveBuildDependencies(database.db, ['plug'], '3.11.7'))).toEqual([
      'plug==2.0',
      'helper==2.0',
    ]);
    // Requires-Python >=3.8 rules 2.0 out; 2.7 also gets the py2-only dependency its marker asks for
    expect(names(await resolveBuildDependencies(database.db, ['plug'], '3.7.16'))).toEqual([
      'plug==1.0',
      'helper==2.0',
    ]);
    expect(names(await resolveBuildDependencies(database.db, ['plug'], '2.7.18'))).toEqual([
      'plug==1.0',
      'helper==1.5',
      'onlypy2==1.0',
    ]);
  });

  it('honours specifiers, pre-releases asked for, extras and markers of the requirement itself', async () => {
    expect(names(await resolveBuildDependencies(database.db, ['plug>=3.0b1'], '3.11.7'))).toEqual([
      'plug==3.0b1',
    ]);
    expect(names(await resolveBuildDependencies(database.db, ['plug[x]==2.0'], '3.11.7'))).toEqual([
      'plug==2.0',
      'helper==2.0',
      'extra-dep==1.0',
    ]);
    expect(
      names(await resolveBuildDependencies(database.db, ['plug; python_version < "3"'], '3.11.7')),
    ).toEqual([]);
    // met by the setuptools shipped to the sandbox: never resolved
    expect(await resolveBuildDependencies(database.db, ['setuptools>=61', 'wheel'], '3.11.7')).toEqual({
      wheels: [],
      missing: [],
    });
  });

  it('names what the index cannot give, and why', async () => {
    const r = await resolveBuildDependencies(
      database.db,
      ['plug>=9', 'nowhere', 'unread', 'helper<2', 'helper>=2'],
      '3.11.7',
    );
    expect(names(r)).toEqual(['helper==1.5']);
    expect(r.missing).toEqual([
      {
        requirement: 'plug>=9',
        reason: 'the crawled index has no pure-Python wheel of plug for Python 3.11 matching >=9',
      },
      {
        requirement: 'nowhere',
        reason: 'the crawled index has no pure-Python wheel of nowhere for Python 3.11',
      },
      {
        requirement: 'unread',
        reason: "the metadata of unread's wheels has not been read yet (crawl unread first)",
      },
      { requirement: 'helper>=2', reason: 'conflicts with helper 1.5, chosen for another requirement' },
    ]);
  });

  it('reads pure-Python tags per interpreter', () => {
    expect(pureTagsFit('x-1.0-py2.py3-none-any.whl', 2, 7)).toBe(true);
    expect(pureTagsFit('x-1.0-py3-none-any.whl', 2, 7)).toBe(false);
    expect(pureTagsFit('x-1.0-py312-none-any.whl', 3, 11)).toBe(false);
    expect(pureTagsFit('x-1.0-py310-none-any.whl', 3, 11)).toBe(true);
    expect(pureTagsFit('x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl', 3, 11)).toBe(false);
    expect(pureTagsFit('x-1.0-cp311-none-any.whl', 3, 11)).toBe(false);
  });
});
