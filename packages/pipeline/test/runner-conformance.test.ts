// One suite, both runners: the embedded one (in this process) and the BullMQ one (on the test
// Redis, its own key prefix per test). Whatever carries the jobs, an attempt's outcome is the
// same: payload validation, retries and their delay, final failures, `onFailed`, abort, the
// statistics and the concurrency limit (docs/architecture.md §5, "One executor").
import { Writable } from 'node:stream';
import { loadConfig } from '@pypi-graph/config';
import { CrawlError, createLogger } from '@pypi-graph/core';
import { deleteRedisPrefix, redisUrl, uniqueName } from '@pypi-graph/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BullmqRunner } from '../src/bullmq-runner';
import type { AnyQueueDefinition, PipelineContext } from '../src/context';
import { EmbeddedRunner } from '../src/embedded-runner';
import { createMetrics } from '../src/metrics';
import type { Runner } from '../src/runner';

interface Payload {
  name: string;
  serial: number;
}

/** A processor's behaviour per job name; `calls` counts attempts, `recorded` the onFailed calls. */
interface Scenario {
  process(p: Payload, job: { attempt: number; signal: AbortSignal }): Promise<unknown>;
  onFailed?(p: Payload, err: CrawlError): Promise<void>;
  attempts?: number;
  concurrency?: number;
  /** Names the payload schema refuses from now on (a job enqueued while they were accepted). */
  refused?: Set<string>;
}

interface Opened {
  runner: Runner;
  /** Aborts the jobs the runner is running (embedded: close(); BullMQ: their cancellation). */
  abortRunning(): Promise<void>;
  /** The JSON log lines written so far. */
  logs: Array<Record<string, unknown>>;
}

function definition(s: Scenario): AnyQueueDefinition {
  return {
    name: 'project',
    payload: z.object({
      name: z.string().refine((n) => !s.refused?.has(n), 'refused'),
      serial: z.number(),
    }),
    jobId: (p: Payload) => `project:${p.name}:${p.serial}`,
    attempts: s.attempts ?? 3,
    concurrency: () => s.concurrency ?? 1,
    process: (_ctx, p: Payload, job) => s.process(p, job),
    onFailed: s.onFailed && ((_ctx, p: Payload, err) => s.onFailed!(p, err)),
  };
}

function capture() {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logs, logger: createLogger({ level: 'warn', destination }) };
}

function base(logger: PipelineContext['logger']) {
  return {
    config: loadConfig({}),
    // The processors below never touch the database or the index.
    db: {} as PipelineContext['db'],
    api: {} as PipelineContext['api'],
    logger,
    metrics: createMetrics(),
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const runners: Array<[string, (s: Scenario) => Promise<Opened>]> = [
  [
    'embedded',
    async (s) => {
      const { logs, logger } = capture();
      const runner = new EmbeddedRunner(base(logger), { project: definition(s) });
      cleanups.push(() => runner.close());
      await runner.start();
      return { runner, logs, abortRunning: () => runner.close() };
    },
  ],
  [
    'bullmq',
    async (s) => {
      const { logs, logger } = capture();
      const url = await redisUrl();
      const prefix = uniqueName('conf');
      const runner = new BullmqRunner(
        base(logger),
        { project: definition(s) },
        {
          redisUrl: url,
          prefix,
          work: true,
        },
      );
      cleanups.push(async () => {
        await runner.close();
        await deleteRedisPrefix(url, prefix);
      });
      await runner.start();
      return {
        runner,
        logs,
        abortRunning: async () => runner.cancelRunning(),
      };
    },
  ],
];

/** Resolves once `release()` is called. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((r) => {
    release = r;
  });
  return { opened, release };
}

describe.each(runners)('%s runner', (_kind, open) => {
  it('refuses an invalid payload at enqueue with a typed error', async () => {
    const { runner } = await open({ process: async () => {} });
    await expect(runner.enqueue('project', { name: 3 })).rejects.toMatchObject({
      code: 'job-payload-invalid',
    });
  });

  it('validates a payload again when the job is taken: refused, it fails for good, unprocessed, unretried', async () => {
    const refused = new Set<string>();
    const seen: string[] = [];
    const recorded: string[] = [];
    const hold = gate();
    const { runner, logs } = await open({
      refused,
      process: async (p) => {
        seen.push(p.name);
        if (p.name === 'first') await hold.opened;
      },
      onFailed: async (p) => {
        recorded.push(p.name);
      },
    });
    // Concurrency 1: `first` runs while `changed` waits, valid when it was added.
    await runner.enqueue('project', { name: 'first', serial: 1 });
    await runner.enqueue('project', { name: 'changed', serial: 1 });
    refused.add('changed');
    hold.release();
    const stats = await runner.drain(undefined, 50);
    expect(seen).toEqual(['first']);
    // No payload to record a failure against: onFailed is not called.
    expect(recorded).toEqual([]);
    expect(stats.failures).toEqual({ 'job-payload-invalid': 1 });
    expect(stats.queues.project).toMatchObject({ completed: 1, failed: 1, retried: 0 });
    expect(logs.filter((l) => l.msg === 'job payload invalid')).toHaveLength(1);
  });

  it('retries a retryable error after its delay up to the limit, then fails for good and records it once', async () => {
    const times = new Map<string, number[]>();
    const recorded: string[] = [];
    const { runner } = await open({
      attempts: 3,
      concurrency: 2,
      process: async (p, job) => {
        times.set(p.name, [...(times.get(p.name) ?? []), Date.now()]);
        if (p.name === 'flaky' && job.attempt === 1)
          throw new CrawlError('http-429', 'slow down', { retryAfterMs: 150 });
        if (p.name === 'down') throw new CrawlError('http-5xx', 'down', { retryAfterMs: 150 });
      },
      onFailed: async (p, err) => {
        recorded.push(`${p.name} ${err.code}`);
      },
    });
    for (const name of ['flaky', 'down']) await runner.enqueue('project', { name, serial: 1 });
    const stats = await runner.drain(undefined, 50);
    expect(times.get('flaky')).toHaveLength(2);
    expect(times.get('down')).toHaveLength(3);
    for (const ts of times.values()) {
      // The server's Retry-After is honoured (a few ms of timer slack).
      for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(140);
    }
    expect(recorded).toEqual(['down http-5xx']);
    expect(stats.failures).toEqual({ 'http-5xx': 1 });
    expect(stats.queues.project).toMatchObject({ completed: 1, failed: 1, retried: 3 });
  });

  it('fails for good at once on a non-retryable error, and records it once', async () => {
    let calls = 0;
    const recorded: string[] = [];
    const { runner } = await open({
      process: async () => {
        calls++;
        throw new CrawlError('response-invalid', 'bad JSON');
      },
      onFailed: async (p, err) => {
        recorded.push(`${p.name} ${err.code}`);
      },
    });
    await runner.enqueue('project', { name: 'broken', serial: 1 });
    const stats = await runner.drain(undefined, 50);
    expect(calls).toBe(1);
    expect(recorded).toEqual(['broken response-invalid']);
    expect(stats.failures).toEqual({ 'response-invalid': 1 });
    expect(stats.queues.project).toMatchObject({ completed: 0, failed: 1, retried: 0 });
  });

  it('retries a fault of the machine, then fails for good without recording it against the job', async () => {
    let calls = 0;
    const recorded: string[] = [];
    const { runner } = await open({
      attempts: 2,
      process: async () => {
        calls++;
        throw new CrawlError('disk-full', 'no space left', { retryAfterMs: 10 });
      },
      onFailed: async (p) => {
        recorded.push(p.name);
      },
    });
    await runner.enqueue('project', { name: 'on-a-full-disk', serial: 1 });
    const stats = await runner.drain(undefined, 50);
    expect(calls).toBe(2);
    expect(recorded).toEqual([]);
    expect(stats.failures).toEqual({ 'disk-full': 1 });
    expect(stats.queues.project).toMatchObject({ failed: 1, retried: 1 });
  });

  it('logs an error of onFailed, and the job keeps its own failure (not retried, not counted twice)', async () => {
    let calls = 0;
    let recordings = 0;
    const { runner, logs } = await open({
      process: async () => {
        calls++;
        throw new CrawlError('response-invalid', 'bad JSON');
      },
      onFailed: async () => {
        recordings++;
        throw new Error('database went away');
      },
    });
    await runner.enqueue('project', { name: 'broken', serial: 1 });
    const stats = await runner.drain(undefined, 50);
    expect(calls).toBe(1);
    expect(recordings).toBe(1);
    expect(stats.failures).toEqual({ 'response-invalid': 1 });
    expect(stats.queues.project).toMatchObject({ failed: 1, retried: 0 });
    const logged = logs.filter((l) => l.msg === 'recording the failure failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 50, code: 'response-invalid', err: 'database went away' });
  });

  it('tries the job again when its failure could not be recorded for a fault that may pass', async () => {
    let calls = 0;
    const recordings: string[] = [];
    const { runner, logs } = await open({
      attempts: 3,
      process: async () => {
        calls++;
        throw new CrawlError('response-invalid', 'bad JSON');
      },
      onFailed: async (p, err) => {
        recordings.push(`${p.name} ${err.code}`);
        // The database restarting: the first recording fails, the next one is stored.
        if (recordings.length === 1) throw new CrawlError('database-unavailable', 'connection reset');
      },
    });
    await runner.enqueue('project', { name: 'broken', serial: 1 });
    const stats = await runner.drain(undefined, 50);
    expect(calls).toBe(2);
    expect(recordings).toEqual(['broken response-invalid', 'broken response-invalid']);
    expect(stats.failures).toEqual({ 'response-invalid': 1 });
    expect(stats.queues.project).toMatchObject({ failed: 1, retried: 1 });
    expect(logs.filter((l) => l.msg === 'recording the failure failed, retrying the job')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'recording the failure failed')).toHaveLength(0);
  });

  it('on abort: the job ends as aborted, unretried, and nothing is recorded against it', async () => {
    let calls = 0;
    const recorded: string[] = [];
    const started = gate();
    const { runner, abortRunning } = await open({
      attempts: 3,
      process: async (_p, job) => {
        calls++;
        if (calls > 1) return;
        started.release();
        await new Promise((r) => job.signal.addEventListener('abort', r, { once: true }));
        // A request cut short by the abort surfaces as any network code, retryable here.
        throw new CrawlError('http-5xx', 'connection reset');
      },
      onFailed: async (p, err) => {
        recorded.push(`${p.name} ${err.code}`);
      },
    });
    await runner.enqueue('project', { name: 'interrupted', serial: 1 });
    await started.opened;
    await abortRunning();
    const stats = await runner.drain(undefined, 50);
    expect(calls).toBe(1);
    expect(recorded).toEqual([]);
    expect(stats.failures).toEqual({ aborted: 1 });
    expect(stats.queues.project).toMatchObject({ completed: 0, failed: 1, retried: 0 });
  });

  it('keeps to the concurrency limit, and counts the same statistics for a mixed batch', async () => {
    let running = 0;
    let peak = 0;
    const { runner } = await open({
      attempts: 2,
      concurrency: 2,
      process: async (p, job) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 40));
        running--;
        if (p.name.startsWith('flaky') && job.attempt === 1)
          throw new CrawlError('http-5xx', 'once', { retryAfterMs: 10 });
        if (p.name.startsWith('bad')) throw new CrawlError('response-invalid', 'never');
      },
      onFailed: async () => {},
    });
    for (const name of ['ok-1', 'ok-2', 'ok-3', 'flaky-1', 'flaky-2', 'bad-1'])
      await runner.enqueue('project', { name, serial: 1 });
    const stats = await runner.drain(undefined, 50);
    expect(peak).toBe(2);
    expect(stats.failures).toEqual({ 'response-invalid': 1 });
    expect(stats.queues.project).toEqual({ waiting: 0, active: 0, completed: 5, failed: 1, retried: 2 });
  });
});
