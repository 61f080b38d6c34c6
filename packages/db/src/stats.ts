import { sql } from 'drizzle-orm';
import type { Database, Db } from './connection';
import { sandboxChecks, snapshots } from './schema';

/** The rows of a raw `db.execute`: node-postgres gives `{ rows }`, PGlite an array. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

export interface StoreCounts {
  projects: number;
  projectsRemoved: number;
  releases: number;
  /** Current releases with a current sdist or wheel: what a snapshot's `pypi/` can list. */
  releasesWithFiles: number;
  files: number;
  filesRemoved: number;
  changelogRows: number;
}

/**
 * What is stored, from the counts kept beside it (migration 0014): a sum over the project rows
 * and the changelog's kept total. Its cost follows the number of projects (737,000 at PyPI's
 * size), not of files or changelog rows; `storeCountsByScan` gives the same figures from the
 * whole tables.
 */
export async function storeCounts(db: Db): Promise<StoreCounts> {
  const [row] = rowsOf<Record<string, string | number | null>>(
    await db.execute(sql`SELECT count(*) FILTER (WHERE NOT removed) AS projects,
        count(*) FILTER (WHERE removed) AS projects_removed,
        sum(releases_current) AS releases,
        sum(releases_with_files) FILTER (WHERE NOT removed) AS releases_with_files,
        sum(files_current) AS files,
        sum(files_removed) AS files_removed,
        (SELECT value FROM store_totals WHERE key = 'changelog_rows') AS changelog_rows
      FROM projects`),
  );
  return countsOf(row);
}

/**
 * The same figures counted from the whole tables (at PyPI's size 13.6 s: `files` alone is 10
 * million rows). The tests check that the kept counts equal these after every kind of change.
 */
export async function storeCountsByScan(db: Db): Promise<StoreCounts> {
  const [row] = rowsOf<Record<string, string | number | null>>(
    await db.execute(sql`SELECT p.projects, p.projects_removed, r.releases, f.files, f.files_removed,
        (SELECT count(DISTINCT f.release_id) FROM files f
           JOIN releases r ON r.id = f.release_id AND NOT r.removed
           JOIN projects p ON p.id = f.project_id AND NOT p.removed
           WHERE NOT f.removed AND f.packagetype IN ('sdist', 'bdist_wheel')) AS releases_with_files,
        (SELECT count(*) FROM changelog) AS changelog_rows
      FROM (SELECT count(*) FILTER (WHERE NOT removed) AS projects, count(*) FILTER (WHERE removed) AS projects_removed FROM projects) p,
           (SELECT count(*) FILTER (WHERE NOT removed) AS releases FROM releases) r,
           (SELECT count(*) FILTER (WHERE NOT removed) AS files, count(*) FILTER (WHERE removed) AS files_removed FROM files) f`),
  );
  return countsOf(row);
}

function countsOf(row: Record<string, string | number | null> | undefined): StoreCounts {
  const n = (k: string) => Number(row?.[k] ?? 0);
  return {
    projects: n('projects'),
    projectsRemoved: n('projects_removed'),
    releases: n('releases'),
    releasesWithFiles: n('releases_with_files'),
    files: n('files'),
    filesRemoved: n('files_removed'),
    changelogRows: n('changelog_rows'),
  };
}

/**
 * Failures by code with one example each, projects and extractions together. Extraction failures
 * are counted from `extractions_failure_id_idx` alone; their example is the code's first failure
 * by id, so the cost does not grow with the number of failures (millions at PyPI's size: every
 * Python-3-only sdist fails under 2.7). Of a project's and an extraction's example, the smaller
 * string is shown.
 */
export async function failuresByCode(
  db: Db,
): Promise<Array<{ code: string; count: number; example: string }>> {
  const rows = rowsOf<{ code: string; count: string | number; example: string }>(
    await db.execute(sql`
      WITH by_code AS (
        SELECT failure_code AS code, count(*) AS count, min(display_name || ': ' || coalesce(failure_message, '')) AS example
          FROM projects WHERE failure_code IS NOT NULL GROUP BY failure_code
        UNION ALL
        SELECT c.code, c.count,
               (SELECT f.filename || ' [' || e.python_key || ']: ' || coalesce(e.log, '')
                  FROM extractions e JOIN files f ON f.id = e.file_id
                  WHERE e.status = 'failed' AND e.failure_code = c.code ORDER BY e.id LIMIT 1)
          FROM (SELECT failure_code AS code, count(*) AS count FROM extractions
                WHERE status = 'failed' GROUP BY failure_code) c)
      SELECT code, sum(count) AS count, min(example) AS example FROM by_code
      GROUP BY code ORDER BY sum(count) DESC, code`),
  );
  return rows.map((r) => ({ code: r.code, count: Number(r.count), example: r.example.slice(0, 200) }));
}

export type SnapshotRow = typeof snapshots.$inferInsert;

export async function recordSnapshot(db: Db, row: SnapshotRow): Promise<void> {
  await db
    .insert(snapshots)
    .values(row)
    .onConflictDoUpdate({ target: snapshots.id, set: { path: row.path, createdAt: new Date() } });
}

export async function latestSnapshot(db: Db): Promise<typeof snapshots.$inferSelect | undefined> {
  const rows = await db.select().from(snapshots).orderBy(sql`${snapshots.createdAt} DESC`).limit(1);
  return rows[0];
}

export interface CrawlSummary {
  projectsCrawled: number;
  projectsRemoved: number;
  filesAdded: number;
  filesRemoved: number;
  /** Projects whose crawl failed for good since the start (their files were not read). */
  projectsFailed: number;
  /** Files with at least one successful extraction since the start. */
  filesRead: number;
  /**
   * Successful extractions since the start, by method (`pep658`, `range`, `download`, …):
   * `count` results (setup.py gives one per sdist and Python version), from `files` files.
   */
  extractions: Array<{ method: string; count: number; files: number }>;
  /** Project failures and failed extractions since the start, by code. */
  failures: Array<{ code: string; count: number }>;
  /** Files whose work could not be done here (no sandbox for their setup.py), by code: not failures. */
  notRunHere: Array<{ code: string; count: number }>;
}

/** What changed in the store since `start` (the beginning of a crawl), whichever runner did it. */
export async function crawlSummary(db: Db, start: Date): Promise<CrawlSummary> {
  const [row] = rowsOf<Record<string, string | number>>(
    await db.execute(sql`SELECT
      (SELECT count(*) FROM projects WHERE crawled_at >= ${start}) AS crawled,
      (SELECT count(*) FROM projects WHERE removed AND removed_at >= ${start}) AS projects_removed,
      (SELECT count(*) FROM files WHERE first_seen_at >= ${start}) AS added,
      (SELECT count(*) FROM files WHERE removed AND removed_at >= ${start}) AS removed,
      (SELECT count(*) FROM projects WHERE failure_code IS NOT NULL AND failed_at >= ${start}) AS projects_failed,
      (SELECT count(DISTINCT file_id) FROM extractions WHERE status = 'ok' AND finished_at >= ${start}) AS files_read`),
  );
  const failures = rowsOf<{ code: string; count: string | number }>(
    await db.execute(sql`SELECT code, count(*) AS count FROM (
        SELECT failure_code AS code FROM projects WHERE failure_code IS NOT NULL AND failed_at >= ${start}
        UNION ALL
        SELECT failure_code FROM extractions WHERE status = 'failed' AND finished_at >= ${start}
      ) x GROUP BY code ORDER BY code`),
  );
  const notRunHere = rowsOf<{ code: string; count: string | number }>(
    await db.execute(sql`SELECT failure_code AS code, count(DISTINCT file_id) AS count FROM extractions
      WHERE status = 'waiting' AND finished_at >= ${start} GROUP BY failure_code ORDER BY failure_code`),
  );
  const extractions = rowsOf<{ method: string; count: string | number; files: string | number }>(
    await db.execute(sql`SELECT method, count(*) AS count, count(DISTINCT file_id) AS files FROM extractions
      WHERE status = 'ok' AND finished_at >= ${start} GROUP BY method ORDER BY method`),
  );
  return {
    projectsCrawled: Number(row?.crawled ?? 0),
    projectsRemoved: Number(row?.projects_removed ?? 0),
    filesAdded: Number(row?.added ?? 0),
    filesRemoved: Number(row?.removed ?? 0),
    projectsFailed: Number(row?.projects_failed ?? 0),
    filesRead: Number(row?.files_read ?? 0),
    extractions: extractions.map((e) => ({
      method: e.method,
      count: Number(e.count),
      files: Number(e.files),
    })),
    failures: failures.map((f) => ({ code: f.code, count: Number(f.count) })),
    notRunHere: notRunHere.map((f) => ({ code: f.code, count: Number(f.count) })),
  };
}

/**
 * Up to `limit` projects crawled since `since` that are worth a look with `pnpm pypi-graph show`:
 * those with the most dependency results first (then by name), removed ones left out.
 */
export async function projectsToShow(db: Db, since: Date, limit: number): Promise<string[]> {
  const rows = rowsOf<{ display_name: string }>(
    await db.execute(sql`SELECT p.display_name FROM projects p
      LEFT JOIN files f ON f.project_id = p.id AND NOT f.removed
      LEFT JOIN extractions e ON e.file_id = f.id AND e.status = 'ok'
      WHERE p.crawled_at >= ${since} AND NOT p.removed
      GROUP BY p.id, p.display_name, p.name
      ORDER BY count(DISTINCT e.method) DESC, count(e.id) DESC, p.name
      LIMIT ${limit}`),
  );
  return rows.map((r) => r.display_name);
}

/**
 * VACUUM of `projects` before a snapshot (PostgreSQL; PGlite is left alone), so that every
 * bucket's tokens come from the index alone (`projects_bucket_token_idx`, migration 0016): an
 * index-only scan reads the table's page for each row on a page changed since the last vacuum.
 * After a day's crawl at PyPI's size (6,600 of 737,000 projects changed) 43 % of a bucket's rows
 * were on changed pages: 45 ms a bucket, against 3 ms with the table vacuumed. VACUUM reads only what changed
 * since the last one (the visibility map tells it). Returns its duration in milliseconds, or
 * undefined when not run.
 */
export async function vacuumForSnapshot(
  database: Pick<Database, 'db' | 'kind'>,
): Promise<number | undefined> {
  if (database.kind !== 'postgres') return undefined;
  const started = performance.now();
  await database.db.execute(sql`VACUUM projects`);
  return Math.round(performance.now() - started);
}

/** The tables a snapshot reads, whose planner statistics its plans depend on. */
const SNAPSHOT_TABLES = ['projects', 'releases', 'files', 'extractions', 'requirements'] as const;

/**
 * Share of a table's rows changed since its last ANALYZE above which a snapshot analyzes it
 * first (plus {@link ANALYZE_BASE} rows, as autovacuum counts).
 */
const ANALYZE_SCALE = 0.02;
const ANALYZE_BASE = 50;

/**
 * Refreshes the planner statistics of the tables a snapshot reads that need it: a table never
 * analyzed, or changed by more than {@link ANALYZE_SCALE} of its rows since it was (by this, a
 * VACUUM ANALYZE or autovacuum; PostgreSQL's own counters). Without statistics each of the 256
 * bucket queries scans all of `files` (measured at 100,000 files: `pnpm snapshot` took 89 s
 * before and 5 s after, same bytes); with them, a day's changes (a tenth of a percent at PyPI's
 * size) change no plan, and analyzing anyway cost seconds per snapshot (ANALYZE samples every
 * table). Returns the tables analyzed. A table the counters do not list (statistics reset) is
 * analyzed; so is every table on PGlite, whose single-user backend does not keep the counters up
 * to date (measured: 500 rows inserted, `n_mod_since_analyze` 0).
 */
export async function analyzeForSnapshot(database: Pick<Database, 'db' | 'kind'>): Promise<string[]> {
  const { db } = database;
  const fresh = new Set<string>();
  if (database.kind === 'postgres') {
    const rows = rowsOf<{ relname: string; analyzed: boolean; mods: string | number; live: string | number }>(
      await db.execute(sql`SELECT relname,
          (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS analyzed,
          n_mod_since_analyze AS mods, n_live_tup AS live
        FROM pg_stat_user_tables
        WHERE schemaname = current_schema() AND relname IN ${[...SNAPSHOT_TABLES]}`),
    );
    for (const row of rows) {
      if (row.analyzed && Number(row.mods) <= ANALYZE_BASE + ANALYZE_SCALE * Number(row.live)) {
        fresh.add(row.relname);
      }
    }
  }
  const tables = SNAPSHOT_TABLES.filter((t) => !fresh.has(t));
  if (tables.length > 0) await db.execute(sql.raw(`ANALYZE ${tables.join(', ')}`));
  return tables;
}

export interface SandboxCheckRow {
  /** `host:pid` of the process that checked. */
  worker: string;
  state: 'proven' | 'unavailable';
  reason: string | null;
  checkedAt: Date;
}

/** Records a process's latest sandbox check (`pnpm status` lists them). */
export async function recordSandboxCheck(db: Db, row: Omit<SandboxCheckRow, 'checkedAt'>): Promise<void> {
  const values = { ...row, reason: row.reason?.slice(0, 2000) ?? null, checkedAt: new Date() };
  await db
    .insert(sandboxChecks)
    .values(values)
    .onConflictDoUpdate({ target: sandboxChecks.worker, set: values });
}

/** The latest sandbox checks, newest first, and the current sdists waiting for a sandbox. */
export async function sandboxOverview(
  db: Db,
  extractorVersion: string,
  limit = 5,
): Promise<{ checks: SandboxCheckRow[]; waiting: number }> {
  const checks = await db
    .select()
    .from(sandboxChecks)
    .orderBy(sql`${sandboxChecks.checkedAt} DESC`)
    .limit(limit);
  const [row] = rowsOf<{ waiting: string | number }>(
    await db.execute(sql`SELECT count(DISTINCT e.file_id) AS waiting FROM extractions e
      JOIN files f ON f.id = e.file_id
      WHERE e.status = 'waiting' AND e.failure_code IS DISTINCT FROM 'python-unavailable'
        AND e.extractor_version = ${extractorVersion} AND NOT f.removed`),
  );
  return { checks, waiting: Number(row?.waiting ?? 0) };
}
