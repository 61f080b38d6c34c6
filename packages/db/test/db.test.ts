import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { is, sql } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/services';
import {
  type Database,
  type FileRecord,
  getProject,
  markProjectRemoved,
  migrate,
  openDatabase,
  type ProjectRecord,
  pypiBucket,
  recordProjectFailure,
  saveProject,
  schema,
  storeCounts,
} from '../src/index';

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
    expect(tables.length).toBe(8);
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
});
