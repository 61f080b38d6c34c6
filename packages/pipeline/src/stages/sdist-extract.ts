import { type CrawlError, invariantError, sandboxError, toCrawlError } from '@pypi-graph/core';
import {
  fileBySha256,
  isWaitingForSandbox,
  type RequirementRow,
  saveExtraction,
  sdistsWithoutDependencies,
} from '@pypi-graph/db';
import type { SdistDeps } from '@pypi-graph/model';
import { parseRequirement, pep503Name } from '@pypi-graph/pyspec';
import { z } from 'zod';
import type { PipelineContext, QueueDefinition } from '../context';
import { logRepairs } from '../text-repairs';
import { enqueueFileJobs } from './file-jobs';

/**
 * Bumped when what an sdist job stores changes (extractor script, methods, mapping); `recrawl`
 * then extracts every sdist again. 2: the declared build backend is followed (a setup.py stub
 * beside poetry, flit, hatchling… is not run; setuptools without setup.py runs `setup()`), an
 * optional dependency shared by several extras is in each of them, and `[build-system] requires`
 * is recorded as setup_requires (issue 11). 3: build dependencies from the crawled index (a
 * setup_requires plugin, a PEP 517 backend) are given to the sandbox; results record them (issue 11 §2).
 */
export const SDIST_EXTRACTOR_VERSION = '3';

const SdistPayload = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  filename: z.string().min(1).max(500),
});
export type SdistPayload = z.infer<typeof SdistPayload>;

function parsed(kind: RequirementRow['kind'], requirement: string, extra?: string): RequirementRow {
  try {
    const r = parseRequirement(requirement);
    return { kind, extra, requirement, name: r.name, specifier: r.specifier || null, marker: r.markerText };
  } catch {
    return { kind, extra, requirement };
  }
}

/** Requirement rows of one sdist result: every field verbatim, in order, parsed where it parses. */
export function sdistRequirementRows(deps: SdistDeps): RequirementRow[] {
  return [
    ...deps.install_requires.map((r) => parsed('install', r)),
    ...deps.setup_requires.map((r) => parsed('setup', r)),
    ...deps.tests_require.map((r) => parsed('test', r)),
    ...deps.extras_require.flatMap(([key, reqs]) =>
      // An extra with no requirements still exists: one row with an empty requirement keeps it.
      reqs.length === 0
        ? [{ kind: 'extra' as const, extra: key, requirement: '' }]
        : reqs.map((r) => parsed('extra', r, key)),
    ),
    ...(deps.python_requires !== null
      ? [{ kind: 'python' as const, requirement: deps.python_requires }]
      : []),
  ];
}

/** Failure codes that mean setup.py ran (or was being run) in the sandbox: its time counts. */
function ranSandbox(code: string): boolean {
  return (code.startsWith('sandbox-') && code !== 'sandbox-unavailable') || code === 'setup-py-error';
}

async function recordFailure(ctx: PipelineContext, payload: SdistPayload, error: CrawlError, started: Date) {
  const file = await fileBySha256(ctx.db, payload.sha256, payload.filename);
  if (!file) return;
  await saveExtraction(ctx.db, {
    fileId: file.fileId,
    pythonKey: 'any',
    method: 'sdist',
    extractorVersion: SDIST_EXTRACTOR_VERSION,
    // No sandbox here: not a failure of the file, work still to do (crawl --resume, the scheduler).
    status: error.code === 'sandbox-unavailable' ? 'waiting' : 'failed',
    failureCode: error.code,
    log: error.message,
    startedAt: started,
    requirements: [],
  });
}

export const sdistQueue: QueueDefinition<SdistPayload> = {
  name: 'sdist-extract',
  payload: SdistPayload,
  jobId: (p) => `sdist:${p.sha256}:${SDIST_EXTRACTOR_VERSION}`,
  describe: (p) => ({ file: p.filename, sha256: p.sha256 }),
  attempts: 3,
  concurrency: (config) => config.sdistConcurrency,
  async process(ctx, payload, job) {
    const file = await fileBySha256(ctx.db, payload.sha256, payload.filename);
    if (!file) return { status: 'gone' };
    if (!ctx.sdists) throw invariantError('no sdist extractor configured');
    const started = new Date();
    let outcome: Awaited<ReturnType<NonNullable<PipelineContext['sdists']>['extract']>>;
    const t0 = performance.now();
    try {
      if (
        ctx.sdists.sandboxState?.() === 'unavailable' &&
        (await isWaitingForSandbox(ctx.db, file.fileId, SDIST_EXTRACTOR_VERSION))
      ) {
        // Known to need setup.py, and still no sandbox here: not downloaded again.
        throw sandboxError('sandbox-unavailable', `${file.filename} still waits for a sandbox`);
      }
      outcome = await ctx.sdists.extract(file, job.signal);
    } catch (thrown) {
      const err = toCrawlError(thrown);
      if (ranSandbox(err.code)) ctx.metrics?.observeSandbox((performance.now() - t0) / 1000, 'failed');
      if (err.code === 'sandbox-unavailable') {
        // Fail closed, quietly: nothing of the file ran; it waits for a process with a sandbox
        // (the reason was logged once, when the sandbox was found missing).
        await recordFailure(ctx, payload, err, started);
        ctx.metrics?.countSandboxUnavailable();
        job.log.debug({ code: err.code, err: err.message }, 'sdist waits for a sandbox');
        return { status: 'waiting', code: err.code };
      }
      if (err.retryable) throw err;
      await recordFailure(ctx, payload, err, started);
      job.log.warn({ code: err.code, err: err.message }, 'sdist extraction failed');
      return { status: 'failed', code: err.code };
    }
    if (outcome.kind === 'static') {
      const saved = await saveExtraction(ctx.db, {
        fileId: file.fileId,
        pythonKey: 'any',
        method: outcome.method,
        extractorVersion: SDIST_EXTRACTOR_VERSION,
        status: 'ok',
        bytesTransferred: outcome.bytesTransferred,
        requests: 1,
        startedAt: started,
        requirements: sdistRequirementRows(outcome.deps),
        textRepairs: outcome.textRepairs,
      });
      logRepairs(job.log, saved.textRepairs, { method: outcome.method });
      job.log.debug({ method: outcome.method }, 'static metadata read');
      return { status: 'ok', method: outcome.method };
    }
    ctx.metrics?.observeSandbox((performance.now() - t0) / 1000, 'ok');
    for (const [pythonKey, result] of Object.entries(outcome.results)) {
      const saved = await saveExtraction(ctx.db, {
        fileId: file.fileId,
        pythonKey,
        method: result.method ?? 'setup.py',
        buildProvenance: result.provenance ?? null,
        extractorVersion: SDIST_EXTRACTOR_VERSION,
        // python-unavailable: that Python is not on this machine; not run here, not a failure of the file
        status: 'ok' in result ? 'ok' : result.error.code === 'python-unavailable' ? 'waiting' : 'failed',
        failureCode: 'ok' in result ? null : result.error.code,
        log: 'ok' in result ? null : result.error.log,
        bytesTransferred: outcome.bytesTransferred,
        requests: 1,
        startedAt: started,
        requirements: 'ok' in result ? sdistRequirementRows(result.ok) : [],
      });
      logRepairs(job.log, saved.textRepairs, { method: result.method ?? 'setup.py', pythonKey });
    }
    job.log.debug({ method: 'setup.py', pythons: Object.keys(outcome.results).length }, 'setup.py extracted');
    // Stored: the sandbox's output can leave the Nix store (a failure here loses nothing).
    await outcome.release?.().catch((err: unknown) => {
      job.log.warn({ err: (err as Error).message }, 'could not free the sandbox output');
    });
    return { status: 'ok', method: 'setup.py' };
  },
  async onFailed(ctx, payload, error) {
    await recordFailure(ctx, payload, error, new Date());
  },
};

/** Enqueues an sdist job for every current sdist of the project without a result yet. */
export async function enqueueSdists(
  ctx: PipelineContext,
  projectName: string,
  priority?: number,
): Promise<number> {
  if (!ctx.sdists) return 0;
  const sdists = await sdistsWithoutDependencies(ctx.db, pep503Name(projectName), SDIST_EXTRACTOR_VERSION);
  return enqueueFileJobs(ctx, 'sdist-extract', sdists, priority);
}
