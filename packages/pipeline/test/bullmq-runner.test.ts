// The BullMQ runner on the test Redis (its own key prefix per test): fresh work before backfill,
// a job written by another producer is validated when it is taken. What an attempt's outcome is
// (retries, final failures, onFailed, abort, statistics) is tested against both runners in
// runner-conformance.test.ts.
import { loadConfig } from '@pypi-graph/config';
import { silentLogger } from '@pypi-graph/core';
import { deleteRedisPrefix, redisUrl, uniqueName } from '@pypi-graph/test-support';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BullmqRunner } from '../src/bullmq-runner';
import type { AnyQueueDefinition, PipelineContext } from '../src/context';
import { createMetrics } from '../src/metrics';

const base = {
  config: loadConfig({ PROJECT_CONCURRENCY: '1' }),
  // The processors below never touch the database or the index.
  db: {} as PipelineContext['db'],
  api: {} as PipelineContext['api'],
  logger: silentLogger,
};

function projectDef(process: AnyQueueDefinition['process']): AnyQueueDefinition {
  return {
    name: 'project',
    payload: z.object({ name: z.string(), serial: z.number() }),
    jobId: (p: { name: string; serial: number }) => `project:${p.name}:${p.serial}`,
    attempts: 2,
    concurrency: () => 1,
    process,
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function runnerFor(defs: Partial<Record<'project', AnyQueueDefinition>>, work: boolean) {
  const url = await redisUrl();
  const prefix = uniqueName('brt');
  const runner = new BullmqRunner({ ...base, metrics: createMetrics() }, defs, {
    redisUrl: url,
    prefix,
    work,
  });
  cleanups.push(async () => {
    await runner.close();
    await deleteRedisPrefix(url, prefix);
  });
  return { runner, url, prefix };
}

describe('BullmqRunner', () => {
  it('takes fresh work (priority 1) before backfill (priority 10) queued earlier', async () => {
    const order: string[] = [];
    const def = projectDef(async (_ctx, p: { name: string }) => {
      order.push(p.name);
    });
    // Enqueued with no worker running, then one worker with concurrency 1 takes them.
    const url = await redisUrl();
    const prefix = uniqueName('brt');
    cleanups.push(() => deleteRedisPrefix(url, prefix));
    const producer = new BullmqRunner(base, { project: def }, { redisUrl: url, prefix, work: false });
    for (const name of ['backfill-1', 'backfill-2', 'backfill-3'])
      await producer.enqueue('project', { name, serial: 1 }, { priority: 10 });
    await producer.enqueue('project', { name: 'fresh', serial: 2 }, { priority: 1 });
    await producer.close();
    const consumer = new BullmqRunner(base, { project: def }, { redisUrl: url, prefix, work: true });
    cleanups.unshift(() => consumer.close());
    await consumer.start();
    await consumer.drain();
    expect(order).toEqual(['fresh', 'backfill-1', 'backfill-2', 'backfill-3']);
  });

  it('validates a payload when the job is taken: a bad one fails for good, unprocessed', async () => {
    let processed = 0;
    const def = projectDef(async () => {
      processed++;
    });
    const { runner, url, prefix } = await runnerFor({ project: def }, true);
    // Written straight into the queue, as an older or foreign producer might.
    const raw = new Queue('project', { connection: { url }, prefix });
    await raw.add('project', { name: 42 }, { jobId: 'project~bad~1' });
    await runner.start();
    await runner.drain();
    const failed = await raw.getFailed();
    await raw.close();
    expect(processed).toBe(0);
    expect(failed.map((j) => [j.id, j.failedReason.split(':')[0], j.attemptsMade])).toEqual([
      ['project~bad~1', 'job-payload-invalid', 1],
    ]);
  });
});
