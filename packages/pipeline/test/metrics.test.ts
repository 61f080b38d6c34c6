// Job metrics and job loggers of both runners, on the same queue definition: the embedded runner
// in process, the BullMQ runner on the test Redis (a key prefix of its own).
import { Writable } from 'node:stream';
import { loadConfig } from '@pypi-graph/config';
import { CrawlError, createLogger } from '@pypi-graph/core';
import {
  deleteRedisPrefix,
  parseExposition,
  redisUrl,
  sampleValue,
  uniqueName,
} from '@pypi-graph/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BullmqRunner } from '../src/bullmq-runner';
import type { AnyQueueDefinition, PipelineContext } from '../src/context';
import { EmbeddedRunner } from '../src/embedded-runner';
import { createMetrics, type PipelineMetrics, processMetrics } from '../src/metrics';
import type { Runner } from '../src/runner';

const config = loadConfig({ PROJECT_CONCURRENCY: '4' });
const prefixes: string[] = [];

afterAll(async () => {
  if (prefixes.length === 0) return;
  const url = await redisUrl();
  for (const p of prefixes) await deleteRedisPrefix(url, p);
});

/** A logger whose JSON lines are kept. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

/** ok: done; flaky: a retryable failure, then done; broken: fails for good; recorded: a failure recorded against its subject. */
function projectDef(): AnyQueueDefinition {
  const attempts = new Map<string, number>();
  return {
    name: 'project',
    payload: z.object({ name: z.string(), serial: z.number() }),
    jobId: (p: { name: string; serial: number }) => `project:${p.name}:${p.serial}`,
    describe: (p: { name: string }) => ({ project: p.name }),
    attempts: 3,
    concurrency: (c) => c.projectConcurrency,
    async process(_ctx, p: { name: string }, job) {
      const n = (attempts.get(p.name) ?? 0) + 1;
      attempts.set(p.name, n);
      job.log.info('working');
      if (p.name === 'flaky' && n === 1) throw new CrawlError('http-5xx', 'down', { retryAfterMs: 1 });
      if (p.name === 'broken') throw new CrawlError('response-invalid', 'bad JSON');
      if (p.name === 'recorded') return { status: 'failed', code: 'archive-corrupt' };
      return { status: 'saved' };
    },
  };
}

async function runAll(kind: 'embedded' | 'bullmq', metrics: PipelineMetrics) {
  const { logger, lines } = capturingLogger();
  const base: Omit<PipelineContext, 'enqueue'> = {
    config,
    db: {} as PipelineContext['db'],
    api: {} as PipelineContext['api'],
    logger,
    metrics,
  };
  let runner: Runner;
  if (kind === 'embedded') runner = new EmbeddedRunner(base, { project: projectDef() });
  else {
    const prefix = uniqueName('pgm');
    prefixes.push(prefix);
    runner = new BullmqRunner(
      base,
      { project: projectDef() },
      { redisUrl: await redisUrl(), prefix, work: true },
    );
  }
  try {
    await runner.start();
    for (const name of ['ok', 'flaky', 'broken', 'recorded'])
      await runner.enqueue('project', { name, serial: 1 });
    await runner.drain(undefined, 50);
  } finally {
    await runner.close();
  }
  return lines;
}

describe('job metrics', () => {
  const texts = new Map<string, string>();

  it.each(['embedded', 'bullmq'] as const)(
    'the %s runner counts outcomes, codes and durations',
    async (kind) => {
      const metrics = createMetrics();
      const lines = await runAll(kind, metrics);
      const text = await metrics.text();
      texts.set(kind, text);
      const samples = parseExposition(text);
      const jobs = (outcome: string, code: string) =>
        sampleValue(samples, 'pypi_graph_jobs_total', { queue: 'project', outcome, code });
      expect(jobs('completed', '')).toBe(2);
      expect(jobs('retried', 'http-5xx')).toBe(1);
      expect(jobs('failed', 'response-invalid')).toBe(1);
      expect(jobs('failed', 'archive-corrupt')).toBe(1);
      expect(sampleValue(samples, 'pypi_graph_jobs_total')).toBe(5);
      // Every attempt is timed.
      expect(sampleValue(samples, 'pypi_graph_job_duration_seconds_count', { queue: 'project' })).toBe(5);
      expect(
        sampleValue(samples, 'pypi_graph_job_duration_seconds_bucket', { queue: 'project', le: '+Inf' }),
      ).toBe(5);

      // Each job's logger carries its queue, id and subject.
      const working = lines.filter((l) => l.msg === 'working');
      expect(working).toHaveLength(5);
      for (const l of working) {
        expect(l.queue).toBe('project');
        expect(String(l.job)).toMatch(/^project[:~]\w+[:~]1$/);
        expect(String(l.job)).toContain(String(l.project));
      }
      const failed = lines.find((l) => l.msg === 'job failed');
      expect(failed).toMatchObject({ queue: 'project', project: 'broken', code: 'response-invalid' });
    },
  );

  it('is the same exposition from both runners, durations aside', () => {
    // Sorted: a counter lists its label sets in the order they first occurred, and with jobs
    // running at once that order is the machine's (seen under load), not the runner's.
    const strip = (t: string) =>
      t
        .split('\n')
        .filter((l) => !l.includes('job_duration_seconds'))
        .sort()
        .join('\n');
    expect(texts.size).toBe(2);
    expect(strip(texts.get('bullmq')!)).toBe(strip(texts.get('embedded')!));
  });

  it('reads BullMQ queue depths when scraped, and stops when the runner closes', async () => {
    const metrics = createMetrics();
    const prefix = uniqueName('pgm');
    prefixes.push(prefix);
    const base = {
      config,
      db: {} as PipelineContext['db'],
      api: {} as PipelineContext['api'],
      logger: createLogger({ level: 'silent' }),
      metrics,
    };
    const runner = new BullmqRunner(
      base,
      { project: projectDef() },
      { redisUrl: await redisUrl(), prefix, work: false },
    );
    for (const name of ['a', 'b', 'c']) await runner.enqueue('project', { name, serial: 1 });
    await runner.enqueue('project', { name: 'd', serial: 1 }, { priority: 10 });
    let samples = parseExposition(await metrics.text());
    expect(sampleValue(samples, 'pypi_graph_queue_jobs', { queue: 'project', state: 'waiting' })).toBe(3);
    expect(sampleValue(samples, 'pypi_graph_queue_jobs', { queue: 'project', state: 'prioritized' })).toBe(1);
    expect(sampleValue(samples, 'pypi_graph_queue_jobs', { queue: 'project', state: 'active' })).toBe(0);
    await runner.close();
    samples = parseExposition(await metrics.text());
    expect(samples.filter((s) => s.name === 'pypi_graph_queue_jobs')).toEqual([]);
  });

  it('sets the lag, observes sandbox time and bytes by kind', async () => {
    const metrics = createMetrics();
    metrics.setLag(42);
    metrics.observeSandbox(12.5, 'ok');
    metrics.observeSandbox(0.5, 'failed');
    metrics.recordPypiBytes('range', 100);
    metrics.recordPypiBytes('range', 20);
    metrics.recordPypiBytes('api', 7);
    const samples = parseExposition(await metrics.text());
    expect(sampleValue(samples, 'pypi_graph_index_lag_serials')).toBe(42);
    expect(sampleValue(samples, 'pypi_graph_sandbox_seconds_sum', { result: 'ok' })).toBe(12.5);
    expect(sampleValue(samples, 'pypi_graph_sandbox_seconds_count')).toBe(2);
    expect(sampleValue(samples, 'pypi_graph_pypi_bytes_total', { kind: 'range' })).toBe(120);
    expect(sampleValue(samples, 'pypi_graph_pypi_bytes_total', { kind: 'api' })).toBe(7);
  });

  it('keeps registries apart; the process one also has process metrics', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.setLag(1);
    expect(sampleValue(parseExposition(await b.text()), 'pypi_graph_index_lag_serials')).toBe(0);
    expect(processMetrics()).toBe(processMetrics());
    const text = await processMetrics().text();
    parseExposition(text);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toContain('# TYPE pypi_graph_jobs_total counter');
  });
});
