import { invariantError } from '@pypi-graph/core';
import type { BuildProvenance } from '@pypi-graph/model';
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Db } from './connection';
import { NEXT_CHANGE_SEQ } from './projects';
import { extractions, files, projects, requirements } from './schema';
import { rowsOf } from './stats';
import { type RepairCount, storable, storableOrNull } from './text';

export type RequirementKind = (typeof requirements.kind.enumValues)[number];

export interface RequirementRow {
  kind: RequirementKind;
  /** The extra a requirement belongs to (sdist `extras_require` keys, with their `:marker`). */
  extra?: string | null;
  /** Verbatim, as the metadata has it. */
  requirement: string;
  /** Parsed parts; null when the string could not be parsed (it is still stored verbatim). */
  name?: string | null;
  specifier?: string | null;
  marker?: string | null;
}

export interface ExtractionRecord {
  fileId: number;
  /** `any`, or `27` … `313`. */
  pythonKey: string;
  method: string;
  extractorVersion: string;
  /** `waiting`: not run here (no sandbox); not a result, not a failure of the file. */
  status: 'ok' | 'failed' | 'waiting';
  failureCode?: string | null;
  /** A short log: the error message, or what the method saw. */
  log?: string | null;
  bytesTransferred?: number | null;
  requests?: number | null;
  startedAt: Date;
  requirements: RequirementRow[];
  /**
   * Repairs the reader already made to the source text (lines of METADATA/PKG-INFO that were not
   * UTF-8, undecodable bytes of pyproject.toml); added to those made here to store it.
   */
  textRepairs?: number;
  /** How a sandbox result was computed with build tools (issue 11; docs/formats.md): null for none. */
  buildProvenance?: BuildProvenance | null;
}

export interface SavedExtraction {
  id: number;
  /**
   * `record.textRepairs` plus the NULs and unpaired surrogates replaced by U+FFFD here (PostgreSQL
   * cannot store them); stored in `extractions.text_repairs`. Non-zero: log it.
   */
  textRepairs: number;
}

/** Methods under which a wheel or sdist job records that it failed for good (no result at all). */
export const JOB_FAILURE_METHODS = ['wheel', 'sdist'];

/**
 * Stores one extraction and its requirement rows in one transaction; running it again for the
 * same (file, Python key, method, extractor version) replaces the previous result whole.
 */
export async function saveExtraction(db: Db, record: ExtractionRecord): Promise<SavedExtraction> {
  // Repaired before the transaction, so that a NUL in a log or a requirement never costs the row.
  const repairs: RepairCount = { count: 0 };
  const log = storableOrNull(record.log?.slice(0, 4000), repairs);
  const rows = record.requirements.map((r) => ({
    kind: r.kind,
    extra: storableOrNull(r.extra, repairs),
    requirement: storable(r.requirement, repairs),
    name: storableOrNull(r.name, repairs),
    specifier: storableOrNull(r.specifier, repairs),
    marker: storableOrNull(r.marker, repairs),
  }));
  const textRepairs = (record.textRepairs ?? 0) + repairs.count;
  const id = await db.transaction(async (tx) => {
    const values = {
      fileId: record.fileId,
      pythonKey: record.pythonKey,
      method: record.method,
      extractorVersion: record.extractorVersion,
      status: record.status,
      failureCode: record.failureCode ?? null,
      log,
      textRepairs,
      buildProvenance: record.buildProvenance ?? null,
      bytesTransferred: record.bytesTransferred ?? null,
      requests: record.requests ?? null,
      startedAt: record.startedAt,
      finishedAt: new Date(),
    };
    const [row] = await tx
      .insert(extractions)
      .values(values)
      .onConflictDoUpdate({
        target: [extractions.fileId, extractions.pythonKey, extractions.method, extractions.extractorVersion],
        set: values,
      })
      .returning({ id: extractions.id });
    if (!row) throw invariantError('upsert of extraction returned nothing');
    if (!JOB_FAILURE_METHODS.includes(record.method)) {
      // A result of a real run (ok, or a per-Python failure) supersedes the record that the
      // job for this file had failed for good or was waiting for a sandbox (method
      // `wheel`/`sdist`): a re-crawl that now works leaves no stale failure behind.
      await tx
        .delete(extractions)
        .where(
          and(
            eq(extractions.fileId, record.fileId),
            eq(extractions.extractorVersion, record.extractorVersion),
            eq(extractions.pythonKey, 'any'),
            inArray(extractions.status, ['failed', 'waiting']),
            inArray(extractions.method, JOB_FAILURE_METHODS),
          ),
        );
    }
    if (record.status !== 'waiting') {
      // The file has a result from this version now (the marker reconcile pages by).
      await tx
        .update(files)
        .set({ resultVersion: record.extractorVersion })
        .where(
          and(
            eq(files.id, record.fileId),
            sql`${files.resultVersion} IS DISTINCT FROM ${record.extractorVersion}`,
          ),
        );
    }
    // The file's project publishes something else now (its snapshot entries are not reusable).
    await tx
      .update(projects)
      .set({ changeSeq: NEXT_CHANGE_SEQ })
      .where(sql`${projects.id} = (SELECT project_id FROM files WHERE id = ${record.fileId})`);
    await tx.delete(requirements).where(eq(requirements.extractionId, row.id));
    for (let i = 0; i < rows.length; i += 500) {
      await tx
        .insert(requirements)
        .values(rows.slice(i, i + 500).map((r, j) => ({ extractionId: row.id, position: i + j, ...r })));
    }
    return row.id;
  });
  return { id, textRepairs };
}

export interface WheelToRead {
  fileId: number;
  filename: string;
  url: string;
  sha256: string;
  size: number | null;
  hasCoreMetadata: boolean;
  coreMetadataSha256: string | null;
}

/** The columns a wheel or sdist job reads its file by. */
const FILE_TO_READ = {
  fileId: files.id,
  filename: files.filename,
  url: files.url,
  sha256: files.sha256,
  size: files.size,
  hasCoreMetadata: files.hasCoreMetadata,
  coreMetadataSha256: files.coreMetadataSha256,
};

/** Current wheels of a project that have no result yet from this extractor version. */
export function wheelsWithoutMetadata(
  db: Db,
  projectName: string,
  extractorVersion: string,
): Promise<WheelToRead[]> {
  return filesWithoutResult(db, 'bdist_wheel', projectName, extractorVersion);
}

/** Current sdists of a project that have no result yet from this extractor version. */
export function sdistsWithoutDependencies(
  db: Db,
  projectName: string,
  extractorVersion: string,
): Promise<WheelToRead[]> {
  return filesWithoutResult(db, 'sdist', projectName, extractorVersion);
}

/**
 * A file (of `files`) that has no result at all from this extractor version. Waiting for a
 * sandbox is not a result: such a file is work still to do. Written as a probe of each file (a
 * subquery with LIMIT is never turned into an anti-join): as NOT EXISTS the planner may merge
 * the files with the whole extractions index, which has no leading extractor_version, and read
 * all of it (at PyPI's size, after an extractor upgrade, on every page of reconcile).
 * `fileId`: the file's id in the enclosing query (`files.id` unless the files are read otherwise).
 */
export function hasNoResult(extractorVersion: string, fileId: SQL = sql`${files.id}`) {
  return sql`(SELECT 1 FROM extractions e WHERE e.file_id = ${fileId}
              AND e.extractor_version = ${extractorVersion} AND e.status <> 'waiting' LIMIT 1) IS NULL`;
}

/** Whether the file's last job ended waiting for a sandbox (its setup.py has to run). */
export async function isWaitingForSandbox(
  db: Db,
  fileId: number,
  extractorVersion: string,
): Promise<boolean> {
  const rows = await db
    .select({ id: extractions.id })
    .from(extractions)
    .where(
      and(
        eq(extractions.fileId, fileId),
        eq(extractions.extractorVersion, extractorVersion),
        eq(extractions.status, 'waiting'),
        // a Python this machine has no interpreter of is not a wait for a sandbox
        sql`${extractions.failureCode} IS DISTINCT FROM 'python-unavailable'`,
      ),
    )
    .limit(1);
  return rows.length > 0;
}

/**
 * The project's current files of one type without a result from this version. The project's
 * files are read once by its id (MATERIALIZED), then filtered: the plan cannot depend on
 * statistics. As one WHERE over `files`, a planner without statistics (a new database, or
 * autovacuum off or behind during a backfill) ANDed the project's rows with
 * `files_current_type_idx`, every current sdist of the index: 44 ms a project at 326,000 sdists,
 * growing with the table (`pnpm bench backfill`, docs/benchmarks.md).
 */
async function filesWithoutResult(
  db: Db,
  packagetype: string,
  projectName: string,
  extractorVersion: string,
): Promise<WheelToRead[]> {
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`WITH pf AS MATERIALIZED (
        SELECT id, filename, url, sha256, size, has_core_metadata, core_metadata_sha256, packagetype, removed
          FROM files WHERE project_id = (SELECT id FROM projects WHERE name = ${projectName}))
      SELECT id, filename, url, sha256, size, has_core_metadata, core_metadata_sha256 FROM pf
       WHERE packagetype = ${packagetype} AND NOT removed
         AND ${hasNoResult(extractorVersion, sql`pf.id`)}
       ORDER BY id`),
  );
  return rows.map((r) => ({
    fileId: Number(r.id),
    filename: r.filename as string,
    url: r.url as string,
    sha256: r.sha256 as string,
    size: r.size === null ? null : Number(r.size),
    hasCoreMetadata: r.has_core_metadata as boolean,
    coreMetadataSha256: (r.core_metadata_sha256 as string | null) ?? null,
  }));
}

/** One file by its sha256 and file name (the subject of a wheel or sdist job). */
export async function fileBySha256(
  db: Db,
  sha256: string,
  filename: string,
): Promise<WheelToRead | undefined> {
  const [row] = await db
    .select(FILE_TO_READ)
    .from(files)
    .where(and(eq(files.sha256, sha256), eq(files.filename, filename)));
  return row;
}

export interface FileDependencies {
  filename: string;
  version: string;
  packagetype: string;
  pythonVersion: string;
  removed: boolean;
  extractions: Array<{
    pythonKey: string;
    method: string;
    status: 'ok' | 'failed' | 'waiting';
    failureCode: string | null;
    log: string | null;
    /** See `SavedExtraction.textRepairs`: 0 for clean text. */
    textRepairs: number;
    bytesTransferred: number | null;
    requests: number | null;
    /** See `BuildProvenance`: null when no build dependency was used. */
    buildProvenance?: BuildProvenance | null;
    requirements: RequirementRow[];
  }>;
}

/** Every extraction of a project's files (optionally one version), with its requirements. */
export async function projectDependencies(
  db: Db,
  projectName: string,
  version?: string,
): Promise<FileDependencies[]> {
  const result = await db.execute(sql`
    SELECT f.filename, f.version, f.packagetype, f.python_version, f.removed,
           e.id AS extraction_id, e.python_key, e.method, e.status, e.failure_code, e.log,
           e.text_repairs, e.bytes_transferred, e.requests, e.build_provenance,
           r.kind, r.extra, r.requirement, r.name AS req_name, r.specifier, r.marker
    FROM files f
    JOIN projects p ON p.id = f.project_id
    JOIN extractions e ON e.file_id = f.id
    LEFT JOIN requirements r ON r.extraction_id = e.id
    WHERE p.name = ${projectName} AND (${version ?? null}::text IS NULL OR f.version = ${version ?? null})
    ORDER BY f.upload_time NULLS LAST, f.filename, e.python_key, e.method, r.position`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<
    Record<string, unknown>
  >;
  const byFile = new Map<string, FileDependencies>();
  const byExtraction = new Map<string, FileDependencies['extractions'][number]>();
  for (const r of rows) {
    const filename = r.filename as string;
    let file = byFile.get(filename);
    if (!file) {
      file = {
        filename,
        version: r.version as string,
        packagetype: r.packagetype as string,
        pythonVersion: r.python_version as string,
        removed: r.removed as boolean,
        extractions: [],
      };
      byFile.set(filename, file);
    }
    const key = String(r.extraction_id);
    let ex = byExtraction.get(key);
    if (!ex) {
      ex = {
        pythonKey: r.python_key as string,
        method: r.method as string,
        status: r.status as 'ok' | 'failed' | 'waiting',
        failureCode: (r.failure_code as string | null) ?? null,
        log: (r.log as string | null) ?? null,
        textRepairs: Number(r.text_repairs ?? 0),
        bytesTransferred: r.bytes_transferred === null ? null : Number(r.bytes_transferred),
        requests: r.requests === null ? null : Number(r.requests),
        buildProvenance: (typeof r.build_provenance === 'string'
          ? JSON.parse(r.build_provenance)
          : (r.build_provenance ?? null)) as BuildProvenance | null,
        requirements: [],
      };
      byExtraction.set(key, ex);
      file.extractions.push(ex);
    }
    if (r.kind !== null && r.kind !== undefined) {
      ex.requirements.push({
        kind: r.kind as RequirementKind,
        extra: r.extra as string | null,
        requirement: r.requirement as string,
        name: r.req_name as string | null,
        specifier: r.specifier as string | null,
        marker: r.marker as string | null,
      });
    }
  }
  return [...byFile.values()];
}
