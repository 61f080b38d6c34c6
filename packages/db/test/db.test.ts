import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toCrawlError } from '@pypi-graph/core';
import { createTestDatabase, type TestDatabase } from '@pypi-graph/test-support';
import { is, sql } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addPendingProjects,
  analyzeForSnapshot,
  bucketTokens,
  bulkLoad,
  clearPendingProject,
  countFilesWithoutResult,
  countPendingProjects,
  crawlSummary,
  type Database,
  type FileRecord,
  failedFileWork,
  failuresByCode,
  getProject,
  insertChangelog,
  isDatabaseUnavailable,
  isWaitingForSandbox,
  listFiles,
  listFilesWithoutResult,
  listPendingProjects,
  listProjects,
  MIGRATIONS_DIR,
  markProjectRemoved,
  migrate,
  openDatabase,
  type ProjectRecord,
  projectDependencies,
  pypiBucket,
  RECOUNT_ALL_PROJECTS,
  recordProjectFailure,
  SETUP_PY_OUTCOME_CODES,
  sandboxOverview,
  saveExtraction,
  saveProject,
  sdistsWithoutDependencies,
  storeCounts,
  storeCountsByScan,
  vacuumForSnapshot,
  wheelsWithoutMetadata,
} from '../src/index';
import * as schema from '../src/schema';

/** A project `name` with one sdist `name-1.tar.gz` and a setup.py run per key: failed with the code, or ok (null). */
async function sdistWithRuns(
  db: Database['db'],
  name: string,
  runs: Array<[string, string | null]>,
): Promise<void> {
  await saveProject(db, {
    displayName: name,
    serial: 1,
    versions: ['1'],
    files: [file(`${name}-1.tar.gz`, '1', { sha256: createHash('sha256').update(name).digest('hex') })],
  });
  const [f] = await db
    .select()
    .from(schema.files)
    .where(sql`filename = ${`${name}-1.tar.gz`}`);
  const base = {
    fileId: f!.id,
    method: 'setup.py',
    extractorVersion: '1',
    startedAt: new Date(),
    requirements: [],
  };
  for (const [pythonKey, code] of runs) {
    await saveExtraction(
      db,
      code === null
        ? { ...base, pythonKey, status: 'ok' }
        : { ...base, pythonKey, status: 'failed', failureCode: code },
    );
  }
}

function file(filename: string, version: string, over: Partial<FileRecord> = {}): FileRecord {
  return {
    filename,
    version,
    packagetype: filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
    pythonVersion: filename.endsWith('.whl') ? 'py3' : 'source',
    url: `http://files.example/${filename}`,
    sha256: 'a'.repeat(64),
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

const backends: Array<[string, () => Promise<{ database: Database; cleanup: () => Promise<void> }>]> = [
  [
    'postgres',
    async () => {
      const t: TestDatabase = await createTestDatabase();
      const database = await openDatabase({ databaseUrl: t.url });
      return {
        database,
        cleanup: async () => {
          await database.close();
          await t.drop();
        },
      };
    },
  ],
  [
    'pglite',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'pglite-'));
      const database = await openDatabase({ pglitePath: dir });
      return {
        database,
        cleanup: async () => {
          await database.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(backends)('db on %s', (_kind, open) => {
  let database: Database;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ database, cleanup } = await open());
    const first = await migrate(database);
    expect(first.applied.length).toBeGreaterThan(0);
    const again = await migrate(database);
    expect(again.applied).toEqual([]);
  });
  afterAll(async () => cleanup?.());

  it('has every column of the drizzle schema in the SQL migrations, with the same nullability', async () => {
    const tables = (Object.values(schema) as unknown[]).filter((t): t is PgTable => is(t, PgTable));
    expect(tables.length).toBe(14);
    for (const table of tables) {
      const cfg = getTableConfig(table);
      const res = await database.db.execute(
        sql`SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = ${cfg.name} AND table_schema = current_schema()`,
      );
      const rows = (Array.isArray(res) ? res : (res as { rows: unknown[] }).rows) as Array<{
        column_name: string;
        is_nullable: string;
      }>;
      const inDb = new Map(rows.map((r) => [r.column_name, r.is_nullable === 'YES']));
      expect([...inDb.keys()].sort(), cfg.name).toEqual(cfg.columns.map((c) => c.name).sort());
      for (const c of cfg.columns) expect(inDb.get(c.name), `${cfg.name}.${c.name}`).toBe(!c.notNull);
    }
  });

  it('stores a project idempotently, marks what disappeared as removed, and ignores stale states', async () => {
    const db = database.db;
    const v1: ProjectRecord = {
      displayName: 'Foo_Bar.baz',
      serial: 10,
      versions: ['1.0', '2.0', '3.0'],
      files: [
        file('Foo_Bar.baz-1.0.tar.gz', '1.0'),
        file('foo_bar.baz-1.0-py3-none-any.whl', '1.0'),
        file('Foo_Bar.baz-2.0.zip', '2.0'),
      ],
    };
    const first = await saveProject(db, v1);
    expect(first).toMatchObject({ applied: true, filesAdded: 3, filesUpdated: 0, filesRemoved: 0 });
    const second = await saveProject(db, v1);
    expect(second).toMatchObject({ applied: true, filesAdded: 0, filesUpdated: 3, filesRemoved: 0 });
    expect((await storeCounts(db)).files).toBe(3);

    const v2: ProjectRecord = { ...v1, serial: 12, versions: ['1.0', '3.0'], files: v1.files.slice(0, 2) };
    const third = await saveProject(db, v2);
    expect(third).toMatchObject({ applied: true, filesRemoved: 1, releasesRemoved: 1 });

    const stale = await saveProject(db, { ...v1, serial: 11 });
    expect(stale.applied).toBe(false);
    const view = await getProject(db, 'foo-bar-baz');
    expect(view?.displayName).toBe('Foo_Bar.baz');
    expect(view?.releases.find((r) => r.version === '2.0')?.removed).toBe(true);
    expect(view?.releases.find((r) => r.version === '2.0')?.files[0]?.removed).toBe(true);
    expect(view?.releases.find((r) => r.version === '3.0')?.removed).toBe(false);

    // The bucket query only sees current files, grouped by project and release.
    const bucketRows = await pypiBucket(db, (await db.select().from(schema.projects))[0]!.bucket);
    expect(bucketRows.map((p) => p.releases.map((r) => [r.version, r.files.map((f) => f.filename)]))).toEqual(
      [[['1.0', ['Foo_Bar.baz-1.0.tar.gz', 'foo_bar.baz-1.0-py3-none-any.whl']]]],
    );
  });

  it('stores every field of every file as given, whatever characters it holds, and removes by exact name', async () => {
    const db = database.db;
    // Each column goes to PostgreSQL as one array literal: quoting must survive all of these.
    const awkward = ['a"b', 'c\\d', 'e,f', '{g}', 'NULL', ' h ', 'ĳ-ü-😀', "i'j", ''];
    const many = Array.from({ length: 1203 }, (_, i) => `Odd-${i}.tar.gz`);
    const record: ProjectRecord = {
      displayName: 'Odd',
      serial: 5,
      versions: ['1.0', 'NULL', 'x"y'],
      files: [
        ...awkward.map((w, i) =>
          file(`Odd-${i}${w}.zip`, i % 2 === 0 ? 'NULL' : 'x"y', {
            url: `http://files.example/${w}/${i}`,
            requiresPython: w === '' ? null : `>=3 ${w}`,
            yanked: i % 3 === 0,
            yankedReason: i % 3 === 0 ? w : null,
            size: i === 1 ? null : 2 ** 40 + i,
            uploadTime: i === 2 ? null : new Date(Date.UTC(2021, 0, 1, 0, 0, i, 123)),
            hasCoreMetadata: i % 2 === 1,
            coreMetadataSha256: i % 2 === 1 ? 'b'.repeat(64) : null,
          }),
        ),
        // More than one chunk of the insert.
        ...many.map((n) => file(n, '1.0')),
      ],
    };
    expect(await saveProject(db, record)).toMatchObject({ applied: true, filesAdded: record.files.length });
    const stored = await db.select().from(schema.files).where(sql`${schema.files.filename} LIKE 'Odd-%'`);
    const releaseRows = await db.select().from(schema.releases);
    const versionOf = new Map(releaseRows.map((r) => [r.id, r.version]));
    const asStored = stored
      .map((f) => ({
        filename: f.filename,
        version: f.version,
        releaseVersion: versionOf.get(f.releaseId),
        packagetype: f.packagetype,
        pythonVersion: f.pythonVersion,
        url: f.url,
        sha256: f.sha256,
        size: f.size,
        uploadTime: f.uploadTime,
        requiresPython: f.requiresPython,
        yanked: f.yanked,
        yankedReason: f.yankedReason,
        hasCoreMetadata: f.hasCoreMetadata,
        coreMetadataSha256: f.coreMetadataSha256,
        removed: f.removed,
      }))
      .sort((a, b) => (a.filename < b.filename ? -1 : 1));
    const expected = record.files
      .map((f) => ({ ...f, releaseVersion: f.version, removed: false }))
      .sort((a, b) => (a.filename < b.filename ? -1 : 1));
    expect(asStored).toEqual(expected);

    // Dropping the awkward names removes exactly them, and keeps the rest current.
    const fewer = { ...record, serial: 6, files: record.files.filter((f) => many.includes(f.filename)) };
    expect(await saveProject(db, fewer)).toMatchObject({ filesAdded: 0, filesRemoved: awkward.length });
    const current = await db
      .select({ filename: schema.files.filename })
      .from(schema.files)
      .where(sql`${schema.files.filename} LIKE 'Odd-%' AND NOT ${schema.files.removed}`);
    expect(current.map((f) => f.filename).sort()).toEqual([...many].sort());
    // The other tests share this database: 1,203 sdists without a result would be in their pages.
    await db.execute(sql`DELETE FROM projects WHERE name = 'odd'`);
  });

  it("keeps status's counts with every change, equal to counting the whole tables (migration 0014)", async () => {
    const db = database.db;
    const before = await storeCounts(db);
    expect(before).toEqual(await storeCountsByScan(db));
    /** What changed since the start of this case, checked against the whole-table count first. */
    const delta = async () => {
      const kept = await storeCounts(db);
      expect(kept).toEqual(await storeCountsByScan(db));
      return Object.fromEntries(
        Object.entries(kept).map(([k, v]) => [k, v - before[k as keyof typeof before]]),
      ) as unknown as typeof before;
    };
    const v1: ProjectRecord = {
      displayName: 'Counted_One',
      serial: 40,
      // 3.0 has no file at all, 4.0 only an egg: neither is a release "with files".
      versions: ['1.0', '2.0', '3.0', '4.0'],
      files: [
        file('counted_one-1.0.tar.gz', '1.0'),
        file('counted_one-1.0-py3-none-any.whl', '1.0'),
        file('counted_one-2.0-py3-none-any.whl', '2.0', { yanked: true }),
        file('counted_one-4.0-py2.7.egg', '4.0', { packagetype: 'bdist_egg' }),
      ],
    };
    await saveProject(db, v1);
    expect(await delta()).toEqual({
      projects: 1,
      projectsRemoved: 0,
      releases: 4,
      releasesWithFiles: 2,
      files: 4,
      filesRemoved: 0,
      changelogRows: 0,
    });
    // 2.0 and its wheel leave the index.
    await saveProject(db, {
      ...v1,
      serial: 41,
      versions: ['1.0', '3.0', '4.0'],
      files: [v1.files[0]!, v1.files[1]!, v1.files[3]!],
    });
    expect(await delta()).toMatchObject({ releases: 3, releasesWithFiles: 1, files: 3, filesRemoved: 1 });
    await saveProject(db, {
      displayName: 'counted.two',
      serial: 42,
      versions: ['9'],
      files: [file('counted.two-9.zip', '9')],
    });
    expect(await delta()).toMatchObject({ projects: 2, releases: 4, releasesWithFiles: 2, files: 4 });
    // The whole project goes; its files count as removed, its releases no longer at all.
    await markProjectRemoved(db, 'Counted_One', 43);
    expect(await delta()).toMatchObject({
      projects: 1,
      projectsRemoved: 1,
      releases: 1,
      releasesWithFiles: 1,
      files: 1,
      filesRemoved: 4,
    });
    // …and comes back with one file.
    await saveProject(db, { ...v1, serial: 44, versions: ['1.0'], files: [v1.files[0]!] });
    expect(await delta()).toMatchObject({
      projects: 2,
      projectsRemoved: 0,
      releases: 2,
      releasesWithFiles: 2,
      files: 2,
      filesRemoved: 3,
    });
    // Changelog rows: a row already stored is not counted twice.
    const row = { name: 'Counted_One', version: '1.0', timestamp: 1_700_000_000, action: 'new release' };
    await insertChangelog(db, [
      { ...row, serial: 900_001 },
      { ...row, serial: 900_002 },
    ]);
    await insertChangelog(db, [
      { ...row, serial: 900_002 },
      { ...row, serial: 900_003 },
    ]);
    expect((await delta()).changelogRows).toBe(3);
    // Counts lost (as in a database from before migration 0014) come back from the whole tables
    // by the statement that migration runs (the same text: checked here).
    const migration = await readFile(path.join(MIGRATIONS_DIR, '0014_store_counts.sql'), 'utf8');
    const words = (t: string) => t.replace(/\s+/g, ' ').trim();
    expect(words(migration)).toContain(words(RECOUNT_ALL_PROJECTS));
    await db.execute(
      sql`UPDATE projects SET releases_current = 0, releases_with_files = 0, files_current = 7, files_removed = 0`,
    );
    expect(await storeCounts(db)).not.toEqual(await storeCountsByScan(db));
    await db.execute(sql.raw(RECOUNT_ALL_PROJECTS));
    expect(await storeCounts(db)).toEqual(await storeCountsByScan(db));
  });

  it('records failures without losing stored data, and removed projects', async () => {
    const db = database.db;
    await saveProject(db, {
      displayName: 'keep',
      serial: 3,
      versions: ['1'],
      files: [file('keep-1.tar.gz', '1')],
    });
    await recordProjectFailure(db, 'keep', 'response-invalid', 'bad JSON');
    const view = await getProject(db, 'keep');
    expect(view?.failureCode).toBe('response-invalid');
    expect(view?.releases[0]?.files.length).toBe(1);
    expect(view?.releases[0]?.files[0]?.removed).toBe(false);

    const gone = await markProjectRemoved(db, 'keep', 4);
    expect(gone).toEqual({ filesRemoved: 1, known: true });
    expect((await getProject(db, 'keep'))?.removed).toBe(true);
  });

  it('lists stored projects and files, filtered by removed, type and name', async () => {
    const db = database.db;
    await saveProject(db, {
      displayName: 'List_Kept',
      serial: 1,
      versions: ['1', '2'],
      files: [
        file('list_kept-1.tar.gz', '1', { yanked: true, yankedReason: 'broken' }),
        file('list_kept-1-py3-none-any.whl', '1'),
        file('list_kept-2.tar.gz', '2'),
      ],
    });
    // Version 2 leaves the index: its file is kept, flagged removed.
    await saveProject(db, {
      displayName: 'List_Kept',
      serial: 2,
      versions: ['1'],
      files: [
        file('list_kept-1.tar.gz', '1', { yanked: true, yankedReason: 'broken' }),
        file('list_kept-1-py3-none-any.whl', '1'),
      ],
    });
    await saveProject(db, { displayName: 'List.Gone', serial: 1, versions: ['1'], files: [] });
    await markProjectRemoved(db, 'List.Gone', 2);
    await recordProjectFailure(db, 'List-Failed', 'project-not-found', 'never stored');

    const mine = <T extends { name: string }>(rows: T[]) =>
      rows.filter((p) => p.name.startsWith('list-')).sort((a, b) => (a.name < b.name ? -1 : 1));
    const all = mine(await listProjects(db));
    expect(all.map((p) => [p.name, p.displayName, p.removed, p.crawledAt instanceof Date])).toEqual([
      ['list-failed', 'List-Failed', false, false],
      ['list-gone', 'List.Gone', true, true],
      ['list-kept', 'List_Kept', false, true],
    ]);
    expect(mine(await listProjects(db, { removed: false })).map((p) => p.name)).toEqual([
      'list-failed',
      'list-kept',
    ]);
    expect(mine(await listProjects(db, { removed: true })).map((p) => p.name)).toEqual(['list-gone']);

    const byName = <T extends { filename: string }>(rows: T[]) =>
      rows
        .filter((f) => f.filename.startsWith('list_kept-'))
        .sort((a, b) => (a.filename < b.filename ? -1 : 1));
    expect(byName(await listFiles(db))).toEqual([
      { filename: 'list_kept-1-py3-none-any.whl', packagetype: 'bdist_wheel', yanked: false, removed: false },
      { filename: 'list_kept-1.tar.gz', packagetype: 'sdist', yanked: true, removed: false },
      { filename: 'list_kept-2.tar.gz', packagetype: 'sdist', yanked: false, removed: true },
    ]);
    expect(byName(await listFiles(db, { packagetype: 'sdist' })).map((f) => f.filename)).toEqual([
      'list_kept-1.tar.gz',
      'list_kept-2.tar.gz',
    ]);
    expect(
      (
        await listFiles(db, {
          filenames: ['list_kept-2.tar.gz', 'list_kept-1-py3-none-any.whl', 'absent.whl'],
        })
      )
        .map((f) => f.filename)
        .sort(),
    ).toEqual(['list_kept-1-py3-none-any.whl', 'list_kept-2.tar.gz']);
    expect(await listFiles(db, { packagetype: 'bdist_wheel', filenames: ['list_kept-2.tar.gz'] })).toEqual(
      [],
    );
    expect(await listFiles(db, { filenames: [] })).toEqual([]);
  });

  it('keeps pending projects at their newest serial until a job at least that new finishes', async () => {
    const db = database.db;
    await addPendingProjects(db, [
      { name: 'Pend_Me', serial: 5, priority: 10 },
      { name: 'pend-me', serial: 7, priority: 1 },
      { name: 'other', serial: 2, priority: 10 },
    ]);
    await addPendingProjects(db, [{ name: 'pend.me', serial: 6, priority: 10 }]);
    const rows = await listPendingProjects(db, '', 10);
    expect(rows.map((r) => [r.key, r.serial, r.priority])).toEqual([
      ['other', 2, 10],
      ['pend-me', 7, 1],
    ]);
    // A job for an older serial does not satisfy a newer request.
    await clearPendingProject(db, 'Pend_Me', 6);
    expect(await countPendingProjects(db)).toBe(2);
    await clearPendingProject(db, 'PEND-ME', 7);
    expect((await listPendingProjects(db, '', 10)).map((r) => r.key)).toEqual(['other']);
    expect((await listPendingProjects(db, 'other', 10)).length).toBe(0);
  });

  it('selects failed work: per-Python setup.py outcomes only when their code is asked for', async () => {
    const db = database.db;
    await sdistWithRuns(db, 'sdisty', [
      ['27', 'python-incompatible'],
      ['38', 'sandbox-timeout'],
      ['311', null],
    ]);
    const pick = async (filter: Parameters<typeof failedFileWork>[2]) =>
      (await failedFileWork(db, { sdist: '1' }, { ...filter, skipSetupPyOutcomes: true })).map((x) => [
        x.filename,
        x.codes,
      ]);
    expect(await pick({ project: 'sdisty' })).toEqual([['sdisty-1.tar.gz', ['sandbox-timeout']]]);
    // Without the default's filter every failure is there.
    expect((await failedFileWork(db, { sdist: '1' }, { project: 'sdisty' })).map((x) => x.codes)).toEqual([
      ['python-incompatible', 'sandbox-timeout'],
    ]);
    expect(await pick({ project: 'sdisty', code: 'python-incompatible' })).toEqual([
      ['sdisty-1.tar.gz', ['python-incompatible']],
    ]);
    expect(await pick({ project: 'sdisty', code: 'setup-py-error' })).toEqual([]);
    expect(await pick({ project: 'sdisty', since: new Date(Date.now() + 60_000) })).toEqual([]);
  });

  it('replaces a job-level failure by a later result, never a result by a failure', async () => {
    const db = database.db;
    await saveProject(db, {
      displayName: 'retry',
      serial: 1,
      versions: ['1'],
      files: [file('retry-1-py3-none-any.whl', '1', { sha256: 'b'.repeat(64) })],
    });
    const [f] = await db.select().from(schema.files).where(sql`filename = 'retry-1-py3-none-any.whl'`);
    const base = { fileId: f!.id, pythonKey: 'any', extractorVersion: '1', startedAt: new Date() };
    await saveExtraction(db, {
      ...base,
      method: 'wheel',
      status: 'failed',
      failureCode: 'http-error',
      requirements: [],
    });
    expect((await failedFileWork(db, { bdist_wheel: '1' })).map((x) => x.codes)).toEqual([['http-error']]);
    await saveExtraction(db, {
      ...base,
      method: 'range',
      status: 'ok',
      requirements: [{ kind: 'install', requirement: 'six' }],
    });
    const left = await db.select().from(schema.extractions).where(sql`file_id = ${f!.id}`);
    expect(left.map((e) => [e.method, e.status])).toEqual([['range', 'ok']]);
    expect(await failedFileWork(db, { bdist_wheel: '1' })).toEqual([]);
    // A later failure of the job is recorded beside the result; the result stays.
    await saveExtraction(db, {
      ...base,
      method: 'wheel',
      status: 'failed',
      failureCode: 'http-error',
      requirements: [],
    });
    const after = await db.select().from(schema.extractions).where(sql`file_id = ${f!.id}`);
    expect(after.map((e) => e.status).sort()).toEqual(['failed', 'ok']);
  });

  it('stores text with NULs and unpaired surrogates, replaced by U+FFFD and counted (issue 10)', async () => {
    const db = database.db;
    await saveProject(db, {
      displayName: 'hostile',
      serial: 1,
      versions: ['1'],
      files: [
        file('hostile-1.tar.gz', '1', {
          sha256: 'd'.repeat(64),
          yankedReason: 'bad\u0000release',
          yanked: true,
          requiresPython: '>=3\u0000',
        }),
      ],
    });
    const [f] = await db.select().from(schema.files).where(sql`filename = 'hostile-1.tar.gz'`);
    expect(f!.yankedReason).toBe('bad\uFFFDrelease');
    expect(f!.requiresPython).toBe('>=3\uFFFD');
    // What setup.py can hand back (JSON "\u0000", and "\udcff" for an undecodable byte under
    // Python's surrogateescape) and what a log can hold; a well-formed pair (U+1F600) stays.
    const saved = await saveExtraction(db, {
      fileId: f!.id,
      pythonKey: '312',
      method: 'setup.py',
      extractorVersion: '1',
      status: 'ok',
      log: 'printed \u0000 and \udcff',
      startedAt: new Date(),
      textRepairs: 2,
      requirements: [
        { kind: 'install', requirement: 'foo\u0000bar' },
        {
          kind: 'extra',
          extra: 'x\ud800',
          requirement: 'six; os_name == "\udcffa\ud83d\ude00"',
          name: 'six',
          marker: 'os_name == "\udcffa\ud83d\ude00"',
        },
      ],
    });
    // 1 (log NUL) + 1 (log surrogate) + 1 (requirement NUL) + 1 (extra) + 1 (requirement) + 1 (marker), + the reader's 2
    expect(saved.textRepairs).toBe(8);
    const [row] = await db.select().from(schema.extractions).where(sql`id = ${saved.id}`);
    expect(row).toMatchObject({ status: 'ok', textRepairs: 8, log: 'printed \uFFFD and \uFFFD' });
    const reqs = await db
      .select()
      .from(schema.requirements)
      .where(sql`extraction_id = ${saved.id}`)
      .orderBy(schema.requirements.position);
    expect(reqs.map((r) => [r.requirement, r.extra, r.marker])).toEqual([
      ['foo\uFFFDbar', null, null],
      ['six; os_name == "\uFFFDa\u{1F600}"', 'x\uFFFD', 'os_name == "\uFFFDa\u{1F600}"'],
    ]);
    const [dep] = await projectDependencies(db, 'hostile');
    expect(dep!.extractions[0]!.textRepairs).toBe(8);
    // Clean text: nothing counted.
    const clean = await saveExtraction(db, {
      fileId: f!.id,
      pythonKey: '313',
      method: 'setup.py',
      extractorVersion: '1',
      status: 'ok',
      startedAt: new Date(),
      requirements: [{ kind: 'install', requirement: 'six; os_name == "\u{1F600}"' }],
    });
    expect(clean.textRepairs).toBe(0);
    // A failure message with a NUL is stored too.
    await recordProjectFailure(db, 'hostile', 'response-invalid', 'bad \u0000 byte');
    expect((await getProject(db, 'hostile'))!.failureMessage).toBe('bad \uFFFD byte');
  });

  it('lists the files without a result from this extractor version, by the per-file marker, page by page', async () => {
    const db = database.db;
    const names = [
      'mk-1.tar.gz',
      'mk-2.tar.gz',
      'mk-3.tar.gz',
      'mk-4.tar.gz',
      'mk-5.tar.gz',
      'mk-1-py3-none-any.whl',
    ];
    await saveProject(db, {
      displayName: 'mk',
      serial: 1,
      versions: ['1', '2', '3', '4', '5'],
      files: names.map((n) => file(n, /mk-(\d)/.exec(n)![1]!)),
    });
    const rows = await db.select().from(schema.files).where(sql`filename LIKE 'mk-%'`);
    const idOf = (n: string) => rows.find((r) => r.filename === n)!.id;
    const save = (n: string, version: string, status: 'ok' | 'failed' | 'waiting') =>
      saveExtraction(db, {
        fileId: idOf(n),
        pythonKey: status === 'waiting' ? 'any' : '311',
        method: status === 'waiting' ? 'sdist' : 'setup.py',
        extractorVersion: version,
        status,
        failureCode: status === 'ok' ? undefined : 'setup-py-failed',
        startedAt: new Date(),
        requirements: [],
      });
    const list = async (version: string, after = 0, limit = 10) =>
      (await listFilesWithoutResult(db, 'sdist', version, after, limit))
        .map((f) => f.filename)
        .filter((n) => n.startsWith('mk-'));
    await save('mk-2.tar.gz', '7', 'ok'); // a result of this version
    await save('mk-3.tar.gz', '7', 'failed'); // a failure is a result too
    await save('mk-4.tar.gz', '6', 'ok'); // a result of an older version only
    await save('mk-5.tar.gz', '7', 'waiting'); // waiting for a sandbox is no result
    expect(await list('7')).toEqual(['mk-1.tar.gz', 'mk-4.tar.gz', 'mk-5.tar.gz']);
    // The count (QUEUE_WINDOW's reconcile) reads the same marker: it agrees with the whole list.
    const counted = async (version: string) => {
      const all = await listFilesWithoutResult(db, 'sdist', version, 0, 1_000_000);
      expect(await countFilesWithoutResult(db, 'sdist', version)).toEqual({
        count: all.length,
        minId: all[0]?.id,
      });
      return all.filter((f) => f.filename.startsWith('mk-')).length;
    };
    expect(await counted('7')).toBe(3);
    // Pages: after an id, at most `limit`, in id order across both kinds (none, older version).
    expect(await list('7', idOf('mk-1.tar.gz') - 1, 2)).toEqual(['mk-1.tar.gz', 'mk-4.tar.gz']);
    expect(await list('7', idOf('mk-4.tar.gz'), 2)).toEqual(['mk-5.tar.gz']);
    // The marker follows every result saved: after these, nothing is left for version 7.
    await save('mk-1.tar.gz', '7', 'ok');
    await save('mk-4.tar.gz', '7', 'ok');
    await save('mk-5.tar.gz', '7', 'ok');
    expect(await list('7')).toEqual([]);
    // An old worker still writing version 6 after an upgrade: the file keeps its version-7 result.
    await save('mk-2.tar.gz', '6', 'ok');
    expect(await list('7')).toEqual([]);
    expect(await list('6')).toEqual(['mk-1.tar.gz', 'mk-3.tar.gz', 'mk-5.tar.gz']);
    expect(await counted('7')).toBe(0);
    expect(await counted('6')).toBe(3);
    // Wheels are another type; removed files are not listed.
    expect((await listFilesWithoutResult(db, 'bdist_wheel', '7', 0, 10)).map((f) => f.filename)).toContain(
      'mk-1-py3-none-any.whl',
    );
    await saveProject(db, {
      displayName: 'mk',
      serial: 2,
      versions: ['1'],
      files: [file('mk-1.tar.gz', '1')],
    });
    expect(await list('6')).toEqual(['mk-1.tar.gz']);
  });

  it('migration 0011 marks the files that already had a result', async () => {
    const db = database.db;
    await saveProject(db, {
      displayName: 'premark',
      serial: 1,
      versions: ['1', '2', '3'],
      files: [file('premark-1.tar.gz', '1'), file('premark-2.tar.gz', '2'), file('premark-3.tar.gz', '3')],
    });
    const rows = await db.select().from(schema.files).where(sql`filename LIKE 'premark-%'`);
    const idOf = (n: string) => rows.find((r) => r.filename === n)!.id;
    // Rows as a database migrated before 0011 holds them: results, and no marker.
    await db.execute(sql`INSERT INTO extractions (file_id, python_key, method, extractor_version, status, started_at, finished_at)
      VALUES (${idOf('premark-1.tar.gz')}, '311', 'setup.py', '1', 'ok', now(), now() - interval '1 day'),
             (${idOf('premark-1.tar.gz')}, '311', 'setup.py', '2', 'ok', now(), now()),
             (${idOf('premark-2.tar.gz')}, 'any', 'sdist', '2', 'waiting', now(), now())`);
    await db.execute(sql`UPDATE files SET result_version = NULL WHERE filename LIKE 'premark-%'`);
    const text = await readFile(
      path.join(import.meta.dirname, '../../../migrations/0011_result_marker.sql'),
      'utf8',
    );
    const update = /UPDATE files[\s\S]*?;\n/.exec(text)![0];
    await db.execute(sql.raw(update));
    const after = await db.select().from(schema.files).where(sql`filename LIKE 'premark-%'`);
    expect(Object.fromEntries(after.map((f) => [f.filename, f.resultVersion]))).toEqual({
      'premark-1.tar.gz': '2',
      'premark-2.tar.gz': null,
      'premark-3.tar.gz': null,
    });
  });

  it("moves a project's change_seq on every write a snapshot depends on, and on nothing else", async () => {
    const db = database.db;
    const seqOf = async (name: string) =>
      (await db.select().from(schema.projects).where(sql`name = ${name}`))[0]!.changeSeq;
    const record: ProjectRecord = {
      displayName: 'Seq.Pkg',
      serial: 5,
      versions: ['1'],
      files: [file('seq_pkg-1-py3-none-any.whl', '1', { sha256: 'c'.repeat(64) })],
    };
    await saveProject(db, record);
    const s1 = await seqOf('seq-pkg');
    expect(s1).toBeGreaterThan(0);
    const [f] = await db.select().from(schema.files).where(sql`filename = 'seq_pkg-1-py3-none-any.whl'`);
    await saveExtraction(db, {
      fileId: f!.id,
      pythonKey: 'any',
      method: 'pep658',
      extractorVersion: '1',
      status: 'ok',
      startedAt: new Date(),
      requirements: [{ kind: 'install', requirement: 'six' }],
    });
    const s2 = await seqOf('seq-pkg');
    expect(s2).toBeGreaterThan(s1);
    // A failed crawl keeps what is stored: what a snapshot publishes did not change.
    await recordProjectFailure(db, 'Seq.Pkg', 'http-error', 'boom');
    expect(await seqOf('seq-pkg')).toBe(s2);
    // A stale state writes nothing.
    expect((await saveProject(db, { ...record, serial: 4 })).applied).toBe(false);
    expect(await seqOf('seq-pkg')).toBe(s2);
    await markProjectRemoved(db, 'Seq.Pkg', 6);
    const s3 = await seqOf('seq-pkg');
    expect(s3).toBeGreaterThan(s2);
    // The snapshot's tokens: every key of the bucket, with the ids and change_seq behind it.
    const [p] = await db.select().from(schema.projects).where(sql`name = 'seq-pkg'`);
    const tokens = await bucketTokens(db, p!.bucket);
    expect(tokens.get('seq.pkg')).toBe(`${p!.id}.${s3}`);
    // And a key filter reads only that key's rows.
    await saveProject(db, { ...record, serial: 7 });
    expect((await pypiBucket(db, p!.bucket, ['seq.pkg'])).map((x) => x.name)).toEqual(['Seq.Pkg']);
    expect(await pypiBucket(db, p!.bucket, ['no-such-key'])).toEqual([]);
  });
});

describe('an sdist waiting for a sandbox', () => {
  for (const kind of ['postgres', 'pglite'] as const) {
    it(`is neither a result nor a failure, and a later run replaces it (${kind})`, async () => {
      const t = kind === 'postgres' ? await createTestDatabase() : undefined;
      const dir = kind === 'pglite' ? await mkdtemp(path.join(tmpdir(), 'db-waiting-')) : undefined;
      const database = await openDatabase(
        t ? { databaseUrl: t.url } : { pglitePath: path.join(dir!, 'pglite') },
      );
      try {
        await migrate(database);
        const db = database.db;
        await saveProject(db, {
          displayName: 'wait',
          serial: 1,
          versions: ['1'],
          files: [file('wait-1.tar.gz', '1')],
        });
        const [f] = await db.select().from(schema.files).where(sql`filename = 'wait-1.tar.gz'`);
        const start = new Date(Date.now() - 1000);
        await saveExtraction(db, {
          fileId: f!.id,
          pythonKey: 'any',
          method: 'sdist',
          extractorVersion: '1',
          status: 'waiting',
          failureCode: 'sandbox-unavailable',
          log: 'no sandbox: Nix is not installed here',
          startedAt: new Date(),
          requirements: [],
        });
        // Still work to do: listed for crawl --resume and the project's next crawl.
        expect((await sdistsWithoutDependencies(db, 'wait', '1')).map((x) => x.filename)).toEqual([
          'wait-1.tar.gz',
        ]);
        expect(await isWaitingForSandbox(db, f!.id, '1')).toBe(true);
        expect((await listFilesWithoutResult(db, 'sdist', '1', 0, 10)).map((x) => x.filename)).toEqual([
          'wait-1.tar.gz',
        ]);
        // Not a failure: not in status' failures, not in the crawl's, not for recrawl --failed.
        expect(await failuresByCode(db)).toEqual([]);
        const summary = await crawlSummary(db, start);
        expect(summary.failures).toEqual([]);
        expect(summary.notRunHere).toEqual([{ code: 'sandbox-unavailable', count: 1 }]);
        expect(await failedFileWork(db, { sdist: '1' })).toEqual([]);
        expect((await sandboxOverview(db, '1')).waiting).toBe(1);
        // A run in a sandbox replaces it.
        await saveExtraction(db, {
          fileId: f!.id,
          pythonKey: '311',
          method: 'setup.py',
          extractorVersion: '1',
          status: 'ok',
          startedAt: new Date(),
          requirements: [{ kind: 'install', requirement: 'six' }],
        });
        const left = await db.select().from(schema.extractions).where(sql`file_id = ${f!.id}`);
        expect(left.map((e) => [e.method, e.status])).toEqual([['setup.py', 'ok']]);
        expect(await isWaitingForSandbox(db, f!.id, '1')).toBe(false);
        expect(await listFilesWithoutResult(db, 'sdist', '1', 0, 10)).toEqual([]);
        expect((await sandboxOverview(db, '1')).waiting).toBe(0);
      } finally {
        await database.close();
        await t?.drop();
        if (dir) await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('errors from PostgreSQL going away', () => {
  it('are told apart from errors of the query: retryable database-unavailable vs. not', async () => {
    const t = await createTestDatabase();
    const victim = await openDatabase({ databaseUrl: t.url, poolSize: 1 });
    const admin = await openDatabase({ databaseUrl: t.url, poolSize: 1 });
    try {
      const bad = await victim.db.execute(sql`SELECT * FROM no_such_table`).catch((e: unknown) => e);
      expect(isDatabaseUnavailable(bad)).toBe(false);
      expect(toCrawlError(bad).code).toBe('internal-error');
      // The server ends the victim's session in the middle of a query, as a restart or a failover does.
      await victim.db.execute(sql`SELECT set_config('application_name', 'victim', false)`);
      const running = victim.db.execute(sql`SELECT pg_sleep(30)`).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      await admin.db.execute(
        sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'`,
      );
      const gone = await running;
      expect(toCrawlError(gone).code).toBe('database-unavailable');
      expect(toCrawlError(gone).retryable).toBe(true);
      // Nothing listening.
      const closed = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:9/postgres' });
      const refused = await closed.db.execute(sql`SELECT 1`).catch((e: unknown) => e);
      await closed.close();
      expect(toCrawlError(refused).code).toBe('database-unavailable');
    } finally {
      await victim.close();
      await admin.close();
      await t.drop();
    }
  });

  it('a reset of the connection in the middle of a query is database-unavailable, as in a restart', async () => {
    // Seen in the distributed-faults test: a query sent while PostgreSQL restarted met a reset
    // socket, and its job failed as internal-error. Here a TCP proxy between the driver and the
    // real server resets the driver's connection (RST) while a query runs.
    const t = await createTestDatabase();
    const target = new URL(t.url);
    const sockets: net.Socket[] = [];
    const proxy = net.createServer((downstream) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      downstream.pipe(upstream).on('error', () => {});
      upstream.pipe(downstream).on('error', () => {});
      downstream.on('error', () => {});
      upstream.on('error', () => {});
      sockets.push(downstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const viaProxy = new URL(t.url);
    viaProxy.port = String((proxy.address() as net.AddressInfo).port);
    const database = await openDatabase({ databaseUrl: viaProxy.href, poolSize: 1 });
    try {
      await database.db.execute(sql`SELECT 1`);
      const running = database.db.execute(sql`SELECT pg_sleep(30)`).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      for (const s of sockets) s.resetAndDestroy();
      const reset = await running;
      expect(JSON.stringify((reset as Error).cause, ['code', 'message'])).toContain('ECONNRESET');
      expect(toCrawlError(reset).code).toBe('database-unavailable');
      expect(toCrawlError(reset).retryable).toBe(true);
      // The same errno from anything but a query stays what it was (an HTTP download's reset is
      // the download's fault, not the database's).
      const other = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
      expect(isDatabaseUnavailable(other)).toBe(false);
    } finally {
      await database.close();
      await new Promise((r) => proxy.close(r));
      await t.drop();
    }
  });
});

describe('bulkLoad', () => {
  it('writes the rows it is given into an empty database, moves the sequences past them, and refuses a database with data', async () => {
    const t = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: t.url });
    try {
      await migrate(database);
      const at = new Date('2024-01-02T03:04:05Z');
      const result = await bulkLoad(
        t.url,
        async (w) => {
          w.write('projects', {
            id: 1,
            name: 'a-b',
            displayName: 'A_b',
            machnixName: 'a-b',
            bucket: 'aa',
            lastSerial: 9,
            removed: false,
            removedAt: null,
            crawledAt: at,
          });
          w.write('releases', {
            id: 1,
            projectId: 1,
            version: '1.0',
            yanked: false,
            yankedReason: null,
            removed: false,
            removedAt: null,
          });
          w.write('files', {
            id: 1,
            filename: 'A_b-1.0.tar.gz',
            projectId: 1,
            releaseId: 1,
            version: '1.0',
            packagetype: 'sdist',
            pythonVersion: 'source',
            url: 'https://x/A_b-1.0.tar.gz',
            sha256: 'd'.repeat(64),
            size: 10,
            uploadTime: at,
            requiresPython: null,
            yanked: false,
            yankedReason: null,
            coreMetadataSha256: null,
            hasCoreMetadata: false,
            removed: false,
            removedAt: null,
            firstSeenAt: at,
            resultVersion: '1',
          });
          w.write('extractions', {
            id: 1,
            fileId: 1,
            pythonKey: '38',
            method: 'setup.py',
            extractorVersion: '1',
            status: 'ok',
            failureCode: null,
            log: 'tab\there\nline\\',
            bytesTransferred: null,
            requests: 1,
            startedAt: at,
            finishedAt: at,
          });
          w.write('requirements', {
            id: 1,
            extractionId: 1,
            position: 0,
            kind: 'install',
            extra: null,
            requirement: 'six>=1',
            name: 'six',
            specifier: '>=1',
            marker: null,
          });
          w.write('changelog', { serial: 9, time: at, name: 'A_b', version: '1.0', action: 'new release' });
        },
        { changelogSerial: 9, vacuum: true },
      );
      expect(result.rows).toEqual({
        projects: 1,
        releases: 1,
        files: 1,
        changelog: 1,
        extractions: 1,
        requirements: 1,
      });
      const [e] = await database.db.select().from(schema.extractions);
      expect(e!.log).toBe('tab\there\nline\\');
      expect(await storeCounts(database.db)).toMatchObject({
        projects: 1,
        releases: 1,
        releasesWithFiles: 1,
        files: 1,
        changelogRows: 1,
      });
      expect(await storeCounts(database.db)).toEqual(await storeCountsByScan(database.db));
      // The next id the crawl takes is past the loaded ones.
      await saveProject(database.db, {
        displayName: 'Other',
        serial: 10,
        versions: ['1'],
        files: [file('other-1.tar.gz', '1')],
      });
      const ids = (await database.db.select().from(schema.projects)).map((p) => p.id).sort();
      expect(ids).toEqual([1, 2]);
      await expect(bulkLoad(t.url, async () => {})).rejects.toThrow(
        /needs empty tables; projects, releases, files, changelog, extractions, requirements already hold rows/,
      );
    } finally {
      await database.close();
      await t.drop();
    }
  });
});

type Captured = { sql: string; params: unknown[] };

/**
 * A migrated test database whose statements are captured, with a client of its own beside it
 * for EXPLAIN (its settings do not touch the pool's connections).
 */
async function withCapturedStatements(
  fn: (c: {
    database: Awaited<ReturnType<typeof openDatabase>>;
    client: pg.Client;
    captured: Captured[];
  }) => Promise<void>,
): Promise<void> {
  const t = await createTestDatabase();
  const captured: Captured[] = [];
  const database = await openDatabase({
    databaseUrl: t.url,
    onQuery: (text, params) => captured.push({ sql: text, params }),
  });
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  try {
    await migrate(database);
    await fn({ database, client, captured });
  } finally {
    await client.end();
    await database.close();
    await t.drop();
  }
}

/** `EXPLAIN [ANALYZE]` of a captured statement, its lines joined. */
async function planOf(client: pg.Client, statement: Captured, analyze = false): Promise<string> {
  const rows = (await client.query(`EXPLAIN ${analyze ? 'ANALYZE ' : ''}${statement.sql}`, statement.params))
    .rows;
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe("a project's statements at a backfill's size, with no statistics on the tables", () => {
  it("recount its kept counts (migration 0014) and find its files without a result from the project's own rows alone", async () => {
    await withCapturedStatements(async ({ database, client, captured }) => {
      // A backfill's database: no statistics yet (autovacuum off, as on some servers, or behind).
      for (const t of ['projects', 'releases', 'files'])
        await client.query(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
      // 4,000 other projects with 10 current sdists and wheels each (40,000 files), written in bulk.
      await client.query(`INSERT INTO projects (name, display_name, machnix_name, bucket)
        SELECT 'bulk-' || g, 'bulk-' || g, 'bulk-' || g, '00' FROM generate_series(1, 4000) g`);
      await client.query(`INSERT INTO releases (project_id, version) SELECT id, '1' FROM projects`);
      await client.query(`INSERT INTO files (filename, project_id, release_id, version, packagetype,
          python_version, url, sha256)
        SELECT 'bulk-' || r.project_id || '-' || k || '.whl', r.project_id, r.id, '1',
               CASE WHEN k = 1 THEN 'sdist' ELSE 'bdist_wheel' END, 'py3', 'https://x/' || r.id || '/' || k,
               repeat('0', 64)
          FROM releases r, generate_series(1, 10) k`);
      captured.length = 0;
      await saveProject(database.db, {
        displayName: 'counted',
        serial: 1,
        versions: ['1.0'],
        files: [file('counted-1.0.tar.gz', '1.0')],
      });
      const recount = captured.find((c) => /UPDATE projects p\s+SET \(files_current/.test(c.sql));
      expect(recount, 'the recount statement of saveProject').toBeDefined();
      const plan = await planOf(client, recount!, true);
      // Without statistics the planner once ANDed the project's files with files_current_type_idx,
      // every current sdist and wheel of the index: a cost that grows with the table at each save.
      expect(plan).not.toContain('files_current_type_idx');
      for (const line of plan.split('\n').filter((l) => /Scan on (files|releases)\b/.test(l)))
        expect(line, plan).toMatch(/Index Scan|Bitmap Heap Scan/);
      expect(
        plan
          .match(/rows=(\d+) loops/g)
          ?.map((m) => Number(/\d+/.exec(m)![0]))
          .every((n) => n <= 1),
      ).toBe(true);
      const [row] = (
        await client.query<{ files_current: number; releases_current: number; releases_with_files: number }>(
          `SELECT files_current, releases_current, releases_with_files FROM projects WHERE name = 'counted'`,
        )
      ).rows;
      expect(row).toEqual({ files_current: 1, releases_current: 1, releases_with_files: 1 });
      // The project job's next statements: its sdists and wheels that have no result yet.
      for (const [read, packagetype] of [
        [sdistsWithoutDependencies, 'sdist'],
        [wheelsWithoutMetadata, 'bdist_wheel'],
      ] as const) {
        captured.length = 0;
        const found = await read(database.db, 'counted', '1');
        expect(found.map((f) => f.filename)).toEqual(packagetype === 'sdist' ? ['counted-1.0.tar.gz'] : []);
        const statement = captured.find((c) => /FROM extractions e WHERE e\.file_id/.test(c.sql));
        expect(statement, `the ${packagetype} selection`).toBeDefined();
        const selection = await planOf(client, statement!, true);
        expect(selection).not.toContain('files_current_type_idx');
        expect(selection).not.toMatch(/Seq Scan on files\b/);
      }
    });
  });
});

describe("a snapshot's bucket tokens (migration 0016)", () => {
  it('are read from projects_bucket_token_idx alone (an index-only scan), not from the table', async () => {
    await withCapturedStatements(async ({ database, client, captured }) => {
      for (const name of ['tok-a', 'Tok_B', 'tok.c'])
        await saveProject(database.db, { displayName: name, serial: 1, versions: ['1'], files: [] });
      // What the index-only scan needs: the table's pages marked all-visible, as a snapshot's
      // vacuumForSnapshot leaves them.
      expect(await vacuumForSnapshot(database)).toBeGreaterThanOrEqual(0);
      const [p] = await database.db.select().from(schema.projects).where(sql`name = 'tok-a'`);
      captured.length = 0;
      const tokens = await bucketTokens(database.db, p!.bucket);
      expect(tokens.get('tok-a')).toBe(`${p!.id}.${p!.changeSeq}`);
      const statement = captured.find((c) => /string_agg/.test(c.sql));
      expect(statement).toBeDefined();
      // Whole-table and bitmap scans priced out: the plan reads the index, never the heap (a
      // column the index does not hold, or the index gone, gives another plan).
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_bitmapscan = off');
      expect(await planOf(client, statement!)).toContain('Index Only Scan using projects_bucket_token_idx');
      // ...and reads no page of the table (saved rows are on pages the vacuum marked).
      expect(await planOf(client, statement!, true)).toContain('Heap Fetches: 0');
    });
  });
});

describe('autovacuum per table (migration 0017)', () => {
  it("vacuums and analyzes the big tables after 2-5 % of new rows, not after PostgreSQL's 20 %", async () => {
    await withCapturedStatements(async ({ client }) => {
      const { rows } = await client.query<{ relname: string; reloptions: string[] | null }>(
        `SELECT relname, reloptions FROM pg_class
          WHERE relkind = 'r' AND relname = ANY($1) ORDER BY relname`,
        [['files', 'extractions', 'requirements', 'releases', 'changelog', 'projects', 'pending_projects']],
      );
      const options = Object.fromEntries(rows.map((r) => [r.relname, (r.reloptions ?? []).sort()]));
      // Without the migration every table has no options (null): the defaults, a vacuum after
      // 20 % new rows, which at 100 million requirement rows is 20 million rows late.
      expect(options).toEqual({
        changelog: ['autovacuum_vacuum_insert_scale_factor=0.05'],
        extractions: ['autovacuum_analyze_scale_factor=0.02', 'autovacuum_vacuum_insert_scale_factor=0.02'],
        files: ['autovacuum_analyze_scale_factor=0.02', 'autovacuum_vacuum_insert_scale_factor=0.02'],
        pending_projects: ['autovacuum_vacuum_scale_factor=0.05'],
        projects: ['autovacuum_analyze_scale_factor=0.02', 'autovacuum_vacuum_scale_factor=0.02'],
        releases: ['autovacuum_vacuum_insert_scale_factor=0.05'],
        requirements: ['autovacuum_analyze_scale_factor=0.05', 'autovacuum_vacuum_insert_scale_factor=0.02'],
      });
    });
  });
});

describe("recrawl --failed's default selection (migration 0012)", () => {
  it('reads only the failures it keeps, from a partial index that lists exactly SETUP_PY_OUTCOME_CODES', async () => {
    await withCapturedStatements(async ({ database, client, captured }) => {
      const db = database.db;
      // The index and the code's list name the same codes: a code added to one alone would make
      // the planner drop the index (the query's predicate no longer implies it) or keep a stale one.
      const idx = (
        await client.query<{ indexdef: string }>(
          `SELECT indexdef FROM pg_indexes WHERE indexname = 'extractions_refailed_idx'`,
        )
      ).rows[0];
      const listed = [...(idx?.indexdef ?? '').matchAll(/'([a-z0-9-]+)'::text/g)]
        .map((m) => m[1])
        .filter((c) => c !== 'any' && c !== 'failed');
      expect(listed.sort()).toEqual([...SETUP_PY_OUTCOME_CODES].sort());

      await sdistWithRuns(db, 'refail', [
        ['27', 'python-incompatible'],
        ['38', 'sandbox-timeout'],
      ]);
      captured.length = 0;
      expect(
        (await failedFileWork(db, { sdist: '1' }, { skipSetupPyOutcomes: true })).map((x) => x.codes),
      ).toEqual([['sandbox-timeout']]);
      const statement = captured.find((c) => /FROM extractions e/.test(c.sql));
      expect(statement).toBeDefined();
      // With sequential scans priced out, the plan must be able to use the partial index: it can
      // only if the query's own clauses imply the index's predicate.
      await client.query('SET enable_seqscan = off');
      expect(await planOf(client, statement!)).toContain('extractions_refailed_idx');
    });
  });
});

describe("recrawl --failed's estimate of the failures it keeps (migration 0015)", () => {
  it('is near their number with the statistics of status, python_key and failure_code together', async () => {
    const t = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: t.url });
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      await migrate(database);
      // PyPI's shape: every sdist ran under nine Pythons, Python-3-only ones fail under 2.7 with
      // setup-py-error (a per-Python outcome, left out), and a few fail for a reason retried.
      await client.query(`
        INSERT INTO projects (id, name, display_name, machnix_name, bucket) VALUES (1, 'p', 'p', 'p', '00');
        INSERT INTO releases (id, project_id, version) VALUES (1, 1, '1');
        INSERT INTO files (id, filename, project_id, release_id, version, packagetype, python_version, url, sha256)
          SELECT g, 'p-' || g || '.tar.gz', 1, 1, '1', 'sdist', 'source', 'http://x/' || g, md5(g::text) || md5(g::text)
          FROM generate_series(1, 20000) g;
        INSERT INTO extractions (file_id, python_key, method, extractor_version, status, failure_code, started_at)
          SELECT f, k, 'setup.py', '1',
                 CASE WHEN k = '27' OR (k = '38' AND f % 100 = 0) THEN 'failed' ELSE 'ok' END,
                 CASE WHEN k = '27' THEN 'setup-py-error' WHEN k = '38' AND f % 100 = 0 THEN 'sandbox-timeout' END,
                 now()
          FROM generate_series(1, 20000) f, unnest(ARRAY['27','36','37','38','39','310','311','312','313']) k;
      `);
      const kept = `status = 'failed' AND extractor_version = '1' AND (python_key = 'any' OR failure_code <> ALL (ARRAY[${SETUP_PY_OUTCOME_CODES.map((c) => `'${c}'`).join(', ')}]))`;
      const estimate = async () => {
        await client.query('ANALYZE extractions');
        const plan = (
          await client.query(`EXPLAIN (FORMAT JSON) SELECT file_id FROM extractions WHERE ${kept}`)
        ).rows[0]['QUERY PLAN'][0].Plan;
        return plan['Plan Rows'] as number;
      };
      const actual = Number(
        (await client.query(`SELECT count(*) AS n FROM extractions WHERE ${kept}`)).rows[0].n,
      );
      expect(actual).toBe(200);
      const withStats = await estimate();
      expect(withStats / actual).toBeGreaterThan(1 / 3);
      expect(withStats / actual).toBeLessThan(3);
      // Without them the planner multiplies the columns' selectivities as if independent: far
      // off (here 1 row; at 10 million files 796,000 for 92,751).
      await client.query('DROP STATISTICS extractions_failure_stats');
      const without = (await estimate()) / actual;
      expect(without < 1 / 3 || without > 3, `estimate ÷ actual without the statistics: ${without}`).toBe(
        true,
      );
    } finally {
      await client.end();
      await database.close();
      await t.drop();
    }
  });
});

describe("a snapshot's planner statistics (analyzeForSnapshot)", () => {
  it('analyzes a table never analyzed or changed by more than 2 % since, and no other', async () => {
    const t = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: t.url });
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    // PostgreSQL counts a session's changes when the session goes idle, at most once a second
    // (PostgreSQL 15): force it, as a crawl's sessions do on their own by the time a snapshot runs.
    const write = async (text: string) => {
      await client.query(text);
      await client.query('SELECT pg_stat_force_next_flush()');
      await client.query('SELECT 1');
    };
    const lastAnalyzed = async () =>
      Object.fromEntries(
        (
          await client.query<{ relname: string; at: Date | null }>(
            `SELECT relname, last_analyze AS at FROM pg_stat_user_tables
              WHERE relname IN ('projects', 'releases', 'files', 'extractions', 'requirements')`,
          )
        ).rows.map((r) => [r.relname, r.at?.getTime() ?? null]),
      );
    try {
      await migrate(database);
      await write(`
        INSERT INTO projects (id, name, display_name, machnix_name, bucket) VALUES (1, 'p', 'p', 'p', '00');
        INSERT INTO releases (id, project_id, version) VALUES (1, 1, '1');
        INSERT INTO files (id, filename, project_id, release_id, version, packagetype, python_version, url, sha256)
          SELECT g, 'p-' || g || '.tar.gz', 1, 1, '1', 'sdist', 'source', 'http://x/' || g, md5(g::text) || md5(g::text)
          FROM generate_series(1, 10000) g;
        INSERT INTO extractions (file_id, python_key, method, extractor_version, status, started_at)
          SELECT g, 'any', 'static', '1', 'ok', now() FROM generate_series(1, 100) g;`);
      // Never analyzed (requirements: empty), or analyzed empty by a migration (extractions,
      // 0015) and changed by more than 50 rows since: all five.
      expect((await analyzeForSnapshot(database)).sort()).toEqual([
        'extractions',
        'files',
        'projects',
        'releases',
        'requirements',
      ]);
      const first = await lastAnalyzed();
      expect(Object.values(first).every((at) => at !== null)).toBe(true);

      // Nothing changed since: nothing analyzed, the statistics' times unchanged.
      expect(await analyzeForSnapshot(database)).toEqual([]);
      // 1 % of the files changed (a day at PyPI's size is a tenth of that): still nothing.
      await write(`UPDATE files SET yanked = true WHERE id <= 100`);
      expect(await analyzeForSnapshot(database)).toEqual([]);
      // 5 % more files: files alone.
      await write(`
        INSERT INTO files (id, filename, project_id, release_id, version, packagetype, python_version, url, sha256)
          SELECT g, 'p-' || g || '.tar.gz', 1, 1, '1', 'sdist', 'source', 'http://x/' || g, md5(g::text) || md5(g::text)
          FROM generate_series(10001, 10500) g;`);
      expect(await analyzeForSnapshot(database)).toEqual(['files']);
      const second = await lastAnalyzed();
      expect(second.files).toBeGreaterThan(first.files!);
      expect({ ...second, files: null }).toEqual({ ...first, files: null });
      expect(await analyzeForSnapshot(database)).toEqual([]);
    } finally {
      await client.end();
      await database.close();
      await t.drop();
    }
  });
});
