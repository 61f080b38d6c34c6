import { loadConfig } from '@pypi-graph/config';
import { silentLogger } from '@pypi-graph/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AnyQueueDefinition, PipelineContext } from '../src/context';
import { EmbeddedRunner } from '../src/embedded-runner';
import { backoffMs } from '../src/runner';

const config = loadConfig({ PROJECT_CONCURRENCY: '2' });
const base = {
  config,
  db: {} as PipelineContext['db'],
  api: {} as PipelineContext['api'],
  logger: silentLogger,
};

function projectDef(process: AnyQueueDefinition['process']) {
  return {
    name: 'project',
    payload: z.object({ name: z.string(), serial: z.number() }),
    jobId: (p: { name: string; serial: number }) => `project:${p.name}:${p.serial}`,
    attempts: 3,
    concurrency: (c: typeof config) => c.projectConcurrency,
    process,
  } satisfies AnyQueueDefinition;
}

// What an attempt's outcome is (validation, retries, final failures, onFailed, abort, statistics)
// is tested against both runners in runner-conformance.test.ts; here, what only this one does.
describe('EmbeddedRunner', () => {
  it('runs each job id once while it is queued, within the concurrency limit', async () => {
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    const runner = new EmbeddedRunner(base, {
      project: projectDef(async (_ctx, p: { name: string }) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        seen.push(p.name);
        running--;
      }),
    });
    for (const name of ['a', 'b', 'c', 'a', 'd', 'b']) await runner.enqueue('project', { name, serial: 1 });
    const stats = await runner.drain();
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(peak).toBe(2);
    expect(stats.queues.project?.completed).toBe(4);
  });

  it('runs lower priority numbers first', async () => {
    const order: string[] = [];
    const runner = new EmbeddedRunner(
      { ...base, config: loadConfig({ PROJECT_CONCURRENCY: '1' }) },
      {
        project: projectDef(async (_ctx, p: { name: string }) => {
          order.push(p.name);
          if (p.name === 'busy') await new Promise((r) => setTimeout(r, 30));
        }),
      },
    );
    await runner.enqueue('project', { name: 'busy', serial: 1 }, { priority: 10 });
    await runner.enqueue('project', { name: 'backfill-1', serial: 1 }, { priority: 10 });
    await runner.enqueue('project', { name: 'backfill-2', serial: 1 }, { priority: 10 });
    await runner.enqueue('project', { name: 'fresh', serial: 2 }, { priority: 1 });
    await runner.drain();
    expect(order).toEqual(['busy', 'fresh', 'backfill-1', 'backfill-2']);
  });
});

describe('backoffMs', () => {
  it('uses the server delay when given, else grows exponentially with jitter, capped', () => {
    expect(backoffMs(1, { retryAfterMs: 7000 })).toBe(7000);
    for (let a = 1; a <= 5; a++) {
      const v = backoffMs(a);
      expect(v).toBeGreaterThanOrEqual(0.75 * 500 * 2 ** (a - 1));
      expect(v).toBeLessThanOrEqual(1.25 * 500 * 2 ** (a - 1));
    }
    expect(backoffMs(30)).toBeLessThanOrEqual(75_000);
  });
});
