// A bulk writer for the state a crawl leaves behind (issue 9): benchmarks at PyPI's size need
// 10 million files in the database, which no crawl on one machine produces in the time a
// benchmark has. Rows arrive fully formed (ids included) and go in with COPY, one stream per
// table on its own connection, so the producer and PostgreSQL work at the same time.
import { internalError } from '@pypi-graph/core';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RECOUNT_ALL_PROJECTS } from './projects';

export interface BulkProject {
  id: number;
  /** PEP 503 name. */
  name: string;
  displayName: string;
  machnixName: string;
  bucket: string;
  lastSerial: number;
  removed: boolean;
  removedAt: Date | null;
  crawledAt: Date | null;
}

export interface BulkRelease {
  id: number;
  projectId: number;
  version: string;
  yanked: boolean;
  yankedReason: string | null;
  removed: boolean;
  removedAt: Date | null;
}

export interface BulkFile {
  id: number;
  filename: string;
  projectId: number;
  releaseId: number;
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
  coreMetadataSha256: string | null;
  hasCoreMetadata: boolean;
  removed: boolean;
  removedAt: Date | null;
  firstSeenAt: Date;
  /** files.result_version: the extractor version of its result (not `waiting`), or null. */
  resultVersion: string | null;
}

export interface BulkChangelog {
  serial: number;
  time: Date;
  name: string;
  version: string | null;
  action: string;
}

export interface BulkExtraction {
  id: number;
  fileId: number;
  pythonKey: string;
  method: string;
  extractorVersion: string;
  status: 'ok' | 'failed';
  failureCode: string | null;
  log: string | null;
  bytesTransferred: number | null;
  requests: number | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface BulkRequirement {
  id: number;
  extractionId: number;
  position: number;
  kind: 'install' | 'setup' | 'test' | 'extra' | 'python' | 'provides-extra' | 'external';
  extra: string | null;
  requirement: string;
  name: string | null;
  specifier: string | null;
  marker: string | null;
}

export interface BulkRows {
  projects: BulkProject;
  releases: BulkRelease;
  files: BulkFile;
  changelog: BulkChangelog;
  extractions: BulkExtraction;
  requirements: BulkRequirement;
}

export type BulkTable = keyof BulkRows;

export interface BulkWriter {
  /**
   * Queues one row. Returns a promise when that table's stream is full: await it before the
   * next write (memory stays bounded); `undefined` otherwise, so a tight loop pays nothing.
   */
  write<T extends BulkTable>(table: T, row: BulkRows[T]): Promise<void> | undefined;
}

export interface BulkLoadOptions {
  /** The `changelog` high-water mark to record in `crawl_state` (what a crawl would have reached). */
  changelogSerial?: number;
  /** VACUUM (FREEZE, ANALYZE) afterwards, as autovacuum would have left a database built over years. */
  vacuum?: boolean;
}

export interface BulkLoadResult {
  rows: Record<BulkTable, number>;
}

// COPY's text format: tab-separated, `\N` for null, backslash escapes.
const NEEDS_ESCAPE = /[\\\t\n\r]/;
function text(value: string | null): string {
  if (value === null) return '\\N';
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}
const num = (n: number | null) => (n === null ? '\\N' : String(n));
const bool = (b: boolean) => (b ? 't' : 'f');
const time = (d: Date | null) => (d === null ? '\\N' : d.toISOString());

const TABLES: { [T in BulkTable]: { columns: string; line: (r: BulkRows[T]) => string } } = {
  projects: {
    columns:
      'id, name, display_name, machnix_name, bucket, last_serial, removed, removed_at, crawled_at, change_seq',
    line: (r) =>
      `${r.id}\t${text(r.name)}\t${text(r.displayName)}\t${text(r.machnixName)}\t${r.bucket}\t${r.lastSerial}\t${bool(r.removed)}\t${time(r.removedAt)}\t${time(r.crawledAt)}\t0\n`,
  },
  releases: {
    columns: 'id, project_id, version, yanked, yanked_reason, removed, removed_at',
    line: (r) =>
      `${r.id}\t${r.projectId}\t${text(r.version)}\t${bool(r.yanked)}\t${text(r.yankedReason)}\t${bool(r.removed)}\t${time(r.removedAt)}\n`,
  },
  files: {
    columns:
      'id, filename, project_id, release_id, version, packagetype, python_version, url, sha256, size, upload_time, requires_python, yanked, yanked_reason, core_metadata_sha256, has_core_metadata, removed, removed_at, first_seen_at, result_version',
    line: (r) =>
      `${r.id}\t${text(r.filename)}\t${r.projectId}\t${r.releaseId}\t${text(r.version)}\t${text(r.packagetype)}\t${text(r.pythonVersion)}\t${text(r.url)}\t${r.sha256}\t${num(r.size)}\t${time(r.uploadTime)}\t${text(r.requiresPython)}\t${bool(r.yanked)}\t${text(r.yankedReason)}\t${text(r.coreMetadataSha256)}\t${bool(r.hasCoreMetadata)}\t${bool(r.removed)}\t${time(r.removedAt)}\t${time(r.firstSeenAt)}\t${text(r.resultVersion)}\n`,
  },
  changelog: {
    columns: 'serial, time, name, version, action',
    line: (r) => `${r.serial}\t${time(r.time)}\t${text(r.name)}\t${text(r.version)}\t${text(r.action)}\n`,
  },
  extractions: {
    columns:
      'id, file_id, python_key, method, extractor_version, status, failure_code, log, bytes_transferred, requests, started_at, finished_at',
    line: (r) =>
      `${r.id}\t${r.fileId}\t${text(r.pythonKey)}\t${text(r.method)}\t${text(r.extractorVersion)}\t${r.status}\t${text(r.failureCode)}\t${text(r.log)}\t${num(r.bytesTransferred)}\t${num(r.requests)}\t${time(r.startedAt)}\t${time(r.finishedAt)}\n`,
  },
  requirements: {
    columns: 'id, extraction_id, position, kind, extra, requirement, name, specifier, marker',
    line: (r) =>
      `${r.id}\t${r.extractionId}\t${r.position}\t${r.kind}\t${text(r.extra)}\t${text(r.requirement)}\t${text(r.name)}\t${text(r.specifier)}\t${text(r.marker)}\n`,
  },
};

const TABLE_NAMES = Object.keys(TABLES) as BulkTable[];
/** Tables whose id comes from a sequence the loader must move past the ids it wrote. */
const SEQUENCES = ['projects', 'releases', 'files', 'extractions', 'requirements'] as const;
const FLUSH_CHARS = 1 << 20;

interface Stream {
  client: pg.Client;
  copy: ReturnType<typeof copyFrom>;
  buffer: string;
  rows: number;
  done: Promise<void>;
}

/**
 * Writes a crawl's state into an EMPTY PostgreSQL database (migrated, no project, release, file,
 * changelog row or extraction yet: anything else is refused, so it cannot mix with real data).
 * `fill` writes every row through the writer; ids are the caller's and must be consistent (each
 * row's references exist): foreign keys are not checked during the load (session_replication_role
 * = replica, which needs a superuser), as a pg_restore would not check them either. Afterwards the
 * id sequences are moved past the highest id and `crawl_state` records `changelogSerial`.
 * PostgreSQL only: PGlite has no COPY from a client stream.
 */
export async function bulkLoad(
  databaseUrl: string,
  fill: (writer: BulkWriter) => Promise<void>,
  options: BulkLoadOptions = {},
): Promise<BulkLoadResult> {
  const admin = new pg.Client({ connectionString: databaseUrl, application_name: 'pypi-graph bulk' });
  await admin.connect();
  const streams = new Map<BulkTable, Stream>();
  try {
    const counts = await admin.query<{ t: string }>(
      `SELECT t FROM (VALUES ${TABLE_NAMES.map((t) => `('${t}', EXISTS (SELECT 1 FROM ${t}))`).join(', ')}) v(t, has) WHERE has`,
    );
    if (counts.rows.length > 0) {
      throw internalError(
        `bulk load needs empty tables; ${counts.rows.map((r) => r.t).join(', ')} already hold rows`,
        { hint: 'load into a new database (createdb, then pnpm migrate)' },
      );
    }
    for (const table of TABLE_NAMES) {
      const client = new pg.Client({
        connectionString: databaseUrl,
        application_name: `pypi-graph bulk ${table}`,
      });
      await client.connect();
      await client.query('BEGIN');
      await client.query('SET LOCAL session_replication_role = replica');
      const copy = client.query(copyFrom(`COPY ${table} (${TABLES[table].columns}) FROM STDIN`));
      const done = new Promise<void>((resolve, reject) => {
        copy.on('finish', resolve);
        copy.on('error', reject);
      });
      // Reported by `done` when the stream ends; a rejection must not go unhandled meanwhile.
      done.catch(() => {});
      streams.set(table, { client, copy, buffer: '', rows: 0, done });
    }

    const flush = (s: Stream): Promise<void> | undefined => {
      const chunk = s.buffer;
      s.buffer = '';
      if (s.copy.write(chunk)) return undefined;
      return new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        s.copy.once('error', onError);
        s.copy.once('drain', () => {
          s.copy.off('error', onError);
          resolve();
        });
      });
    };
    const writer: BulkWriter = {
      write(table, row) {
        const s = streams.get(table)!;
        s.buffer += (TABLES[table].line as (r: typeof row) => string)(row);
        s.rows++;
        return s.buffer.length >= FLUSH_CHARS ? flush(s) : undefined;
      },
    };
    await fill(writer);
    for (const s of streams.values()) {
      if (s.buffer.length > 0) await flush(s);
      s.copy.end();
    }
    for (const s of streams.values()) await s.done;
    for (const s of streams.values()) await s.client.query('COMMIT');

    for (const table of SEQUENCES) {
      await admin.query(
        `SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT MAX(id) FROM ${table}), 1))`,
      );
    }
    if (options.changelogSerial !== undefined) {
      await admin.query(
        `INSERT INTO crawl_state (key, serial) VALUES ('changelog', $1)
         ON CONFLICT (key) DO UPDATE SET serial = GREATEST(crawl_state.serial, excluded.serial), updated_at = now()`,
        [options.changelogSerial],
      );
    }
    // The counts `status` reads (migration 0014), which a crawl keeps as it saves: COPY does not.
    await admin.query(RECOUNT_ALL_PROJECTS);
    await admin.query(
      `INSERT INTO store_totals (key, value) SELECT 'changelog_rows', count(*) FROM changelog
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
    if (options.vacuum) {
      await admin.query(`VACUUM (FREEZE, ANALYZE) ${TABLE_NAMES.join(', ')}`);
    }
    return {
      rows: Object.fromEntries(TABLE_NAMES.map((t) => [t, streams.get(t)!.rows])) as Record<
        BulkTable,
        number
      >,
    };
  } finally {
    for (const s of streams.values()) await s.client.end().catch(() => {});
    await admin.end();
  }
}
