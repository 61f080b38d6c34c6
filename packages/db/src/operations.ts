// What distributed operation needs from the database (issue 5): the work Redis must never be
// the only holder of (pending projects, files without results), failed work for re-crawls, and
// the record of scheduled refreshes.
import { invariantError } from '@pypi-graph/core';
import { pep503Name } from '@pypi-graph/pyspec';
import { and, asc, desc, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db } from './connection';
import { hasNoResult } from './extractions';
import { files, indexListing, pendingProjects, projects, refreshes } from './schema';
import { rowsOf } from './stats';

export interface PendingProject {
  /** The name as the index gave it. */
  name: string;
  serial: number;
  priority: number;
}

/**
 * Records projects a discover job is about to enqueue. A project already pending keeps the
 * newest serial and the most urgent priority.
 */
export async function addPendingProjects(db: Db, rows: PendingProject[]): Promise<void> {
  // One row per project per statement (ON CONFLICT cannot touch a row twice).
  const unique = new Map<string, PendingProject>();
  for (const r of rows) {
    const key = pep503Name(r.name);
    const prev = unique.get(key);
    unique.set(key, {
      name: r.name,
      serial: Math.max(r.serial, prev?.serial ?? 0),
      priority: Math.min(r.priority, prev?.priority ?? r.priority),
    });
  }
  const list = [...unique.entries()];
  for (let i = 0; i < list.length; i += 1000) {
    await db
      .insert(pendingProjects)
      .values(
        list.slice(i, i + 1000).map(([name, r]) => ({
          name,
          displayName: r.name,
          serial: r.serial,
          priority: r.priority,
        })),
      )
      .onConflictDoUpdate({
        target: pendingProjects.name,
        set: {
          displayName: sql`excluded.display_name`,
          serial: sql`GREATEST(${pendingProjects.serial}, excluded.serial)`,
          priority: sql`LEAST(${pendingProjects.priority}, excluded.priority)`,
          queuedAt: sql`now()`,
        },
      });
  }
}

/** Starts reading a new index listing (`crawl --all`): forgets any earlier one. */
export async function clearIndexListing(db: Db): Promise<void> {
  await db.execute(sql`DELETE FROM index_listing`);
}

/** Names (as the index gives them) of the listing being read; a name seen again is ignored. */
export async function addIndexListing(db: Db, names: readonly string[]): Promise<void> {
  const unique = [...new Set(names.map(pep503Name))];
  for (let i = 0; i < unique.length; i += 1000) {
    await db
      .insert(indexListing)
      .values(unique.slice(i, i + 1000).map((name) => ({ name })))
      .onConflictDoNothing();
  }
}

/**
 * Stored projects (not removed) that the listing read so far does not name, `limit` at a time
 * in id order after `afterId`: the projects the index no longer lists.
 */
export async function projectsNotListed(
  db: Db,
  afterId: number,
  limit: number,
): Promise<Array<{ id: number; displayName: string }>> {
  return db
    .select({ id: projects.id, displayName: projects.displayName })
    .from(projects)
    .where(
      and(
        eq(projects.removed, false),
        gt(projects.id, afterId),
        sql`NOT EXISTS (SELECT 1 FROM ${indexListing} WHERE ${indexListing.name} = ${projects.name})`,
      ),
    )
    .orderBy(asc(projects.id))
    .limit(limit);
}

/** A project job finished (for good): what asked for it up to `serial` is done. */
export async function clearPendingProject(db: Db, name: string, serial: number): Promise<void> {
  await db
    .delete(pendingProjects)
    .where(and(eq(pendingProjects.name, pep503Name(name)), sql`${pendingProjects.serial} <= ${serial}`));
}

/** Pending projects in normalized-name order (`key`), `limit` at a time after the key `after`. */
export async function listPendingProjects(
  db: Db,
  after: string,
  limit: number,
): Promise<Array<PendingProject & { key: string }>> {
  const rows = await db
    .select({
      key: pendingProjects.name,
      name: pendingProjects.displayName,
      serial: pendingProjects.serial,
      priority: pendingProjects.priority,
    })
    .from(pendingProjects)
    .where(gt(pendingProjects.name, after))
    .orderBy(asc(pendingProjects.name))
    .limit(limit);
  return rows.map((r) => ({ name: r.name, serial: r.serial, priority: r.priority, key: r.key }));
}

export interface FileWithoutResult {
  id: number;
  sha256: string;
  filename: string;
}

/**
 * Current files of one package type (`bdist_wheel`, `sdist`) with no result at all from this
 * extractor version, in id order, `limit` at a time after id `afterId`.
 */
export async function listFilesWithoutResult(
  db: Db,
  packagetype: string,
  extractorVersion: string,
  afterId: number,
  limit: number,
): Promise<FileWithoutResult[]> {
  // From the marker saveExtraction keeps (files.result_version, migration 0011), so that a page
  // reads in proportion to what it finds: the files with no result at all come from the partial
  // index files_without_result_idx (nearly empty once a backfill is done); the files whose
  // result is from another extractor version (after an upgrade) are looked for only when
  // files_result_version_idx says there are any. A `waiting` row sets no marker: waiting for a
  // sandbox is no result (as hasNoResult, extractions.ts).
  const columns = { id: files.id, sha256: files.sha256, filename: files.filename };
  const current = and(eq(files.packagetype, packagetype), eq(files.removed, false), gt(files.id, afterId));
  const none = await db
    .select(columns)
    .from(files)
    .where(and(current, isNull(files.resultVersion)))
    .orderBy(asc(files.id))
    .limit(limit);
  // Two range seeks of files_result_version_idx, `<` and `>`: written as one `<>` or `OR`, the
  // index is read for the package type alone and every entry filtered (288 ms at one million
  // files, for nothing, on every page of a backfill).
  const stale = rowsOf<{ one: number }>(
    await db.execute(sql`SELECT 1 AS one FROM files WHERE packagetype = ${packagetype} AND NOT removed
          AND result_version IS NOT NULL AND result_version < ${extractorVersion}
        UNION ALL
        SELECT 1 FROM files WHERE packagetype = ${packagetype} AND NOT removed
          AND result_version IS NOT NULL AND result_version > ${extractorVersion}
        LIMIT 1`),
  );
  if (stale.length === 0) return none;
  // Files whose result is from another version, in id order, less those that also have a result
  // from this one (written before the marker moved: filesWithoutResultByIds), until the page is
  // full. Two plain steps: asked as one query, the planner expected few rows and read every stale
  // file before sorting (or, with NOT EXISTS, merged the page with the whole extractions index) —
  // each page read the whole table, and the pages of a backfill after an extractor upgrade
  // (every result stale) cost the square of it.
  const other: FileWithoutResult[] = [];
  for (let cursor = afterId; other.length < limit; ) {
    const candidates = await db
      .select({ id: files.id })
      .from(files)
      .where(
        and(
          eq(files.packagetype, packagetype),
          eq(files.removed, false),
          gt(files.id, cursor),
          isNotNull(files.resultVersion),
          sql`${files.resultVersion} <> ${extractorVersion}`,
        ),
      )
      .orderBy(asc(files.id))
      .limit(limit);
    if (candidates.length === 0) break;
    other.push(
      ...(await filesWithoutResultByIds(
        db,
        packagetype,
        extractorVersion,
        candidates.map((c) => c.id),
      )),
    );
    cursor = candidates[candidates.length - 1]!.id;
    if (candidates.length < limit) break;
  }
  return [...none, ...other].sort((a, b) => a.id - b.id).slice(0, limit);
}

/** Of these file ids, the current files of one package type with no result from this version. */
export async function filesWithoutResultByIds(
  db: Db,
  packagetype: string,
  extractorVersion: string,
  ids: readonly number[],
): Promise<FileWithoutResult[]> {
  if (ids.length === 0) return [];
  const list = sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );
  return db
    .select({ id: files.id, sha256: files.sha256, filename: files.filename })
    .from(files)
    .where(
      sql`${files.id} IN (${list}) AND ${files.packagetype} = ${packagetype} AND NOT ${files.removed}
        AND ${hasNoResult(extractorVersion)}`,
    )
    .orderBy(asc(files.id));
}

/**
 * How many current files of one package type have no result from this extractor version, and
 * the smallest such id (undefined when there are none): what `crawl --resume` reports, and where
 * the feeder's first pass starts. One index-only scan of files_current_type_idx.
 */
export async function countFilesWithoutResult(
  db: Db,
  packagetype: string,
  extractorVersion: string,
): Promise<{ count: number; minId: number | undefined }> {
  // From the marker (files.result_version, migration 0011), as listFilesWithoutResult: the files
  // with no result at all from the partial index of them, and those whose result is from another
  // version from files_result_version_idx (`<` and `>` apart: two range seeks; `<>` or an OR of
  // them reads the package type's whole index), each probed for a result of this version
  // written before the marker moved. Nothing here reads the files that are done: at PyPI's size
  // that is nearly all of them.
  const [row] = rowsOf<{ n: string | number; min_id: string | number | null }>(
    await db.execute(sql`SELECT sum(n) AS n, min(min_id) AS min_id FROM (
        SELECT count(*) AS n, min(id) AS min_id FROM files
          WHERE packagetype = ${packagetype} AND NOT removed AND result_version IS NULL
        UNION ALL
        SELECT count(*), min(id) FROM files
          WHERE packagetype = ${packagetype} AND NOT removed AND result_version IS NOT NULL
            AND result_version < ${extractorVersion} AND ${hasNoResult(extractorVersion)}
        UNION ALL
        SELECT count(*), min(id) FROM files
          WHERE packagetype = ${packagetype} AND NOT removed AND result_version IS NOT NULL
            AND result_version > ${extractorVersion} AND ${hasNoResult(extractorVersion)}) c`),
  );
  const minId = row?.min_id === null || row?.min_id === undefined ? undefined : Number(row.min_id);
  return { count: Number(row?.n ?? 0), minId };
}

export interface FailedWorkFilter {
  /** Only this failure code. */
  code?: string;
  /** Only this project (any spelling). */
  project?: string;
  /** Only failures recorded at or after this time. */
  since?: Date;
  /**
   * Leave out per-Python results whose code is one of setup.py's own outcomes
   * (`SETUP_PY_OUTCOME_CODES`), unless `code` asks for one of them: `recrawl --failed`'s default.
   */
  skipSetupPyOutcomes?: boolean;
}

/**
 * What setup.py did under one Python (a SyntaxError on 2.7, an exception, a missing build
 * dependency, no setup.py): results the graph records, which running it again reproduces.
 * `recrawl --failed` leaves them out unless `--code` names one. Migration 0012's partial index
 * `extractions_refailed_idx` lists the same codes, so that this selection reads only the failures
 * it keeps (at PyPI's size millions of Python-3-only sdists fail under 2.7): keep both equal (a
 * db test compares them).
 */
export const SETUP_PY_OUTCOME_CODES: readonly string[] = [
  'python-incompatible',
  'setup-py-error',
  'missing-build-dependency',
  'no-setup-py',
];

/** The predicate of `extractions_refailed_idx`, spelled as the index spells it (no parameters). */
const RETRIED_FAILURE = sql.raw(
  `(e.python_key = 'any' OR e.failure_code <> ALL (ARRAY[${SETUP_PY_OUTCOME_CODES.map((c) => `'${c}'`).join(', ')}]))`,
);

export interface FailedProject {
  name: string;
  code: string;
  lastSerial: number;
}

export interface FailedFile {
  sha256: string;
  filename: string;
  packagetype: string;
  /** The failure codes this file has (one per failed Python version, deduplicated). */
  codes: string[];
}

/** Projects whose last crawl failed, matching the filter. */
export async function failedProjectWork(db: Db, filter: FailedWorkFilter = {}): Promise<FailedProject[]> {
  const project = filter.project ? pep503Name(filter.project) : null;
  const rows = rowsOf<{ name: string; code: string; last_serial: string | number }>(
    await db.execute(sql`
      SELECT display_name AS name, failure_code AS code, last_serial FROM projects
      WHERE failure_code IS NOT NULL
        AND (${filter.code ?? null}::text IS NULL OR failure_code = ${filter.code ?? null})
        AND (${project}::text IS NULL OR name = ${project})
        AND (${filter.since ?? null}::timestamptz IS NULL OR failed_at >= ${filter.since ?? null})
      ORDER BY name`),
  );
  return rows.map((r) => ({ name: r.name, code: r.code, lastSerial: Number(r.last_serial) }));
}

/**
 * Current files with a failed result from the given extractor versions (by package type),
 * matching the filter: a job that failed for good, or a Python version whose run failed.
 */
export async function failedFileWork(
  db: Db,
  versions: Partial<Record<'bdist_wheel' | 'sdist', string>>,
  filter: FailedWorkFilter = {},
): Promise<FailedFile[]> {
  const out: FailedFile[] = [];
  const project = filter.project ? pep503Name(filter.project) : null;
  for (const [packagetype, version] of Object.entries(versions)) {
    if (version === undefined) continue;
    const rows = rowsOf<{ sha256: string; filename: string; packagetype: string; codes: string[] }>(
      await db.execute(sql`
        SELECT f.sha256, f.filename, f.packagetype,
               array_agg(DISTINCT e.failure_code ORDER BY e.failure_code) AS codes
        FROM extractions e
        JOIN files f ON f.id = e.file_id
        JOIN projects p ON p.id = f.project_id
        WHERE e.status = 'failed' AND e.extractor_version = ${version}
          AND f.packagetype = ${packagetype} AND NOT f.removed
          AND ${
            filter.code !== undefined
              ? sql`e.failure_code = ${filter.code}`
              : filter.skipSetupPyOutcomes
                ? RETRIED_FAILURE
                : sql`TRUE`
          }
          AND (${project}::text IS NULL OR p.name = ${project})
          AND (${filter.since ?? null}::timestamptz IS NULL OR e.finished_at >= ${filter.since ?? null})
        GROUP BY f.id, f.sha256, f.filename, f.packagetype
        ORDER BY f.filename`),
    );
    out.push(...rows.map((r) => ({ ...r, codes: r.codes ?? [] })));
  }
  return out;
}

export type RefreshRow = typeof refreshes.$inferSelect;

export async function startRefresh(db: Db, slot: Date | null, fromSerial: number | null): Promise<number> {
  const [row] = await db
    .insert(refreshes)
    .values({ slot, status: 'running', fromSerial })
    .returning({ id: refreshes.id });
  if (!row) throw invariantError('insert of refresh returned nothing');
  return row.id;
}

export async function finishRefresh(
  db: Db,
  id: number,
  outcome: {
    status: 'done' | 'failed';
    toSerial?: number | null;
    counts?: unknown;
    snapshotId?: string | null;
    error?: string | null;
  },
): Promise<void> {
  await db
    .update(refreshes)
    .set({
      status: outcome.status,
      finishedAt: new Date(),
      toSerial: outcome.toSerial ?? null,
      counts: outcome.counts ?? null,
      snapshotId: outcome.snapshotId ?? null,
      error: outcome.error?.slice(0, 4000) ?? null,
    })
    .where(eq(refreshes.id, id));
}

/** Refreshes that a dead scheduler left `running` are marked failed (called under the lock). */
export async function abandonRunningRefreshes(db: Db): Promise<number> {
  const rows = await db
    .update(refreshes)
    .set({ status: 'failed', finishedAt: new Date(), error: 'abandoned: the scheduler stopped during it' })
    .where(eq(refreshes.status, 'running'))
    .returning({ id: refreshes.id });
  return rows.length;
}

export async function lastRefresh(db: Db): Promise<RefreshRow | undefined> {
  const [row] = await db
    .select()
    .from(refreshes)
    .orderBy(desc(refreshes.startedAt), desc(refreshes.id))
    .limit(1);
  return row;
}

export async function recentRefreshes(db: Db, limit: number): Promise<RefreshRow[]> {
  return db.select().from(refreshes).orderBy(desc(refreshes.startedAt), desc(refreshes.id)).limit(limit);
}

export async function countPendingProjects(db: Db): Promise<number> {
  const [row] = rowsOf<{ n: string | number }>(
    await db.execute(sql`SELECT count(*) AS n FROM pending_projects`),
  );
  return Number(row?.n ?? 0);
}
