// Stage 2 (docs/architecture.md §2): one project's page on the index, merged from the JSON and
// Simple APIs, stored; its wheels and sdists without a result are queued.
import { CrawlError } from '@pypi-graph/core';
import { clearPendingProject, markProjectRemoved, recordProjectFailure, saveProject } from '@pypi-graph/db';
import { pep503Name } from '@pypi-graph/pyspec';
import { z } from 'zod';
import type { PipelineContext, QueueDefinition } from '../context';
import { type MergeResult, mergeProject } from '../merge';
import { enqueueSdists } from './sdist-extract';
import { enqueueWheels } from './wheel-metadata';

const ProjectPayload = z.object({
  name: z.string().min(1).max(300),
  /** The serial that made us look (changelog or listing); 0 when asked by hand. */
  serial: z.number().int().min(0),
  priority: z.number().int().optional(),
});
export type ProjectPayload = z.infer<typeof ProjectPayload>;

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
    const merged = await fetchProject(ctx, name, job.signal);
    if (merged === 'not-found') {
      const out = await markProjectRemoved(ctx.db, name, payload.serial);
      await clearPendingProject(ctx.db, name, payload.serial);
      job.log.info({ filesRemoved: out.filesRemoved }, 'project removed from the index');
      return { status: 'removed', filesAdded: 0, filesRemoved: out.filesRemoved };
    }
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

/**
 * The project's two answers, merged; 'not-found' when the index no longer has it. The answers
 * themselves are dropped on return: only the merged record is held while it is stored.
 */
async function fetchProject(
  ctx: PipelineContext,
  name: string,
  signal: AbortSignal | undefined,
): Promise<MergeResult | 'not-found'> {
  try {
    const json = await ctx.api.getProjectJson(name, signal);
    const simple = await ctx.api.getSimpleProject(name, signal);
    return mergeProject(json, simple);
  } catch (err) {
    if (err instanceof CrawlError && err.code === 'project-not-found') return 'not-found';
    throw err;
  }
}
