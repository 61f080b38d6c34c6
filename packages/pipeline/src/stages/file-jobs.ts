import { deferring } from '../backlog';
import type { PipelineContext } from '../context';

/**
 * One job per file of `queue` (wheel-metadata or sdist-extract): enqueued at once, or, with the
 * window on, deferred by id for the feeders to enqueue as the window drains. Returns how many.
 */
export async function enqueueFileJobs(
  ctx: PipelineContext,
  queue: 'wheel-metadata' | 'sdist-extract',
  files: ReadonlyArray<{ fileId: number; sha256: string; filename: string }>,
  priority?: number,
): Promise<number> {
  const backlog = deferring(ctx);
  if (backlog) {
    if (files.length > 0)
      await backlog.defer(
        queue,
        priority,
        files.map((f) => f.fileId),
      );
    return files.length;
  }
  for (const f of files) {
    await ctx.enqueue(queue, { sha256: f.sha256, filename: f.filename }, { priority });
  }
  return files.length;
}
