// Metrics, the /metrics endpoint and the BullMQ dashboard over real parts: the local PyPI server
// on the fixture index (with injected faults), PostgreSQL, the test Redis, real HTTP, and real
// `pnpm worker` / `pnpm dashboard` processes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type App, crawl, pipelineApi, startDashboard, startMetricsServer } from '@pypi-graph/cli';
import { loadConfig } from '@pypi-graph/config';
import { silentLogger } from '@pypi-graph/core';
import { readWheelMetadata } from '@pypi-graph/extractor';
import { processMetrics, QUEUE_NAMES } from '@pypi-graph/pipeline';
import { createPypiClient } from '@pypi-graph/pypi-client';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import {
  crawlEnv,
  createTestDatabase,
  deleteRedisPrefix,
  parseExposition,
  redisUrl,
  type Sample,
  sampleValue,
  startCli as start,
  uniqueName,
  watch,
} from '@pypi-graph/test-support';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: PypiServer;

beforeAll(async () => {
  server = await startPypiServer({ dir: path.resolve('test/fixtures/index') });
});
afterAll(async () => server?.close());

async function count(databaseUrl: string, sql: string): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ key: string | null; n: string }>(sql);
    return new Map(rows.map((r) => [r.key ?? '', Number(r.n)]));
  } finally {
    await c.end();
  }
}

/** Counter samples as `queue outcome code` → value. */
function jobCounts(samples: Sample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== 'pypi_graph_jobs_total') continue;
    const key = `${s.labels.queue} ${s.labels.outcome} ${s.labels.code}`;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

describe('metrics of an embedded crawl of the fixture index', () => {
  it('count what the database holds, failure codes included, and every byte the client received', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded', { HTTP_ATTEMPTS: '1' });
    // yanky's JSON API answer is broken (a permanent failure); oldstyle's fails once with a 503.
    server.setFaults([
      { match: '^/pypi/yanky/json/?$', kind: 'malformed-json' },
      { match: '^/pypi/oldstyle/json/?$', kind: '503', times: 1, retryAfter: 0 },
    ]);
    // createRunner gives the runners no metrics of their own: they record into the process's.
    const metrics = processMetrics();
    const client = createPypiClient(env.config, { onBytes: metrics.recordPypiBytes });
    const tmpDir = path.join(env.dataDir, 'tmp');
    const app: App = {
      ...env.app,
      api: pipelineApi(client),
      wheels: {
        read: (file, signal) => readWheelMetadata(client, file, { signal, tmpDir, logger: silentLogger }),
      },
    };
    try {
      const before = jobCounts(parseExposition(await metrics.text()));
      expect([...before.values()].reduce((a, b) => a + b, 0)).toBe(0);
      await crawl(app, { all: true });
      const samples = parseExposition(await metrics.text());
      const jobs = jobCounts(samples);
      const url = env.config.databaseUrl!;

      // discover: one job, done.
      expect(jobs.get('discover completed ')).toBe(1);
      // project: completed = projects stored without a failure; failed by code = their failure codes.
      const projectFailures = await count(
        url,
        `select failure_code as key, count(*) as n from projects where failure_code is not null group by 1`,
      );
      const projectsOk = await count(
        url,
        `select '' as key, count(*) as n from projects where failure_code is null`,
      );
      expect(projectFailures).toEqual(new Map([['response-invalid', 1]]));
      expect(jobs.get('project completed ')).toBe(projectsOk.get(''));
      expect(projectsOk.get('')).toBeGreaterThan(5);
      expect(jobs.get('project failed response-invalid')).toBe(1);
      expect(jobs.get('project retried http-5xx')).toBe(1);
      // wheel-metadata: completed = wheels with a result; failed by code = wheels with a failure.
      const wheels = await count(
        url,
        `select coalesce(e.failure_code, '') as key, count(*) as n from extractions e
           join files f on f.id = e.file_id where f.packagetype = 'bdist_wheel' group by 1`,
      );
      expect(wheels.get('archive-corrupt')).toBe(1);
      expect(jobs.get('wheel-metadata completed ')).toBe(wheels.get(''));
      expect(jobs.get('wheel-metadata failed archive-corrupt')).toBe(1);
      expect(wheels.get('')).toBeGreaterThan(5);
      // Nothing else happened (SDIST_EXTRACTION=off: no sdist jobs).
      expect([...jobs.keys()].sort()).toEqual(
        [
          'discover completed ',
          'project completed ',
          'project failed response-invalid',
          'project retried http-5xx',
          'wheel-metadata completed ',
          'wheel-metadata failed archive-corrupt',
        ].sort(),
      );
      // Every attempt is timed.
      for (const queue of ['discover', 'project', 'wheel-metadata']) {
        const attempts = [...jobs].filter(([k]) => k.startsWith(`${queue} `)).reduce((a, [, n]) => a + n, 0);
        expect(sampleValue(samples, 'pypi_graph_job_duration_seconds_count', { queue }), queue).toBe(
          attempts,
        );
      }

      // Bytes: every byte the client counted, by kind.
      const bytes = sampleValue(samples, 'pypi_graph_pypi_bytes_total');
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBe(client.stats().bytesReceived);
      expect(sampleValue(samples, 'pypi_graph_pypi_bytes_total', { kind: 'xmlrpc' })).toBeGreaterThan(0);
      expect(sampleValue(samples, 'pypi_graph_pypi_bytes_total', { kind: 'api' })).toBeGreaterThan(0);
      expect(sampleValue(samples, 'pypi_graph_pypi_bytes_total', { kind: 'metadata' })).toBeGreaterThan(0);

      // The same numbers over HTTP, as Prometheus scrapes them.
      const endpoint = await startMetricsServer(
        loadConfig({ METRICS_PORT: '0' }),
        metrics.registry,
        silentLogger,
      );
      try {
        expect(endpoint!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
        const res = await fetch(endpoint!.url);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
        const scraped = parseExposition(await res.text());
        expect(jobCounts(scraped)).toEqual(jobs);
        expect(sampleValue(scraped, 'pypi_graph_pypi_bytes_total')).toBe(bytes);
        expect(scraped.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
        expect((await fetch(new URL('/', endpoint!.url))).status).toBe(404);
        expect((await fetch(endpoint!.url, { method: 'POST' })).status).toBe(405);
      } finally {
        await endpoint?.close();
      }
    } finally {
      server.clearFaults();
      await client.close();
      await env.cleanup();
    }
  });

  it('has no endpoint without METRICS_PORT', async () => {
    expect(await startMetricsServer(loadConfig({}), processMetrics().registry, silentLogger)).toBeUndefined();
  });
});

describe('pnpm worker with METRICS_PORT', () => {
  it('serves /metrics with its jobs and the queue depths', async () => {
    const database = await createTestDatabase();
    const redis = await redisUrl();
    const prefix = uniqueName('obsw');
    const dataDir = await mkdtemp(path.join(tmpdir(), 'obs-worker-'));
    const worker = start(['worker'], {
      PYPI_URL: server.url,
      DATABASE_URL: database.url,
      REDIS_URL: redis,
      QUEUE_PREFIX: prefix,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'debug', // job lines are debug
      HTTP_RPS_PER_HOST: '0',
      SDIST_EXTRACTION: 'off',
      METRICS_PORT: '0',
    });
    const w = watch(worker);
    const queue = new Queue('project', { connection: { url: redis }, prefix });
    try {
      const [, url] = await w.waitFor(
        'stderr',
        /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)".*"msg":"metrics server listening"/,
      );
      await w.waitFor('stderr', /"msg":"worker started"/);
      await queue.add('project', { name: 'Foo_Bar', serial: 0 }, { jobId: 'project~foo-bar~0' });
      let samples: Sample[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await fetch(url!);
        expect(res.status).toBe(200);
        samples = parseExposition(await res.text());
        const done = sampleValue(samples, 'pypi_graph_jobs_total', {
          queue: 'project',
          outcome: 'completed',
        });
        const waiting = sampleValue(samples, 'pypi_graph_queue_jobs', { queue: 'wheel-metadata' });
        // The counters are read before the depths (from Redis) in one scrape: a wheel job that
        // ends between the two is in neither, so its own counter is waited for too.
        const wheelDone = sampleValue(samples, 'pypi_graph_jobs_total', {
          queue: 'wheel-metadata',
          outcome: 'completed',
        });
        if (done === 1 && waiting === 0 && wheelDone === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sampleValue(samples, 'pypi_graph_jobs_total', { queue: 'project', outcome: 'completed' })).toBe(
        1,
      );
      expect(
        sampleValue(samples, 'pypi_graph_jobs_total', { queue: 'wheel-metadata', outcome: 'completed' }),
      ).toBe(1);
      // Depths come from Redis at each scrape: a gauge per queue and state.
      for (const q of ['discover', 'project', 'wheel-metadata', 'sdist-extract']) {
        expect(
          samples.some((s) => s.name === 'pypi_graph_queue_jobs' && s.labels.queue === q),
          q,
        ).toBe(true);
      }
      // The job's log lines carry its subject.
      expect(w.out.stderr).toMatch(/"queue":"project","job":"project~foo-bar~0","project":"Foo_Bar"/);
      expect(w.out.stderr).toMatch(
        /"queue":"wheel-metadata","job":"wheel~[0-9a-f]{64}","file":"Foo_Bar-0\.2-py2\.py3-none-any\.whl","sha256":"[0-9a-f]{64}"/,
      );
    } finally {
      worker.kill('SIGTERM');
      expect(await w.exited, w.out.stderr).toBe(0);
      await queue.close();
      await deleteRedisPrefix(redis, prefix);
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the dashboard', () => {
  it('shows our queues and their counts on 127.0.0.1', async () => {
    const redis = await redisUrl();
    const prefix = uniqueName('obsd');
    const queues = ['project', 'wheel-metadata'].map(
      (name) => new Queue(name, { connection: { url: redis }, prefix }),
    );
    const board = await startDashboard({
      config: { redisUrl: redis, queuePrefix: prefix },
      logger: silentLogger,
      port: 0,
    });
    try {
      for (const name of ['a', 'b', 'c'])
        await queues[0]!.add('project', { name, serial: 1 }, { jobId: `project~${name}~1` });
      await queues[1]!.add('wheel-metadata', { sha256: 'f'.repeat(64), filename: 'x-1-py3-none-any.whl' });
      expect(board.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(board.url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain(`<title>pypi-graph (${prefix})</title>`);
      const api = (await (await fetch(new URL('api/queues', board.url))).json()) as {
        queues: Array<{ name: string; counts: Record<string, number> }>;
      };
      const byName = new Map(api.queues.map((q) => [q.name, q.counts]));
      expect([...byName.keys()].sort()).toEqual([...QUEUE_NAMES].sort());
      expect(byName.get('project')).toMatchObject({ waiting: 3, active: 0, failed: 0 });
      expect(byName.get('wheel-metadata')).toMatchObject({ waiting: 1 });
      expect(byName.get('discover')).toMatchObject({ waiting: 0 });
    } finally {
      await board.close();
      await Promise.all(queues.map((q) => q.close()));
      await deleteRedisPrefix(redis, prefix);
    }
  });

  it('pnpm dashboard: a clear error without REDIS_URL; with it, the page on 127.0.0.1 until SIGTERM', async () => {
    const without = watch(start(['dashboard', '--port', '0'], { REDIS_URL: '', LOG_LEVEL: 'silent' }));
    expect(await without.exited).toBe(1);
    expect(without.out.stderr).toContain('error [config-invalid]: `pnpm dashboard` needs REDIS_URL');
    expect(without.out.stderr).toMatch(/^hint: set REDIS_URL/m);

    const prefix = uniqueName('obsc');
    const redis = await redisUrl();
    const child = start(['dashboard', '--port', '0'], {
      REDIS_URL: redis,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
    });
    const w = watch(child);
    try {
      const [, url] = await w.waitFor('stdout', /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/) /m);
      const html = await (await fetch(url!)).text();
      expect(html).toContain(`<title>pypi-graph (${prefix})</title>`);
    } finally {
      child.kill('SIGTERM');
      expect(await w.exited, w.out.stderr).toBe(0);
      // The board's queues wrote their meta keys under the prefix.
      await deleteRedisPrefix(redis, prefix);
    }
  });
});
