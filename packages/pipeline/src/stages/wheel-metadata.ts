import { type CrawlError, invariantError, toCrawlError } from '@pypi-graph/core';
import { fileBySha256, type RequirementRow, saveExtraction, wheelsWithoutMetadata } from '@pypi-graph/db';
import { parseCoreMetadata, parseRequirement, pep503Name, readDependencyFields } from '@pypi-graph/pyspec';
import { z } from 'zod';
import type { PipelineContext, QueueDefinition } from '../context';
import { logRepairs } from '../text-repairs';
import { enqueueFileJobs } from './file-jobs';

/** Bumped when what a wheel job stores changes; older results are then read again. */
export const WHEEL_EXTRACTOR_VERSION = '1';

const WheelPayload = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  filename: z.string().min(1).max(500),
});
export type WheelPayload = z.infer<typeof WheelPayload>;

/**
 * Requirement rows for a wheel's METADATA: every field verbatim, parsed where it parses.
 * `notUtf8Lines`: lines of METADATA read as Latin-1 because they were not UTF-8.
 */
export function wheelRequirementRows(metadata: Buffer): { rows: RequirementRow[]; notUtf8Lines: number } {
  const meta = parseCoreMetadata(metadata);
  const fields = readDependencyFields(meta);
  const rows: RequirementRow[] = fields.requiresDist.map((requirement) => {
    try {
      const r = parseRequirement(requirement);
      return {
        kind: 'install',
        requirement,
        name: r.name,
        specifier: r.specifier || null,
        marker: r.markerText,
      };
    } catch {
      // Stored verbatim anyway (docs/formats.md §D): it fails only when a resolver selects it.
      return { kind: 'install', requirement };
    }
  });
  // pkginfo, which the original crawler read wheels with, drops the placeholder UNKNOWN.
  if (fields.requiresPython && fields.requiresPython !== 'UNKNOWN')
    rows.push({ kind: 'python', requirement: fields.requiresPython });
  for (const extra of fields.providesExtra) rows.push({ kind: 'provides-extra', requirement: extra });
  for (const ext of fields.requiresExternal) rows.push({ kind: 'external', requirement: ext });
  return { rows, notUtf8Lines: meta.notUtf8Lines };
}

async function recordFailure(ctx: PipelineContext, payload: WheelPayload, error: CrawlError, started: Date) {
  const file = await fileBySha256(ctx.db, payload.sha256, payload.filename);
  if (!file) return;
  await saveExtraction(ctx.db, {
    fileId: file.fileId,
    pythonKey: 'any',
    method: 'wheel',
    extractorVersion: WHEEL_EXTRACTOR_VERSION,
    status: 'failed',
    failureCode: error.code,
    log: error.message,
    startedAt: started,
    requirements: [],
  });
}

export const wheelQueue: QueueDefinition<WheelPayload> = {
  name: 'wheel-metadata',
  payload: WheelPayload,
  jobId: (p) => `wheel:${p.sha256}`,
  describe: (p) => ({ file: p.filename, sha256: p.sha256 }),
  attempts: 6,
  concurrency: (config) => config.wheelConcurrency,
  async process(ctx, payload, job) {
    const file = await fileBySha256(ctx.db, payload.sha256, payload.filename);
    if (!file) return { status: 'gone' };
    if (!ctx.wheels) throw invariantError('no wheel reader configured');
    const started = new Date();
    let result: Awaited<ReturnType<NonNullable<PipelineContext['wheels']>['read']>>;
    let rows: ReturnType<typeof wheelRequirementRows>;
    try {
      result = await ctx.wheels.read(file, job.signal);
      rows = wheelRequirementRows(result.metadata);
    } catch (thrown) {
      const err = toCrawlError(thrown);
      if (err.retryable) throw err;
      // Permanent: record it against the file; the job itself is done.
      await recordFailure(ctx, payload, err, started);
      job.log.warn({ code: err.code, err: err.message }, 'wheel metadata failed');
      return { status: 'failed', code: err.code };
    }
    const saved = await saveExtraction(ctx.db, {
      fileId: file.fileId,
      pythonKey: 'any',
      method: result.method,
      extractorVersion: WHEEL_EXTRACTOR_VERSION,
      status: 'ok',
      bytesTransferred: result.bytesTransferred,
      requests: result.requests,
      startedAt: started,
      requirements: rows.rows,
      textRepairs: rows.notUtf8Lines,
    });
    logRepairs(job.log, saved.textRepairs, { notUtf8Lines: rows.notUtf8Lines });
    job.log.debug(
      {
        method: result.method,
        bytes: result.bytesTransferred,
        requests: result.requests,
      },
      'wheel metadata read',
    );
    return { status: 'ok', method: result.method };
  },
  async onFailed(ctx, payload, error) {
    await recordFailure(ctx, payload, error, new Date());
  },
};

/** Enqueues a wheel job for every current wheel of the project without a result yet. */
export async function enqueueWheels(
  ctx: PipelineContext,
  projectName: string,
  priority?: number,
): Promise<number> {
  if (!ctx.wheels) return 0;
  const wheels = await wheelsWithoutMetadata(ctx.db, pep503Name(projectName), WHEEL_EXTRACTOR_VERSION);
  return enqueueFileJobs(ctx, 'wheel-metadata', wheels, priority);
}
