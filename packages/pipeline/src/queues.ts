import { CrawlError } from '@pypi-graph/core';
import {
  addPendingProjects,
  advanceCrawlState,
  clearPendingProject,
  insertChangelog,
  markProjectRemoved,
  recordProjectFailure,
  saveProject,
  schema,
} from '@pypi-graph/db';
import { pep503Name } from '@pypi-graph/pyspec';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { deferring } from './backlog';
import type { AnyQueueDefinition, PipelineContext, QueueDefinition, QueueName } from './context';
import { mergeProject } from './merge';
import { enqueueSdists, sdistQueue } from './sdist-queue';
import { enqueueWheels, wheelQueue } from './wheel-queue';

export const PRIORITY_FRESH = 1;
export const PRIORITY_BACKFILL = 10;

const DiscoverPayload = z.discriminatedUnion('mode', [
  /** Every changelog row after `since`, page by page, until the index's last serial. */
  z.object({ mode: z.literal('since'), since: z.number().int().min(0) }),
  /** Every project the index lists (a full backfill). */
  z.object({ mode: z.literal('all') }),
]);
export type DiscoverPayload = z.infer<typeof DiscoverPayload>;

const ProjectPayload = z.object({
  name: z.string().min(1).max(300),
  /** The serial that made us look (changelog or listing); 0 when asked by hand. */
  serial: z.number().int().min(0),
  priority: z.number().int().optional(),
});
export type ProjectPayload = z.infer<typeof ProjectPayload>;

export const discoverQueue: QueueDefinition<DiscoverPayload> = {
  name: 'discover',
  payload: DiscoverPayload,
  jobId: (p) => (p.mode === 'since' ? `discover:since:${p.since}` : 'discover:all:0'),
  describe: (p): Record<string, string | number> =>
    p.mode === 'since' ? { since: p.since } : { mode: p.mode },
  attempts: 8,
  concurrency: () => 1,
  async process(ctx, payload, job) {
    if (payload.mode === 'all') return discoverAll(ctx, job.signal, job.log);
    return discoverSince(ctx, payload.since, job.signal, job.log);
  },
};

async function discoverSince(
  ctx: PipelineContext,
  since: number,
  signal: AbortSignal,
  log: PipelineContext['logger'],
): Promise<{ rows: number; projects: number; serial: number }> {
  let cursor = since;
  let rows = 0;
  const projects = new Set<string>();
  for (;;) {
    signal.throwIfAborted();
    const page = await ctx.api.changelogSinceSerial(cursor, signal);
    if (page.length === 0) break;
    await insertChangelog(ctx.db, page);
    const latest = new Map<string, { name: string; serial: number }>();
    for (const row of page) {
      const key = pep503Name(row.name);
      const prev = latest.get(key);
      if (!prev || prev.serial < row.serial) latest.set(key, { name: row.name, serial: row.serial });
    }
    // Recorded before it is enqueued: if Redis loses the job, `crawl --resume` finds it here.
    await addPendingProjects(
      ctx.db,
      [...latest.values()].map(({ name, serial }) => ({ name, serial, priority: PRIORITY_FRESH })),
    );
    const backlog = deferring(ctx);
    // With a window, the feeders take them from pending_projects as the project queue drains.
    if (backlog) await backlog.defer('project', PRIORITY_FRESH);
    for (const { name, serial } of latest.values()) {
      if (!backlog)
        await ctx.enqueue(
          'project',
          { name, serial, priority: PRIORITY_FRESH },
          { priority: PRIORITY_FRESH },
        );
      projects.add(pep503Name(name));
    }
    const last = page.reduce((m, r) => Math.max(m, r.serial), cursor);
    // The rows are stored before the mark moves: a crash here loses nothing (reconcile re-reads them).
    await advanceCrawlState(ctx.db, 'changelog', last);
    rows += page.length;
    log.info({ from: cursor, to: last, rows: page.length }, 'changelog page');
    if (last <= cursor) break;
    cursor = last;
  }
  return { rows, projects: projects.size, serial: cursor };
}

async function discoverAll(
  ctx: PipelineContext,
  signal: AbortSignal,
  log: PipelineContext['logger'],
): Promise<{ projects: number; serial: number; gone: number }> {
  // Read the serial first: whatever changes during the listing is newer and will be seen by `--since`.
  const serial = await ctx.api.changelogLastSerial(signal);
  const listing = await ctx.api.listPackagesWithSerial(signal);
  const listed = new Set<string>();
  const entries = [...listing];
  // With a window, every project is recorded in pending_projects and the feeders enqueue them as
  // the project queue drains: Redis never holds the whole listing.
  const backlog = deferring(ctx);
  for (let i = 0; i < entries.length; i += 1000) {
    const batch = entries.slice(i, i + 1000);
    await addPendingProjects(
      ctx.db,
      batch.map(([name, projectSerial]) => ({ name, serial: projectSerial, priority: PRIORITY_BACKFILL })),
    );
    if (backlog) await backlog.defer('project', PRIORITY_BACKFILL);
    for (const [name, projectSerial] of batch) {
      signal.throwIfAborted();
      listed.add(pep503Name(name));
      if (backlog) continue;
      await ctx.enqueue(
        'project',
        { name, serial: projectSerial, priority: PRIORITY_BACKFILL },
        { priority: PRIORITY_BACKFILL },
      );
    }
  }
  // Projects we know that the index no longer lists: their job will find them gone.
  let gone = 0;
  const known = await ctx.db
    .select({ name: schema.projects.displayName, norm: schema.projects.name })
    .from(schema.projects)
    .where(eq(schema.projects.removed, false));
  for (const p of known) {
    if (listed.has(p.norm)) continue;
    gone++;
    await addPendingProjects(ctx.db, [{ name: p.name, serial, priority: PRIORITY_BACKFILL }]);
    if (backlog) {
      await backlog.defer('project', PRIORITY_BACKFILL);
      continue;
    }
    await ctx.enqueue(
      'project',
      { name: p.name, serial: serial, priority: PRIORITY_BACKFILL },
      {
        priority: PRIORITY_BACKFILL,
      },
    );
  }
  await advanceCrawlState(ctx.db, 'changelog', serial);
  log.info({ projects: listing.size, gone, serial }, 'index listed');
  return { projects: listing.size, serial, gone };
}

export interface ProjectJobResult {
  status: 'saved' | 'stale' | 'removed';
  filesAdded: number;
  filesRemoved: number;
}

export const projectQueue: QueueDefinition<ProjectPayload> = {
  name: 'project',
  payload: ProjectPayload,
  jobId: (p) => `project:${pep503Name(p.name)}:${p.serial}`,
  describe: (p) => ({ project: p.name }),
  attempts: 6,
  concurrency: (config) => config.projectConcurrency,
  async process(ctx, payload, job): Promise<ProjectJobResult> {
    const { name } = payload;
    let json: Awaited<ReturnType<PipelineContext['api']['getProjectJson']>>;
    let simple: Awaited<ReturnType<PipelineContext['api']['getSimpleProject']>>;
    try {
      json = await ctx.api.getProjectJson(name, job.signal);
      simple = await ctx.api.getSimpleProject(name, job.signal);
    } catch (err) {
      if (err instanceof CrawlError && err.code === 'project-not-found') {
        const out = await markProjectRemoved(ctx.db, name, payload.serial);
        await clearPendingProject(ctx.db, name, payload.serial);
        job.log.info({ filesRemoved: out.filesRemoved }, 'project removed from the index');
        return { status: 'removed', filesAdded: 0, filesRemoved: out.filesRemoved };
      }
      throw err;
    }
    const merged = mergeProject(json, simple);
    if (merged.onlyInSimple.length > 0 || merged.onlyInJson.length > 0) {
      job.log.warn(
        { onlyInSimple: merged.onlyInSimple.length, onlyInJson: merged.onlyInJson.length },
        'the Simple and JSON APIs disagree on the file list',
      );
    }
    const saved = await saveProject(ctx.db, merged.record);
    const wheels = await enqueueWheels(ctx, merged.record.displayName, payload.priority);
    const sdists = await enqueueSdists(ctx, merged.record.displayName, payload.priority);
    // Last: until here a crash leaves the project pending, and `crawl --resume` enqueues it again.
    await clearPendingProject(ctx.db, name, payload.serial);
    job.log.debug({ ...saved, wheels, sdists }, 'project crawled');
    return {
      status: saved.applied ? 'saved' : 'stale',
      filesAdded: saved.filesAdded,
      filesRemoved: saved.filesRemoved,
    };
  },
  async onFailed(ctx, payload, error) {
    await recordProjectFailure(ctx.db, payload.name, error.code, error.message);
    // Failed for good: `recrawl --failed` takes it from here, not `crawl --resume`.
    await clearPendingProject(ctx.db, payload.name, payload.serial);
  },
};

/** Every queue the runners know; later stages (wheel-metadata, sdist-extract, snapshot) add theirs. */
export const QUEUES: Partial<Record<QueueName, AnyQueueDefinition>> = {
  discover: discoverQueue as AnyQueueDefinition,
  project: projectQueue as AnyQueueDefinition,
  'wheel-metadata': wheelQueue as AnyQueueDefinition,
  'sdist-extract': sdistQueue as AnyQueueDefinition,
};
