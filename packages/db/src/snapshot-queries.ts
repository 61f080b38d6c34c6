import { sql } from 'drizzle-orm';
import type { Db } from './connection';
import { pgArrayLiteral } from './text';

export interface PypiFileRow {
  filename: string;
  packagetype: string;
  pythonVersion: string;
  sha256Hex: string;
  uploadTime: Date | null;
}

export interface PypiProjectRows {
  name: string;
  releases: Array<{ version: string; files: PypiFileRow[] }>;
}

function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** A json column: parsed by node-postgres already, a string from drivers that do not. */
function json<T>(value: T | string | null): T | null {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

/** A PostgreSQL text[] literal: every element double-quoted, `"` and `\` escaped. */
/** `AND p.machnix_name = ANY(keys)` when only some keys of the bucket are wanted. */
function onlyKeys(keys: readonly string[] | undefined) {
  return keys === undefined ? sql`` : sql`AND p.machnix_name = ANY(${pgArrayLiteral(keys)}::text[])`;
}

/**
 * Every `machnix_name` of a bucket with a token that changes whenever a write can have changed
 * what a snapshot publishes for it: the ids and `change_seq` of the projects with that name
 * (removed ones included, so a removal changes the token too).
 */
export async function bucketTokens(db: Db, bucket: string): Promise<Map<string, string>> {
  const result = await db.execute(sql`
    SELECT machnix_name AS key, string_agg(id || '.' || change_seq, ',' ORDER BY id) AS token
    FROM projects WHERE bucket = ${bucket} GROUP BY machnix_name`);
  return new Map(rowsOf<{ key: string; token: string }>(result).map((r) => [r.key, r.token]));
}

/**
 * Current (not removed) sdists and wheels of the projects in one bucket, grouped by project,
 * releases and files in upload order (docs/formats.md §A2: releases and files in upload order;
 * ties broken by version string and file name so that the order is total).
 */
export async function pypiBucket(
  db: Db,
  bucket: string,
  keys?: readonly string[],
): Promise<PypiProjectRows[]> {
  const result = await db.execute(sql`
    SELECT p.display_name AS name, p.id AS project_id, r.version AS version,
           f.filename, f.packagetype, f.python_version, f.sha256, f.upload_time,
           MIN(f.upload_time) OVER (PARTITION BY f.release_id) AS release_time
    FROM projects p
    JOIN files f ON f.project_id = p.id AND NOT f.removed
    JOIN releases r ON r.id = f.release_id AND NOT r.removed
    WHERE p.bucket = ${bucket} AND NOT p.removed ${onlyKeys(keys)}
      AND f.packagetype IN ('sdist', 'bdist_wheel')
    ORDER BY p.id, release_time NULLS LAST, r.version, f.upload_time NULLS LAST, f.filename`);
  const out: PypiProjectRows[] = [];
  let lastProject: number | undefined;
  let lastVersion: string | undefined;
  for (const row of rowsOf<{
    name: string;
    project_id: number | string;
    version: string;
    filename: string;
    packagetype: string;
    python_version: string;
    sha256: string;
    upload_time: Date | string | null;
  }>(result)) {
    const pid = Number(row.project_id);
    if (pid !== lastProject) {
      out.push({ name: row.name, releases: [] });
      lastProject = pid;
      lastVersion = undefined;
    }
    const project = out.at(-1)!;
    if (row.version !== lastVersion) {
      project.releases.push({ version: row.version, files: [] });
      lastVersion = row.version;
    }
    project.releases.at(-1)!.files.push({
      filename: row.filename,
      packagetype: row.packagetype,
      pythonVersion: row.python_version,
      sha256Hex: row.sha256,
      uploadTime: row.upload_time === null ? null : new Date(row.upload_time),
    });
  }
  return out;
}

/**
 * What a snapshot covers: the changelog serial (the crawl's high-water mark, or the highest
 * project serial when only named projects were crawled) and the time of the newest changelog
 * event up to it — the data's age, which mach-nix compares with nixpkgs (docs/formats.md §B4).
 */
export async function snapshotMeta(db: Db): Promise<{ serial: number; unixTimestamp: number }> {
  const result = await db.execute(sql`
    SELECT GREATEST(
             COALESCE((SELECT serial FROM crawl_state WHERE key = 'changelog'), 0),
             COALESCE((SELECT MAX(last_serial) FROM projects), 0)) AS serial`);
  const serial = Number(rowsOf<{ serial: number | string }>(result)[0]?.serial ?? 0);
  const t = await db.execute(sql`
    SELECT COALESCE(
             (SELECT EXTRACT(EPOCH FROM MAX(time)) FROM changelog WHERE serial <= ${serial}),
             (SELECT EXTRACT(EPOCH FROM MAX(upload_time)) FROM files WHERE NOT removed),
             0) AS ts`);
  const unixTimestamp = Math.floor(Number(rowsOf<{ ts: number | string }>(t)[0]?.ts ?? 0));
  return { serial, unixTimestamp };
}

export interface WheelRow {
  version: string;
  filename: string;
  pythonVersion: string;
  requiresDist: string[];
  requiresPython: string | null;
  providesExtras: string[];
  requiresExternal: string[];
}

export interface WheelProjectRows {
  name: string;
  wheels: WheelRow[];
}

/**
 * Current wheels of one bucket whose METADATA was read, with their dependency fields in METADATA
 * order. When several extractor versions succeeded, the highest version string wins, so the
 * choice depends on the stored state only.
 */
export async function wheelBucket(
  db: Db,
  bucket: string,
  keys?: readonly string[],
): Promise<WheelProjectRows[]> {
  const result = await db.execute(sql`
    WITH chosen AS (
      SELECT DISTINCT ON (f.id) f.id AS file_id, e.id AS extraction_id
      FROM projects p
      JOIN files f ON f.project_id = p.id AND NOT f.removed AND f.packagetype = 'bdist_wheel'
      JOIN releases rel ON rel.id = f.release_id AND NOT rel.removed
      JOIN extractions e ON e.file_id = f.id AND e.python_key = 'any' AND e.status = 'ok'
      WHERE p.bucket = ${bucket} AND NOT p.removed ${onlyKeys(keys)}
      ORDER BY f.id, e.extractor_version DESC, e.method, e.id)
    SELECT p.id AS project_id, p.display_name AS name, f.version, f.filename, f.python_version,
           (SELECT json_agg(json_build_array(r.kind, r.requirement) ORDER BY r.position)
              FROM requirements r WHERE r.extraction_id = c.extraction_id) AS reqs
    FROM chosen c
    JOIN files f ON f.id = c.file_id
    JOIN projects p ON p.id = f.project_id
    ORDER BY p.id, f.filename`);
  // One row per wheel, its requirement rows as one JSON array: far fewer rows to parse than one
  // per requirement (JSON.parse is native), same order.
  const out: WheelProjectRows[] = [];
  let lastProject: number | undefined;
  for (const row of rowsOf<{
    project_id: number | string;
    name: string;
    version: string;
    filename: string;
    python_version: string;
    reqs: Array<[string, string]> | string | null;
  }>(result)) {
    const pid = Number(row.project_id);
    if (pid !== lastProject) {
      out.push({ name: row.name, wheels: [] });
      lastProject = pid;
    }
    const wheel: WheelRow = {
      version: row.version,
      filename: row.filename,
      pythonVersion: row.python_version,
      requiresDist: [],
      requiresPython: null,
      providesExtras: [],
      requiresExternal: [],
    };
    out.at(-1)!.wheels.push(wheel);
    for (const [kind, requirement] of json<Array<[string, string]>>(row.reqs) ?? []) {
      if (kind === 'install') wheel.requiresDist.push(requirement);
      else if (kind === 'python') wheel.requiresPython = requirement;
      else if (kind === 'provides-extra') wheel.providesExtras.push(requirement);
      else if (kind === 'external') wheel.requiresExternal.push(requirement);
    }
  }
  return out;
}

export interface SdistExtractionRows {
  pythonKey: string;
  method: string;
  status: 'ok' | 'failed';
  failureCode: string | null;
  log: string | null;
  requirements: Array<{ kind: string; extra: string | null; requirement: string }>;
}

export interface SdistReleaseRows {
  version: string;
  filename: string;
  extractions: SdistExtractionRows[];
}

export interface SdistProjectRows {
  name: string;
  releases: SdistReleaseRows[];
}

/** The sdist suffixes the `pypi/` layout picks from, in order of preference (docs/formats.md §A2). */
const SDIST_PREFERENCE_SQL = sql`CASE
  WHEN f.filename LIKE '%tar.gz' THEN 0 WHEN f.filename LIKE '%.tgz' THEN 1
  WHEN f.filename LIKE '%.zip' THEN 2 WHEN f.filename LIKE '%.tar.bz2' THEN 3 ELSE 9 END`;

/**
 * For one bucket: per current release, the sdist the `pypi/` layout publishes (same preference,
 * same upload order), with every extraction of its newest extractor version and their rows.
 */
export async function sdistBucket(
  db: Db,
  bucket: string,
  keys?: readonly string[],
): Promise<SdistProjectRows[]> {
  const result = await db.execute(sql`
    WITH chosen AS (
      SELECT DISTINCT ON (f.release_id) f.id AS file_id, f.release_id
      FROM projects p
      JOIN files f ON f.project_id = p.id AND NOT f.removed AND f.packagetype = 'sdist'
      JOIN releases rel ON rel.id = f.release_id AND NOT rel.removed
      WHERE p.bucket = ${bucket} AND NOT p.removed ${onlyKeys(keys)} AND ${SDIST_PREFERENCE_SQL} < 9
      ORDER BY f.release_id, ${SDIST_PREFERENCE_SQL}, f.upload_time NULLS LAST, f.filename),
    newest AS (
      SELECT c.file_id, MAX(e.extractor_version) AS v
      FROM chosen c JOIN extractions e ON e.file_id = c.file_id AND e.status <> 'waiting'
      GROUP BY c.file_id)
    SELECT p.id AS project_id, p.display_name AS name, f.version, f.filename,
           (SELECT json_agg(json_build_array(e.python_key, e.method, e.status, e.failure_code, e.log,
                     (SELECT json_agg(json_build_array(r.kind, r.extra, r.requirement) ORDER BY r.position)
                        FROM requirements r WHERE r.extraction_id = e.id))
                   ORDER BY e.python_key, e.method, e.id)
              FROM extractions e -- waiting for a sandbox is no result: in neither sdist/ nor sdist-errors/
              WHERE e.file_id = f.id AND e.extractor_version = n.v AND e.status <> 'waiting') AS extractions
    FROM chosen c
    JOIN newest n ON n.file_id = c.file_id
    JOIN files f ON f.id = c.file_id
    JOIN projects p ON p.id = f.project_id
    ORDER BY p.id, f.version`);
  // One row per release's sdist, its extractions and their requirement rows as JSON.
  type Extraction = [
    string,
    string,
    'ok' | 'failed',
    string | null,
    string | null,
    Array<[string, string | null, string]> | null,
  ];
  const out: SdistProjectRows[] = [];
  let lastProject: number | undefined;
  for (const row of rowsOf<Record<string, unknown>>(result)) {
    const pid = Number(row.project_id);
    if (pid !== lastProject) {
      out.push({ name: row.name as string, releases: [] });
      lastProject = pid;
    }
    out.at(-1)!.releases.push({
      version: row.version as string,
      filename: row.filename as string,
      extractions: (json<Extraction[]>(row.extractions as string) ?? []).map(
        ([pythonKey, method, status, failureCode, log, reqs]) => ({
          pythonKey,
          method,
          status,
          failureCode,
          log,
          requirements: (reqs ?? []).map(([kind, extra, requirement]) => ({ kind, extra, requirement })),
        }),
      ),
    });
  }
  return out;
}
