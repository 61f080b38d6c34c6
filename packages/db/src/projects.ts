import { invariantError } from '@pypi-graph/core';
import { bucketOf, machNixName, pep503Name } from '@pypi-graph/pyspec';
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import type { Db } from './connection';
import { files, projects, releases } from './schema';
import { rowsOf } from './stats';
import { pgArrayLiteral, storable, storableOrNull } from './text';

/** One file as the index lists it, after merging the Simple API and the JSON API. */
export interface FileRecord {
  filename: string;
  version: string;
  packagetype: string;
  pythonVersion: string;
  url: string;
  sha256: string;
  size: number | null;
  uploadTime: Date | null;
  requiresPython: string | null;
  yanked: boolean;
  yankedReason: string | null;
  hasCoreMetadata: boolean;
  coreMetadataSha256: string | null;
}

/** A project's complete current state on the index. */
export interface ProjectRecord {
  /** Display name, as the index spells it. */
  displayName: string;
  /** The index's serial for this state (`X-PyPI-Last-Serial` / `last_serial`). */
  serial: number;
  /** Every release key, including releases without files. */
  versions: string[];
  files: FileRecord[];
}

export interface SaveResult {
  /** False when the stored state is newer than this one (a stale job); nothing was written. */
  applied: boolean;
  filesAdded: number;
  filesUpdated: number;
  filesRemoved: number;
  releasesRemoved: number;
}

const CHUNK = 500;

/** A new value of `projects.change_seq`: set by every write that can change a snapshot's entries. */
export const NEXT_CHANGE_SEQ = sql`nextval('project_change_seq')`;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * One project's own counts (migration 0014) computed from its releases and files, in the
 * transaction that changed them: what `status` sums.
 *
 * The project's rows are read once each, by its id alone (MATERIALIZED), and counted from there:
 * the plan cannot depend on statistics. Written as subqueries over `files` with
 * `packagetype IN (…)`, a planner without statistics (a new database, autovacuum off or behind
 * during a backfill) ANDed the project's rows with `files_current_type_idx`, every current sdist
 * and wheel of the index: 43 ms a save at 537,000 files and growing with the table, so that a
 * backfill slowed down as it went (`pnpm bench backfill`, docs/benchmarks.md).
 */
function recountProject(projectId: number) {
  return sql`WITH pf AS MATERIALIZED (
         SELECT release_id, removed, packagetype FROM files WHERE project_id = ${projectId}
       ), pr AS MATERIALIZED (
         SELECT id, removed FROM releases WHERE project_id = ${projectId}
       )
     UPDATE projects p
     SET (files_current, files_removed) =
           (SELECT count(*) FILTER (WHERE NOT pf.removed), count(*) FILTER (WHERE pf.removed) FROM pf),
         releases_current = (SELECT count(*) FROM pr WHERE NOT pr.removed),
         releases_with_files = (SELECT count(DISTINCT pf.release_id) FROM pf
                                  JOIN pr ON pr.id = pf.release_id AND NOT pr.removed
                                 WHERE NOT pf.removed AND pf.packagetype IN ('sdist', 'bdist_wheel'))
   WHERE p.id = ${projectId}`;
}

/**
 * Every project's counts from the whole tables, one pass over each (a bulk load: COPY does not
 * keep them). Migration 0014 runs the same statement over what was stored before it.
 */
export const RECOUNT_ALL_PROJECTS = `UPDATE projects p
   SET releases_current = c.releases_current,
       releases_with_files = c.releases_with_files,
       files_current = c.files_current,
       files_removed = c.files_removed
  FROM (SELECT p0.id,
               coalesce(r.n, 0) AS releases_current,
               coalesce(w.n, 0) AS releases_with_files,
               coalesce(f.cur, 0) AS files_current,
               coalesce(f.gone, 0) AS files_removed
          FROM projects p0
          LEFT JOIN (SELECT project_id, count(*) AS n FROM releases WHERE NOT removed GROUP BY project_id) r
            ON r.project_id = p0.id
          LEFT JOIN (SELECT project_id, count(*) FILTER (WHERE NOT removed) AS cur,
                            count(*) FILTER (WHERE removed) AS gone
                       FROM files GROUP BY project_id) f
            ON f.project_id = p0.id
          LEFT JOIN (SELECT fw.project_id, count(DISTINCT fw.release_id) AS n
                       FROM files fw JOIN releases rw ON rw.id = fw.release_id AND NOT rw.removed
                      WHERE NOT fw.removed AND fw.packagetype IN ('sdist', 'bdist_wheel')
                      GROUP BY fw.project_id) w
            ON w.project_id = p0.id) c
 WHERE c.id = p.id
   AND (p.releases_current, p.releases_with_files, p.files_current, p.files_removed)
       IS DISTINCT FROM (c.releases_current, c.releases_with_files, c.files_current, c.files_removed)`;

/**
 * Stores a project's current state in one transaction: upserts the project, its releases and
 * files, and marks as removed whatever the index no longer lists. Idempotent; a state older
 * than the stored one (lower serial) is ignored, so out-of-order jobs cannot go back in time.
 */
export async function saveProject(db: Db, indexRecord: ProjectRecord, now = new Date()): Promise<SaveResult> {
  // Free text the index passes on from uploaders and maintainers; PostgreSQL cannot hold a NUL.
  const repairs = { count: 0 };
  const record: ProjectRecord = {
    ...indexRecord,
    files: indexRecord.files.map((f) => ({
      ...f,
      requiresPython: storableOrNull(f.requiresPython, repairs),
      yankedReason: storableOrNull(f.yankedReason, repairs),
    })),
  };
  const name = pep503Name(record.displayName);
  const machnix = machNixName(record.displayName);
  return db.transaction(async (tx) => {
    const [project] = await tx
      .insert(projects)
      .values({
        name,
        displayName: record.displayName,
        machnixName: machnix,
        bucket: bucketOf(machnix),
        lastSerial: record.serial,
        crawledAt: now,
      })
      .onConflictDoUpdate({
        target: projects.name,
        set: { crawledAt: now },
      })
      .returning({ id: projects.id, lastSerial: projects.lastSerial, removed: projects.removed });
    if (!project) throw invariantError('upsert of project returned nothing');
    // Lock the row: two jobs for one project serialize here.
    const [locked] = await tx
      .select({ lastSerial: projects.lastSerial })
      .from(projects)
      .where(eq(projects.id, project.id))
      .for('update');
    if (locked && locked.lastSerial > record.serial) {
      return { applied: false, filesAdded: 0, filesUpdated: 0, filesRemoved: 0, releasesRemoved: 0 };
    }
    await tx
      .update(projects)
      .set({
        displayName: record.displayName,
        machnixName: machnix,
        bucket: bucketOf(machnix),
        lastSerial: record.serial,
        removed: false,
        removedAt: null,
        failureCode: null,
        failureMessage: null,
        failedAt: null,
        // What a snapshot publishes for this project may change (migrations/0007_scale.sql).
        changeSeq: NEXT_CHANGE_SEQ,
      })
      .where(eq(projects.id, project.id));

    // Releases: every key the index lists, yanked when all of its files are.
    const versions = [...new Set([...record.versions, ...record.files.map((f) => f.version)])];
    const byVersion = new Map<string, FileRecord[]>();
    for (const f of record.files) {
      const own = byVersion.get(f.version);
      if (own) own.push(f);
      else byVersion.set(f.version, [f]);
    }
    const releaseIds = new Map<string, number>();
    for (const part of chunks(versions)) {
      const rows = await tx
        .insert(releases)
        .values(
          part.map((version) => {
            const own = byVersion.get(version) ?? [];
            const yanked = own.length > 0 && own.every((f) => f.yanked);
            return {
              projectId: project.id,
              version,
              yanked,
              yankedReason: yanked ? (own.find((f) => f.yankedReason)?.yankedReason ?? null) : null,
            };
          }),
        )
        .onConflictDoUpdate({
          target: [releases.projectId, releases.version],
          set: {
            yanked: sql`excluded.yanked`,
            yankedReason: sql`excluded.yanked_reason`,
            removed: false,
            removedAt: null,
          },
        })
        .returning({ id: releases.id, version: releases.version });
      for (const r of rows) releaseIds.set(r.version, r.id);
    }
    const removedReleases = await tx
      .update(releases)
      .set({ removed: true, removedAt: now })
      .where(
        and(
          eq(releases.projectId, project.id),
          eq(releases.removed, false),
          versions.length > 0 ? notInArray(releases.version, versions) : undefined,
        ),
      )
      .returning({ id: releases.id });

    // Files: one statement per chunk, each column one array parameter (unnest), so that a
    // project of 20,000 files costs a few strings per chunk, not a parameter object per value.
    let filesAdded = 0;
    let filesUpdated = 0;
    for (const part of chunks(record.files)) {
      const col = <T extends string | number | boolean | Date | null>(pick: (f: FileRecord) => T) =>
        pgArrayLiteral(part.map(pick));
      const result = await tx.execute(sql`
        INSERT INTO files (filename, project_id, release_id, version, packagetype, python_version, url,
                           sha256, size, upload_time, requires_python, yanked, yanked_reason,
                           has_core_metadata, core_metadata_sha256, first_seen_at)
        SELECT u.filename, ${project.id}::bigint, u.release_id, u.version, u.packagetype, u.python_version,
               u.url, u.sha256, u.size, u.upload_time, u.requires_python, u.yanked, u.yanked_reason,
               u.has_core_metadata, u.core_metadata_sha256, ${now.toISOString()}::timestamptz
          FROM unnest(${col((f) => f.filename)}::text[], ${col((f) => releaseIds.get(f.version) ?? null)}::bigint[],
                      ${col((f) => f.version)}::text[], ${col((f) => f.packagetype)}::text[],
                      ${col((f) => f.pythonVersion)}::text[], ${col((f) => f.url)}::text[],
                      ${col((f) => f.sha256)}::text[], ${col((f) => f.size)}::bigint[],
                      ${col((f) => f.uploadTime)}::timestamptz[], ${col((f) => f.requiresPython)}::text[],
                      ${col((f) => f.yanked)}::boolean[], ${col((f) => f.yankedReason)}::text[],
                      ${col((f) => f.hasCoreMetadata)}::boolean[], ${col((f) => f.coreMetadataSha256)}::text[])
            AS u(filename, release_id, version, packagetype, python_version, url, sha256, size, upload_time,
                 requires_python, yanked, yanked_reason, has_core_metadata, core_metadata_sha256)
        ON CONFLICT (filename) DO UPDATE SET
          project_id = excluded.project_id, release_id = excluded.release_id, version = excluded.version,
          packagetype = excluded.packagetype, python_version = excluded.python_version, url = excluded.url,
          sha256 = excluded.sha256, size = excluded.size, upload_time = excluded.upload_time,
          requires_python = excluded.requires_python, yanked = excluded.yanked,
          yanked_reason = excluded.yanked_reason, has_core_metadata = excluded.has_core_metadata,
          core_metadata_sha256 = excluded.core_metadata_sha256, removed = false, removed_at = NULL
        -- xmax = 0 only for a freshly inserted row: tells additions from updates.
        RETURNING (xmax = 0) AS inserted`);
      for (const r of rowsOf<{ inserted: boolean }>(result)) {
        if (r.inserted) filesAdded++;
        else filesUpdated++;
      }
    }
    // What the index no longer lists; the names go as one array parameter.
    const filenames = record.files.map((f) => f.filename);
    const removedFiles = await tx
      .update(files)
      .set({ removed: true, removedAt: now })
      .where(
        and(
          eq(files.projectId, project.id),
          eq(files.removed, false),
          filenames.length > 0
            ? sql`NOT (${files.filename} = ANY(${pgArrayLiteral(filenames)}::text[]))`
            : undefined,
        ),
      )
      .returning({ id: files.id });
    await tx.execute(recountProject(project.id));
    return {
      applied: true,
      filesAdded,
      filesUpdated,
      filesRemoved: removedFiles.length,
      releasesRemoved: removedReleases.length,
    };
  });
}

/** The index no longer has this project (404 / `remove project`): mark it and everything in it. */
export async function markProjectRemoved(
  db: Db,
  displayName: string,
  serial: number,
  now = new Date(),
): Promise<{ filesRemoved: number; known: boolean }> {
  const name = pep503Name(displayName);
  return db.transaction(async (tx) => {
    const [project] = await tx
      .update(projects)
      .set({
        removed: true,
        removedAt: now,
        lastSerial: sql`GREATEST(${projects.lastSerial}, ${serial})`,
        changeSeq: NEXT_CHANGE_SEQ,
      })
      .where(and(eq(projects.name, name), eq(projects.removed, false)))
      .returning({ id: projects.id });
    if (!project) return { filesRemoved: 0, known: false };
    await tx
      .update(releases)
      .set({ removed: true, removedAt: now })
      .where(and(eq(releases.projectId, project.id), eq(releases.removed, false)));
    const removed = await tx
      .update(files)
      .set({ removed: true, removedAt: now })
      .where(and(eq(files.projectId, project.id), eq(files.removed, false)))
      .returning({ id: files.id });
    await tx.execute(recountProject(project.id));
    return { filesRemoved: removed.length, known: true };
  });
}

/** Records that crawling a project failed, without touching what is already stored for it. */
export async function recordProjectFailure(
  db: Db,
  displayName: string,
  code: string,
  message: string,
  now = new Date(),
): Promise<void> {
  const name = pep503Name(displayName);
  const machnix = machNixName(displayName);
  // An error message may quote what the index sent, NULs included.
  const text = storable(message.slice(0, 2000), { count: 0 });
  await db
    .insert(projects)
    .values({
      name,
      displayName,
      machnixName: machnix,
      bucket: bucketOf(machnix),
      failureCode: code,
      failureMessage: text,
      failedAt: now,
    })
    .onConflictDoUpdate({
      target: projects.name,
      set: { failureCode: code, failureMessage: text, failedAt: now },
    });
}

export interface ProjectView {
  name: string;
  displayName: string;
  lastSerial: number;
  removed: boolean;
  failureCode: string | null;
  failureMessage: string | null;
  releases: Array<{
    version: string;
    yanked: boolean;
    removed: boolean;
    files: Array<typeof files.$inferSelect>;
  }>;
}

/** A project with all of its releases and files (removed ones included, flagged). */
export async function getProject(db: Db, anyName: string): Promise<ProjectView | undefined> {
  const [project] = await db
    .select()
    .from(projects)
    .where(eq(projects.name, pep503Name(anyName)));
  if (!project) return undefined;
  const rels = await db.select().from(releases).where(eq(releases.projectId, project.id));
  const fileRows = await db.select().from(files).where(eq(files.projectId, project.id));
  const byRelease = new Map<number, Array<typeof files.$inferSelect>>();
  for (const f of fileRows) {
    const list = byRelease.get(f.releaseId) ?? [];
    list.push(f);
    byRelease.set(f.releaseId, list);
  }
  const firstUpload = (id: number) =>
    Math.min(...(byRelease.get(id) ?? []).map((f) => f.uploadTime?.getTime() ?? Number.POSITIVE_INFINITY));
  return {
    name: project.name,
    displayName: project.displayName,
    lastSerial: project.lastSerial,
    removed: project.removed,
    failureCode: project.failureCode,
    failureMessage: project.failureMessage,
    releases: rels
      .sort((a, b) => firstUpload(a.id) - firstUpload(b.id) || (a.version < b.version ? -1 : 1))
      .map((r) => ({
        version: r.version,
        yanked: r.yanked,
        removed: r.removed,
        files: (byRelease.get(r.id) ?? []).sort(
          (a, b) =>
            (a.uploadTime?.getTime() ?? 0) - (b.uploadTime?.getTime() ?? 0) ||
            (a.filename < b.filename ? -1 : 1),
        ),
      })),
  };
}

/** Names of the given projects that failed, or of all failed projects. */
export async function failedProjects(db: Db, code?: string): Promise<Array<{ name: string; code: string }>> {
  const rows = await db
    .select({ name: projects.displayName, code: projects.failureCode })
    .from(projects)
    .where(code ? eq(projects.failureCode, code) : sql`${projects.failureCode} IS NOT NULL`);
  return rows.map((r) => ({ name: r.name, code: r.code ?? '' }));
}

/** One stored project, without its releases and files. */
export interface ProjectSummary {
  /** Normalized (PEP 503). */
  name: string;
  displayName: string;
  removed: boolean;
  /** When a project job last stored it; null for a project known only from a failure. */
  crawledAt: Date | null;
}

/** Every stored project; with `removed`, only those the index (no longer) lists. Unordered. */
export async function listProjects(db: Db, filter: { removed?: boolean } = {}): Promise<ProjectSummary[]> {
  const q = db
    .select({
      name: projects.name,
      displayName: projects.displayName,
      removed: projects.removed,
      crawledAt: projects.crawledAt,
    })
    .from(projects);
  return filter.removed === undefined ? q : q.where(eq(projects.removed, filter.removed));
}

/** One stored file, as much of it as says what the index lists. */
export interface FileSummary {
  filename: string;
  packagetype: string;
  yanked: boolean;
  removed: boolean;
}

/** Stored files, removed ones included (flagged), of one type and/or with these names. Unordered. */
export async function listFiles(
  db: Db,
  filter: { packagetype?: string; filenames?: readonly string[] } = {},
): Promise<FileSummary[]> {
  if (filter.filenames?.length === 0) return [];
  const conditions = [
    filter.packagetype === undefined ? undefined : eq(files.packagetype, filter.packagetype),
    filter.filenames === undefined ? undefined : inArray(files.filename, [...filter.filenames]),
  ];
  return db
    .select({
      filename: files.filename,
      packagetype: files.packagetype,
      yanked: files.yanked,
      removed: files.removed,
    })
    .from(files)
    .where(and(...conditions));
}
