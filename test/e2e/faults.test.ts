// Bad input and a misbehaving index, for real: the local server injects the faults over HTTP.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectIndex, crawl } from '@pypi-graph/cli';
import { silentLogger } from '@pypi-graph/core';
import { getProject, storeCounts } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { crawlEnv } from '@pypi-graph/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = path.resolve('test/fixtures/index');
let server: PypiServer;

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
});
afterAll(async () => server?.close());
afterEach(() => server.clearFaults());

describe('faults from the index', () => {
  it('fails only the project whose JSON is malformed, with a clear code; the others complete', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      const clean = await crawlEnv(server.url, 'pglite', 'embedded');
      await crawl(clean.app, { all: true });
      const expected = await storeCounts(clean.app.db);
      await clean.cleanup();

      server.setFaults([{ match: '^/pypi/[Ff]oo[-_][Bb]ar/json$', kind: 'malformed-json' }]);
      const outcome = await crawl(env.app, { all: true });
      // (and the fixture folder's broken wheel, as in any full crawl of it)
      expect(outcome.summary.failures).toEqual([
        { code: 'archive-corrupt', count: 1 },
        { code: 'response-invalid', count: 1 },
      ]);
      const broken = await getProject(env.app.db, 'foo-bar');
      expect(broken?.failureCode).toBe('response-invalid');
      expect(broken?.releases).toEqual([]);
      const counts = await storeCounts(env.app.db);
      // The failed project has a row (carrying its failure) but nothing else.
      expect(counts.projects).toBe(expected.projects);
      expect(counts.files).toBe(expected.files - (await filesOf(server, 'foo-bar')));
    } finally {
      await env.cleanup();
    }
  });

  it('keeps what is stored when a later crawl of a project fails', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      await crawl(env.app, { project: ['Foo_Bar'] });
      const before = await getProject(env.app.db, 'foo-bar');
      expect(before?.releases.flatMap((r) => r.files).length).toBeGreaterThan(0);
      server.setFaults([{ match: '^/simple/foo-bar/$', kind: 'malformed-json' }]);
      const outcome = await crawl(env.app, { project: ['Foo_Bar'] });
      expect(outcome.summary.failures).toEqual([{ code: 'response-invalid', count: 1 }]);
      const after = await getProject(env.app.db, 'foo-bar');
      expect(after?.failureCode).toBe('response-invalid');
      expect(after?.releases).toEqual(before?.releases);
    } finally {
      await env.cleanup();
    }
  });

  it('slows down on 429 with Retry-After and on 503 instead of failing', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded');
    try {
      server.resetStats();
      server.setFaults([
        { match: '^/simple/', kind: '429', retryAfter: 1, times: 4 },
        { match: '^/pypi/[^/]+/json$', kind: '503', times: 3 },
        { match: '^/pypi$', method: 'POST', kind: 'xmlrpc-rate-limit', times: 1 },
      ]);
      const started = Date.now();
      const outcome = await crawl(env.app, { all: true });
      expect(outcome.summary.failures).toEqual([{ code: 'archive-corrupt', count: 1 }]); // the broken fixture wheel
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(server.faults().every((f) => f.remaining === 0)).toBe(true);
      const counts = await storeCounts(env.app.db);
      expect(counts.projects).toBe(server.index.projects.size);
    } finally {
      await env.cleanup();
    }
  });
});

describe('downloads', () => {
  it('rejects bytes that do not match the sha256 and leaves nothing behind', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    const dir = await mkdtemp(path.join(tmpdir(), 'dl-'));
    const index = connectIndex(env.config, silentLogger);
    try {
      await crawl(env.app, { project: ['Foo_Bar'] });
      const file = (await getProject(env.app.db, 'foo-bar'))!.releases[0]!.files[0]!;
      const ok = await index.client.download(file.url, {
        sha256: file.sha256,
        size: file.size ?? undefined,
        dir,
      });
      expect(ok.sha256).toBe(file.sha256);
      await rm(ok.path);

      server.setFaults([{ match: file.filename.replace(/[.+]/g, '\\$&'), kind: 'wrong-bytes' }]);
      await expect(index.client.download(file.url, { sha256: file.sha256, dir })).rejects.toMatchObject({
        code: 'download-sha256-mismatch',
      });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await index.close();
      await rm(dir, { recursive: true, force: true });
      await env.cleanup();
    }
  });
});

async function filesOf(s: PypiServer, name: string): Promise<number> {
  const project = s.index.projects.get(name);
  if (!project) throw new Error(`no project ${name} on the server`);
  return project.releases.flatMap((r) => r.files).filter((f) => !f.removed).length;
}
