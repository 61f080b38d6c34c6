// Stage 2 (docs/architecture.md §2): one project's page on the index, merged from the JSON and
// Simple APIs, stored; its wheels and sdists without a result are queued.
import { CrawlError } from '@pypi-graph/core';
import { clearPendingProject, markProjectRemoved, recordProjectFailure, saveProject } from '@pypi-graph/db';
import { pep503Name } from '@pypi-graph/pyspec';
import { z } from 'zod';
import type { PipelineContext, QueueDefinition } from '../context';
import { mergeProject } from '../merge';
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
