// Stage 1 (docs/architecture.md §2): the changelog, or the whole index listing, names the
// projects to crawl; each is recorded in pending_projects, then enqueued (or deferred to the feeders).
import {
  addIndexListing,
  addPendingProjects,
  advanceCrawlState,
  clearIndexListing,
  insertChangelog,
  projectsNotListed,
} from '@pypi-graph/db';
import { pep503Name } from '@pypi-graph/pyspec';
import { z } from 'zod';
import { deferring } from '../backlog';
import { type PipelineContext, PRIORITY_BACKFILL, PRIORITY_FRESH, type QueueDefinition } from '../context';

const DiscoverPayload = z.discriminatedUnion('mode', [
  /** Every changelog row after `since`, page by page, until the index's last serial. */
  z.object({ mode: z.literal('since'), since: z.number().int().min(0) }),
  /** Every project the index lists (a full backfill). */
  z.object({ mode: z.literal('all') }),
]);
export type DiscoverPayload = z.infer<typeof DiscoverPayload>;

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
  // With a window, every project is recorded in pending_projects and the feeders enqueue them as
  // the project queue drains: Redis never holds the whole listing. The listing itself is never
  // held either: it arrives a batch at a time, and its names go to the database (index_listing),
  // where the projects it no longer names are found below.
  const backlog = deferring(ctx);
  await clearIndexListing(ctx.db);
  const listed = await ctx.api.eachPackageWithSerial(async (batch) => {
    signal.throwIfAborted();
    await addPendingProjects(
      ctx.db,
      batch.map(([name, projectSerial]) => ({ name, serial: projectSerial, priority: PRIORITY_BACKFILL })),
    );
    await addIndexListing(
      ctx.db,
      batch.map(([name]) => name),
    );
    if (backlog) {
      await backlog.defer('project', PRIORITY_BACKFILL);
      return;
    }
    for (const [name, projectSerial] of batch) {
      signal.throwIfAborted();
      await ctx.enqueue(
        'project',
        { name, serial: projectSerial, priority: PRIORITY_BACKFILL },
        { priority: PRIORITY_BACKFILL },
      );
    }
  }, signal);
  // Projects we know that the index no longer lists: their job will find them gone.
  let gone = 0;
  for (let after = 0; ; ) {
    const page = await projectsNotListed(ctx.db, after, 1000);
    if (page.length === 0) break;
    after = page[page.length - 1]!.id;
    gone += page.length;
    await addPendingProjects(
      ctx.db,
      page.map((p) => ({ name: p.displayName, serial, priority: PRIORITY_BACKFILL })),
    );
    if (backlog) {
      await backlog.defer('project', PRIORITY_BACKFILL);
      continue;
    }
    for (const p of page) {
      await ctx.enqueue(
        'project',
        { name: p.displayName, serial, priority: PRIORITY_BACKFILL },
        { priority: PRIORITY_BACKFILL },
      );
    }
  }
  await clearIndexListing(ctx.db);
  await advanceCrawlState(ctx.db, 'changelog', serial);
  log.info({ projects: listed, gone, serial }, 'index listed');
  return { projects: listed, serial, gone };
}
