// `pnpm bench scale` child: EXPLAIN (ANALYZE, BUFFERS) of every hot query, captured from the db
// functions themselves (packages/db explainCalls): the per-project save and the per-file paths,
// the reconcile and recrawl selections, the snapshot's bucket reads and `status`. Writes are
// idempotent (a project's current state saved again). Prints one JSON line.
import {
  bucketTokens,
  countPendingProjects,
  type Db,
  explainCalls,
  failedFileWork,
  failedProjectWork,
  failuresByCode,
  fileBySha256,
  getCrawlState,
  getProject,
  lastRefresh,
  latestSnapshot,
  listFilesWithoutResult,
  listPendingProjects,
  projectDependencies,
  projectsNotListed,
  pypiBucket,
  saveExtraction,
  saveProject,
  sdistBucket,
  sdistsWithoutDependencies,
  snapshotMeta,
  storeCounts,
  wheelBucket,
  wheelsWithoutMetadata,
} from '@pypi-graph/db';
import { bucketOf, machNixName } from '@pypi-graph/pyspec';
import { scaleStep } from './common';
import {
  type GenProject,
  generateProject,
  lastSerialOf,
  PROJECTS_PER_FILE,
  SDIST_EXTRACTOR,
  WHEEL_EXTRACTOR,
} from './scale-data';
import { fileRecord } from './scale-day';

/** Which hot path a query belongs to: per-project and per-file paths must never scan a table. */
export type QueryGroup = 'per-project save' | 'per-file' | 'reconcile' | 'recrawl' | 'snapshot' | 'status';

export interface ExplainResult {
  name: string;
  group: QueryGroup;
  statements: Array<{ sql: string; plan: string; executionMs: number; seqScans: string[] }>;
}

const fileCount = (g: GenProject) => g.releases.reduce((n, r) => n + r.files.length, 0);

export async function explainAll(databaseUrl: string, files: number, seed: number, day: number) {
  const base = Math.max(1, Math.round(files * PROJECTS_PER_FILE));
  // A typical project (the median file count of a sample that has a wheel and an sdist) and the
  // largest of the sample: what one project job costs, commonly and at worst.
  const sample: GenProject[] = [];
  for (let i = 0; i < Math.min(base, 400); i++) {
    const g = generateProject(seed, i, day, base);
    if (g.removedAt === null) sample.push(g);
  }
  const withBoth = sample.filter((g) =>
    g.releases.some((r) => r.files.some((f) => f.packagetype === 'bdist_wheel' && f.removedAt === null)),
  );
  withBoth.sort((a, b) => fileCount(a) - fileCount(b));
  const typical = withBoth[Math.floor(withBoth.length / 2)] ?? sample[0]!;
  const largest = [...sample].sort((a, b) => fileCount(b) - fileCount(a))[0]!;
  const bucket = bucketOf(machNixName(typical.displayName));
  const key = machNixName(typical.displayName);
  const wheel = typical.releases.flatMap((r) => r.files).find((f) => f.packagetype === 'bdist_wheel')!;

  const record = (g: GenProject) => {
    const live = g.releases.map((r) => ({ ...r, files: r.files.filter((f) => f.removedAt === null) }));
    return {
      displayName: g.displayName,
      serial: lastSerialOf(g),
      versions: live.map((r) => r.version),
      files: live.flatMap((r) => r.files.map((f) => fileRecord(r.version, f))),
    };
  };
  const calls: Array<[string, QueryGroup, (db: Db) => Promise<unknown>]> = [
    [
      `saveProject: ${typical.displayName} (${fileCount(typical)} files), its state again`,
      'per-project save',
      (db) => saveProject(db, record(typical)),
    ],
    [
      `saveProject: ${largest.displayName} (${fileCount(largest)} files), its state again`,
      'per-project save',
      (db) => saveProject(db, record(largest)),
    ],
    [
      `saveExtraction: ${wheel.filename}, its result again`,
      'per-file',
      async (db) => {
        const row = await fileBySha256(db, wheel.sha256, wheel.filename);
        const e = wheel.extractions[0]!;
        await saveExtraction(db, {
          ...e,
          fileId: row!.fileId,
          startedAt: new Date(),
          requirements: e.requirements,
        });
      },
    ],
    [
      `wheelsWithoutMetadata: ${typical.name}`,
      'per-project save',
      (db) => wheelsWithoutMetadata(db, typical.name, WHEEL_EXTRACTOR),
    ],
    [
      `sdistsWithoutDependencies: ${typical.name}`,
      'per-project save',
      (db) => sdistsWithoutDependencies(db, typical.name, SDIST_EXTRACTOR),
    ],
    [`getProject (show): ${typical.name}`, 'per-project save', (db) => getProject(db, typical.name)],
    [
      `projectDependencies (show): ${typical.name}`,
      'per-project save',
      (db) => projectDependencies(db, typical.name),
    ],
    ['listPendingProjects (reconcile, first page)', 'reconcile', (db) => listPendingProjects(db, '', 1000)],
    [
      'listFilesWithoutResult: wheels (reconcile, first page)',
      'reconcile',
      (db) => listFilesWithoutResult(db, 'bdist_wheel', WHEEL_EXTRACTOR, 0, 1000),
    ],
    [
      'listFilesWithoutResult: sdists (reconcile, first page)',
      'reconcile',
      (db) => listFilesWithoutResult(db, 'sdist', SDIST_EXTRACTOR, 0, 1000),
    ],
    [
      // discover's listing (crawl --all) recorded whole, then the stored projects it does not name
      'projectsNotListed (crawl --all: every project listed, then the ones it does not name)',
      'reconcile',
      async (db) => {
        await db.execute('INSERT INTO index_listing (name) SELECT name FROM projects ON CONFLICT DO NOTHING');
        await projectsNotListed(db, 0, 1000);
      },
    ],
    ['failedProjectWork (recrawl --failed)', 'recrawl', (db) => failedProjectWork(db, {})],
    [
      'failedFileWork (recrawl --failed: setup.py outcomes left out)',
      'recrawl',
      (db) =>
        failedFileWork(
          db,
          { bdist_wheel: WHEEL_EXTRACTOR, sdist: SDIST_EXTRACTOR },
          { skipSetupPyOutcomes: true },
        ),
    ],
    [
      'failedFileWork (recrawl --failed --code archive-corrupt)',
      'recrawl',
      (db) =>
        failedFileWork(
          db,
          { bdist_wheel: WHEEL_EXTRACTOR, sdist: SDIST_EXTRACTOR },
          { code: 'archive-corrupt' },
        ),
    ],
    [
      `failedFileWork (recrawl --failed --project ${typical.name})`,
      'recrawl',
      (db) =>
        failedFileWork(
          db,
          { bdist_wheel: WHEEL_EXTRACTOR, sdist: SDIST_EXTRACTOR },
          { project: typical.name },
        ),
    ],
    [`bucketTokens: bucket ${bucket}`, 'snapshot', (db) => bucketTokens(db, bucket)],
    [`pypiBucket: bucket ${bucket}`, 'snapshot', (db) => pypiBucket(db, bucket)],
    [`wheelBucket: bucket ${bucket}`, 'snapshot', (db) => wheelBucket(db, bucket)],
    [`sdistBucket: bucket ${bucket}`, 'snapshot', (db) => sdistBucket(db, bucket)],
    [`pypiBucket: bucket ${bucket}, one changed key`, 'snapshot', (db) => pypiBucket(db, bucket, [key])],
    [`wheelBucket: bucket ${bucket}, one changed key`, 'snapshot', (db) => wheelBucket(db, bucket, [key])],
    [`sdistBucket: bucket ${bucket}, one changed key`, 'snapshot', (db) => sdistBucket(db, bucket, [key])],
    ['snapshotMeta', 'snapshot', (db) => snapshotMeta(db)],
    ['storeCounts (status)', 'status', (db) => storeCounts(db)],
    ['failuresByCode (status)', 'status', (db) => failuresByCode(db)],
    [
      'getCrawlState, countPendingProjects, lastRefresh, latestSnapshot (status)',
      'status',
      async (db) => {
        await getCrawlState(db, 'changelog');
        await countPendingProjects(db);
        await lastRefresh(db);
        await latestSnapshot(db);
      },
    ],
  ];
  const out: ExplainResult[] = [];
  for (const [name, group, fn] of calls) {
    process.stderr.write(`explain: ${name}\n`);
    out.push({ name, group, statements: await explainCalls(databaseUrl, fn) });
  }
  return out;
}

await scaleStep(
  import.meta,
  'scale-explain.ts --database-url URL --files N [--seed S] [--day D]',
  { day: { type: 'string', default: '0' } },
  (a) => explainAll(a.databaseUrl, a.files, a.seed, Number(a.values.day)),
);
