// Drizzle mirror of migrations/*.sql (docs/architecture.md §4). The SQL files are the truth;
// packages/db/test/schema.test.ts checks that both agree column by column.
import {
  bigint,
  bigserial,
  boolean,
  char,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const id = () => bigserial('id', { mode: 'number' }).primaryKey();
const ref = (name: string) => bigint(name, { mode: 'number' });

export const projects = pgTable(
  'projects',
  {
    id: id(),
    name: text('name').notNull().unique(),
    displayName: text('display_name').notNull(),
    machnixName: text('machnix_name').notNull(),
    bucket: char('bucket', { length: 2 }).notNull(),
    lastSerial: bigint('last_serial', { mode: 'number' }).notNull().default(0),
    removed: boolean('removed').notNull().default(false),
    removedAt: ts('removed_at'),
    crawledAt: ts('crawled_at'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    failedAt: ts('failed_at'),
    /** From `project_change_seq`, bumped by every write that can change what a snapshot publishes. */
    changeSeq: bigint('change_seq', { mode: 'number' }).notNull().default(0),
    /** The project's own counts, kept with every change to it (migration 0014; `status` sums them). */
    releasesCurrent: integer('releases_current').notNull().default(0),
    releasesWithFiles: integer('releases_with_files').notNull().default(0),
    filesCurrent: integer('files_current').notNull().default(0),
    filesRemoved: integer('files_removed').notNull().default(0),
  },
  // INCLUDE (change_seq) is in migrations/0016_bucket_tokens.sql: drizzle's index builder has no
  // INCLUDE; the migrations, not this schema, create the database.
  (t) => [index('projects_bucket_token_idx').on(t.bucket, t.machnixName, t.id)],
);

export const releases = pgTable(
  'releases',
  {
    id: id(),
    projectId: ref('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    yanked: boolean('yanked').notNull().default(false),
    yankedReason: text('yanked_reason'),
    removed: boolean('removed').notNull().default(false),
    removedAt: ts('removed_at'),
  },
  (t) => [unique().on(t.projectId, t.version)],
);

export const files = pgTable(
  'files',
  {
    id: id(),
    filename: text('filename').notNull().unique(),
    projectId: ref('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    releaseId: ref('release_id')
      .notNull()
      .references(() => releases.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    packagetype: text('packagetype').notNull(),
    pythonVersion: text('python_version').notNull(),
    url: text('url').notNull(),
    sha256: char('sha256', { length: 64 }).notNull(),
    size: bigint('size', { mode: 'number' }),
    uploadTime: ts('upload_time'),
    requiresPython: text('requires_python'),
    yanked: boolean('yanked').notNull().default(false),
    yankedReason: text('yanked_reason'),
    coreMetadataSha256: char('core_metadata_sha256', { length: 64 }),
    hasCoreMetadata: boolean('has_core_metadata').notNull().default(false),
    removed: boolean('removed').notNull().default(false),
    removedAt: ts('removed_at'),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    /**
     * Extractor version of the file's latest stored result that is not `waiting`; null: none.
     * Kept by saveExtraction; read through files_without_result_idx (migration 0011).
     */
    resultVersion: text('result_version'),
  },
  (t) => [index('files_project_idx').on(t.projectId), index('files_sha256_idx').on(t.sha256)],
);

export const changelog = pgTable('changelog', {
  serial: bigint('serial', { mode: 'number' }).primaryKey(),
  time: ts('time').notNull(),
  name: text('name').notNull(),
  version: text('version'),
  action: text('action').notNull(),
});

export const crawlState = pgTable('crawl_state', {
  key: text('key').primaryKey(),
  serial: bigint('serial', { mode: 'number' }).notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const extractions = pgTable(
  'extractions',
  {
    id: id(),
    fileId: ref('file_id')
      .notNull()
      .references(() => files.id, { onDelete: 'cascade' }),
    pythonKey: text('python_key').notNull(),
    method: text('method').notNull(),
    extractorVersion: text('extractor_version').notNull(),
    /** `waiting`: the file needs its setup.py run and the process that took it had no sandbox. */
    status: text('status', { enum: ['ok', 'failed', 'waiting'] }).notNull(),
    failureCode: text('failure_code'),
    log: text('log'),
    textRepairs: integer('text_repairs').notNull().default(0),
    /** How a sandbox result was computed with build tools (migration 0008); null for none. */
    buildProvenance: jsonb('build_provenance'),
    bytesTransferred: bigint('bytes_transferred', { mode: 'number' }),
    requests: integer('requests'),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
  },
  (t) => [
    unique().on(t.fileId, t.pythonKey, t.method, t.extractorVersion),
    index('extractions_file_idx').on(t.fileId),
  ],
);

export const requirements = pgTable(
  'requirements',
  {
    id: id(),
    extractionId: ref('extraction_id')
      .notNull()
      .references(() => extractions.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    kind: text('kind', {
      enum: ['install', 'setup', 'test', 'extra', 'python', 'provides-extra', 'external'],
    }).notNull(),
    extra: text('extra'),
    requirement: text('requirement').notNull(),
    name: text('name'),
    specifier: text('specifier'),
    marker: text('marker'),
  },
  (t) => [unique().on(t.extractionId, t.position)],
);

export const snapshots = pgTable('snapshots', {
  id: text('id').primaryKey(),
  serial: bigint('serial', { mode: 'number' }).notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  counts: jsonb('counts').notNull(),
  manifestSha256: char('manifest_sha256', { length: 64 }).notNull(),
  tarballSha256: char('tarball_sha256', { length: 64 }).notNull(),
  narHash: text('nar_hash').notNull(),
  path: text('path').notNull(),
});

export const pendingProjects = pgTable('pending_projects', {
  name: text('name').primaryKey(),
  displayName: text('display_name').notNull(),
  serial: bigint('serial', { mode: 'number' }).notNull(),
  priority: integer('priority').notNull(),
  queuedAt: ts('queued_at').notNull().defaultNow(),
});

/** The names of the index listing being read by `crawl --all` (normalized); see migration 0013. */
export const indexListing = pgTable('index_listing', {
  name: text('name').primaryKey(),
});

export const refreshes = pgTable(
  'refreshes',
  {
    id: id(),
    slot: ts('slot'),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
    status: text('status', { enum: ['running', 'done', 'failed'] }).notNull(),
    fromSerial: bigint('from_serial', { mode: 'number' }),
    toSerial: bigint('to_serial', { mode: 'number' }),
    counts: jsonb('counts'),
    snapshotId: text('snapshot_id'),
    error: text('error'),
  },
  (t) => [index('refreshes_started_idx').on(t.startedAt)],
);

export const sandboxChecks = pgTable('sandbox_checks', {
  worker: text('worker').primaryKey(),
  state: text('state', { enum: ['proven', 'unavailable'] }).notNull(),
  reason: text('reason'),
  checkedAt: ts('checked_at').notNull().defaultNow(),
});

/** Totals kept as rows are written (migration 0014): `changelog_rows`. */
export const storeTotals = pgTable('store_totals', {
  key: text('key').primaryKey(),
  value: bigint('value', { mode: 'number' }).notNull(),
});

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});
