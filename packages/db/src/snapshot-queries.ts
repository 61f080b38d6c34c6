import { sql } from 'drizzle-orm';
import type { Db } from './connection';

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

/**
 * Current (not removed) sdists and wheels of the projects in one bucket, grouped by project,
 * releases and files in upload order (FORMATS.md: "versions and files in PyPI's upload order";
 * ties broken by version string and file name so that the order is total).
 */
export async function pypiBucket(db: Db, bucket: string): Promise<PypiProjectRows[]> {
  const result = await db.execute(sql`
    SELECT p.display_name AS name, p.id AS project_id, r.version AS version,
           f.filename, f.packagetype, f.python_version, f.sha256, f.upload_time,
           MIN(f.upload_time) OVER (PARTITION BY f.release_id) AS release_time
    FROM projects p
    JOIN files f ON f.project_id = p.id AND NOT f.removed
    JOIN releases r ON r.id = f.release_id AND NOT r.removed
    WHERE p.bucket = ${bucket} AND NOT p.removed
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
 * event up to it — the data's age, which mach-nix compares with nixpkgs (FORMATS.md §B4).
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
