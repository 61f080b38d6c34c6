import { hostname } from 'node:os';
import path from 'node:path';
import type { Config } from '@pypi-graph/config';
import type { Logger } from '@pypi-graph/core';
import {
  analyzeForSnapshot,
  bucketTokens,
  type Database,
  type Db,
  migrate,
  openDatabase,
  pypiBucket,
  recordSandboxCheck,
  recordSnapshot,
  resolveBuildDependencies,
  SDIST_RESULTS_VERSION,
  sdistBucket,
  sdistResults,
  setSetting,
  snapshotMeta,
  vacuumForSnapshot,
  wheelBucket,
} from '@pypi-graph/db';
import { createSdistExtractor, readWheelMetadata } from '@pypi-graph/extractor';
import type { SdistExtractor } from '@pypi-graph/model';
import {
  BullmqRunner,
  EmbeddedRunner,
  type PypiApi,
  processMetrics,
  QUEUES,
  type QueueName,
  type ReconcileTarget,
  type Runner,
  type WheelMetadataReader,
} from '@pypi-graph/pipeline';
import { type PublishResult, publishSnapshot, type SnapshotSource } from '@pypi-graph/snapshot';
import { connectIndex } from './index-connection';
import { type ProcessTempDir, processTempDir } from './temp-dir';

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly db: Db;
  readonly api: PypiApi;
  readonly wheels: WheelMetadataReader | undefined;
  readonly sdists: SdistExtractor | undefined;
  close(): Promise<void>;
}

export interface OpenAppOptions {
  /** Told what start-up is doing (the status block on a terminal shows it). */
  onPhase?: (phase: string) => void;
}

/** Opens the database (migrating it) and the index client, as the configuration says. */
export async function openApp(config: Config, logger: Logger, options: OpenAppOptions = {}): Promise<App> {
  const phase = options.onPhase ?? (() => {});
  phase(
    config.databaseUrl
      ? `opening the database (PostgreSQL at ${new URL(config.databaseUrl).host})`
      : `opening the database (PGlite in ${config.pglitePath})`,
  );
  const database = await openDatabase({ databaseUrl: config.databaseUrl, pglitePath: config.pglitePath });
  try {
    phase('applying migrations');
    await migrate(database, logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  // Bytes fetched from the index count in this process's metrics (`pypi_graph_pypi_bytes_total`).
  const index = connectIndex(config, logger, { onBytes: processMetrics().recordPypiBytes });
  let temp: ProcessTempDir;
  try {
    temp = await processTempDir(path.join(config.dataDir, 'tmp'), logger);
  } catch (err) {
    await index.close();
    await database.close();
    throw err;
  }
  const tmpDir = temp.path;
  // Each file's work first makes sure the directory is there (temp.ensure): a directory removed
  // under a running worker would otherwise fail every later download of it until a restart.
  const wheels: WheelMetadataReader | undefined = config.wheelMetadata
    ? {
        read: async (file, signal) =>
          readWheelMetadata(index.client, file, { signal, tmpDir: await temp.ensure(), logger }),
      }
    : undefined;
  if (config.sdistExtraction !== 'off') phase('preparing the setup.py sandbox');
  const extractor = await createSdistExtractor(config, index.client, tmpDir, logger, {
    metrics: processMetrics(),
    recordSandboxCheck: (state, reason) =>
      recordSandboxCheck(database.db, { worker: `${hostname()}:${process.pid}`, state, reason }),
    // build dependencies of sdists from the index this crawler has stored (issue 11 §2)
    resolveBuildDependencies: (requirements, pythonFullVersion) =>
      resolveBuildDependencies(database.db, requirements, pythonFullVersion),
  });
  const sdists: SdistExtractor | undefined = extractor && {
    ...extractor,
    extract: async (file, signal) => {
      await temp.ensure();
      return extractor.extract(file, signal);
    },
  };
  return {
    config,
    logger,
    database,
    db: database.db,
    api: index.api,
    wheels,
    sdists,
    async close() {
      await sdists?.close?.();
      await index.close();
      await database.close();
      await temp.release();
    },
  };
}

export interface RunnerOptions {
  /** Process jobs here (always true for the embedded runner). */
  work?: boolean;
  queues?: QueueName[];
  concurrency?: number;
}

/** BullMQ when REDIS_URL is set, in-process otherwise: the same queue definitions either way. */
export function createRunner(app: App, options: RunnerOptions = {}): Runner {
  const base = {
    config: app.config,
    db: app.db,
    api: app.api,
    logger: app.logger,
    wheels: app.wheels,
    sdists: app.sdists,
  };
  if (app.config.redisUrl) {
    return new BullmqRunner(base, QUEUES, {
      redisUrl: app.config.redisUrl,
      prefix: app.config.queuePrefix,
      work: options.work ?? true,
      queues: options.queues,
      concurrency: options.concurrency,
    });
  }
  return new EmbeddedRunner(base, QUEUES);
}

/**
 * Where `reconcile` puts the unfinished work it finds: deferred to the runner's feeders when
 * there is a window (QUEUE_WINDOW > 0), else enqueued whole.
 */
export function reconcileTarget(app: App, runner: Runner): ReconcileTarget {
  return {
    enqueue: runner.enqueue,
    backlog: app.config.queueWindow > 0 ? runner.backlog : undefined,
  };
}

/** The snapshot source over the database: one bucket at a time. */
export function databaseSnapshotSource(db: Db): SnapshotSource {
  return {
    // entries are reused only from snapshots whose rows were turned into projects by the same rule
    version: SDIST_RESULTS_VERSION,
    meta: () => snapshotMeta(db),
    bucketTokens: (bucket: string) => bucketTokens(db, bucket),
    async *pypiProjects(bucket: string, keys?: readonly string[]) {
      yield* await pypiBucket(db, bucket, keys);
    },
    async *wheelProjects(bucket: string, keys?: readonly string[]) {
      yield* await wheelBucket(db, bucket, keys);
    },
    async *sdistProjects(bucket: string, keys?: readonly string[]) {
      for (const project of await sdistBucket(db, bucket, keys)) yield sdistResults(project);
    },
  };
}

export interface SnapshotOptions {
  signal?: AbortSignal;
  /** Render everything, reusing nothing from the previous snapshot. */
  full?: boolean;
  /** Snapshots to keep, the new one included (`SNAPSHOT_KEEP`). */
  keep?: number;
  /** Told each phase (a bucket being written, the tarball): only a display. */
  onPhase?: (phase: string) => void;
}

export async function takeSnapshot(
  app: App,
  outDir: string,
  options: SnapshotOptions = {},
): Promise<PublishResult> {
  const { onPhase } = options;
  onPhase?.('snapshot: vacuum and planner statistics');
  const vacuumMs = await vacuumForSnapshot(app.database);
  if (vacuumMs !== undefined) app.logger.info({ table: 'projects', ms: vacuumMs }, 'snapshot: vacuumed');
  const analyzed = await analyzeForSnapshot(app.database);
  if (analyzed.length > 0) app.logger.info({ tables: analyzed }, 'snapshot: planner statistics refreshed');
  const source = databaseSnapshotSource(app.db);
  const result = await publishSnapshot({
    outDir,
    source,
    onProgress: onPhase
      ? (p) =>
          onPhase(
            p.phase === 'tarball'
              ? 'snapshot: manifest, tarball and Nix hash'
              : `snapshot: writing bucket ${p.bucket} (${p.index + 1}/256)`,
          )
      : undefined,
    signal: options.signal,
    logger: app.logger,
    full: options.full,
    keep: options.keep ?? app.config.snapshotKeep,
  });
  await recordSnapshot(app.db, {
    id: result.id,
    serial: result.manifest.serial,
    counts: result.counts,
    manifestSha256: result.manifestSha256,
    tarballSha256: result.tarballSha256,
    narHash: result.narHashSri,
    path: result.dir,
  });
  return result;
}

/** What `pnpm snapshot` and the demo print about a published snapshot. */
export function formatSnapshot(result: PublishResult): string {
  return [
    `snapshot ${result.id}`,
    `  tree:     ${result.dir}`,
    `  tarball:  ${result.tarball}`,
    `  sha256:   ${result.tarballSha256}`,
    `  nix hash: ${result.narHashBase32} (${result.narHashSri})`,
    `  files:    ${result.counts.pypi?.files ?? 0} in ${result.counts.pypi?.projects ?? 0} projects`,
    `  rendered: ${result.stats.keysRendered} keys (${result.stats.keysReused} reused from ${result.stats.previous ?? 'no previous snapshot'})`,
    ...(result.stats.pruned.length > 0 ? [`  removed:  ${result.stats.pruned.join(', ')}`] : []),
  ].join('\n');
}

/**
 * Records PYPI_URL as the index the data comes from, so that commands which only read the
 * database (`pnpm status`) ask that index, not whatever PYPI_URL says when they run.
 */
export async function recordIndexUrl(app: App): Promise<void> {
  await setSetting(app.db, 'index_url', app.config.pypiUrl);
}
