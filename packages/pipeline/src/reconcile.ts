import {
  countFilesWithoutResult,
  countPendingProjects,
  type Db,
  type FailedWorkFilter,
  failedFileWork,
  failedProjectWork,
  listFilesWithoutResult,
  listPendingProjects,
} from '@pypi-graph/db';
import type { Backlog } from './backlog';
import type { Enqueue } from './context';
import { PRIORITY_BACKFILL } from './queues';
import { SDIST_EXTRACTOR_VERSION } from './sdist-queue';
import { WHEEL_EXTRACTOR_VERSION } from './wheel-queue';

export interface ReconcileOptions {
  /** Wheel METADATA is read in this deployment (WHEEL_METADATA=on). */
  wheels: boolean;
  /** Sdists are extracted in this deployment (SDIST_EXTRACTION not off). */
  sdists: boolean;
}

export interface ReconcileTarget {
  enqueue: Enqueue;
  /**
   * With a window (QUEUE_WINDOW > 0): the unfinished work is counted and deferred, and the
   * runner's feeders enqueue it as the window drains, instead of all of it at once.
   */
  backlog?: Backlog;
}

export interface ReconcileResult {
  /** Pending projects enqueued (a discover job asked for them; their job never finished). */
  projects: number;
  /** Current wheels with no result from this extractor version. */
  wheels: number;
  /** Current sdists with no result from this extractor version. */
  sdists: number;
}

const PAGE = 1000;

/**
 * Redis holds no truth: this finds in the database what is unfinished and enqueues it again.
 * Enqueuing is idempotent (deterministic job ids), so running it while the work is still
 * queued only costs the lookups.
 */
export async function reconcile(
  db: Db,
  target: Enqueue | ReconcileTarget,
  options: ReconcileOptions,
): Promise<ReconcileResult> {
  const { enqueue, backlog } =
    typeof target === 'function' ? { enqueue: target, backlog: undefined } : target;
  const result: ReconcileResult = { projects: 0, wheels: 0, sdists: 0 };
  if (backlog) {
    result.projects = await countPendingProjects(db);
    if (result.projects > 0) await backlog.defer('project');
    if (options.wheels) {
      const w = await countFilesWithoutResult(db, 'bdist_wheel', WHEEL_EXTRACTOR_VERSION);
      result.wheels = w.count;
      if (w.minId !== undefined) await backlog.deferFrom('wheel-metadata', w.minId, PRIORITY_BACKFILL);
    }
    if (options.sdists) {
      const s = await countFilesWithoutResult(db, 'sdist', SDIST_EXTRACTOR_VERSION);
      result.sdists = s.count;
      if (s.minId !== undefined) await backlog.deferFrom('sdist-extract', s.minId, PRIORITY_BACKFILL);
    }
    return result;
  }
  for (let after = ''; ; ) {
    const page = await listPendingProjects(db, after, PAGE);
    for (const p of page) {
      await enqueue(
        'project',
        { name: p.name, serial: p.serial, priority: p.priority },
        { priority: p.priority },
      );
    }
    result.projects += page.length;
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.key;
  }
  const stages: Array<['wheels' | 'sdists', string, string, 'wheel-metadata' | 'sdist-extract']> = [];
  if (options.wheels) stages.push(['wheels', 'bdist_wheel', WHEEL_EXTRACTOR_VERSION, 'wheel-metadata']);
  if (options.sdists) stages.push(['sdists', 'sdist', SDIST_EXTRACTOR_VERSION, 'sdist-extract']);
  for (const [key, packagetype, version, queue] of stages) {
    for (let after = 0; ; ) {
      const page = await listFilesWithoutResult(db, packagetype, version, after, PAGE);
      for (const f of page) {
        await enqueue(queue, { sha256: f.sha256, filename: f.filename }, { priority: PRIORITY_BACKFILL });
      }
      result[key] += page.length;
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.id;
    }
  }
  return result;
}

export interface RecrawlResult {
  projects: number;
  wheels: number;
  sdists: number;
  /** How many of each failure code the selected work had. */
  byCode: Record<string, number>;
}

/**
 * Failed work matching the filter: projects whose crawl failed, wheels and sdists with a
 * failed result. With `enqueue`, each is enqueued again (its failure stays recorded until a
 * new result replaces it); without, it is only counted (`--dry-run`).
 */
export async function recrawlFailed(
  db: Db,
  enqueue: Enqueue | undefined,
  options: ReconcileOptions & { filter: FailedWorkFilter; priority?: number },
): Promise<RecrawlResult> {
  const result: RecrawlResult = { projects: 0, wheels: 0, sdists: 0, byCode: {} };
  const count = (code: string) => {
    result.byCode[code] = (result.byCode[code] ?? 0) + 1;
  };
  const priority = options.priority;
  for (const p of await failedProjectWork(db, options.filter)) {
    result.projects++;
    count(p.code);
    await enqueue?.('project', { name: p.name, serial: p.lastSerial, priority }, { priority });
  }
  const versions: Partial<Record<'bdist_wheel' | 'sdist', string>> = {};
  if (options.wheels) versions.bdist_wheel = WHEEL_EXTRACTOR_VERSION;
  if (options.sdists) versions.sdist = SDIST_EXTRACTOR_VERSION;
  for (const f of await failedFileWork(db, versions, {
    ...options.filter,
    skipSetupPyOutcomes: true,
  })) {
    const wheel = f.packagetype === 'bdist_wheel';
    if (wheel) result.wheels++;
    else result.sdists++;
    for (const code of f.codes) count(code);
    await enqueue?.(
      wheel ? 'wheel-metadata' : 'sdist-extract',
      { sha256: f.sha256, filename: f.filename },
      { priority },
    );
  }
  return result;
}
