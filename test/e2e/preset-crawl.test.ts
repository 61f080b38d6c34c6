// The real crawler (embedded runner, real PostgreSQL) against the PyPI-shaped preset of the
// local PyPI server at a small scale: the crawl must go through with zero failures, store
// exactly what the server serves, and a day later refresh for about one project job per
// changed project and a handful of changelog calls (the refresh benchmark's premise).
import { crawl } from '@pypi-graph/cli';
import { storeCounts } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { crawlEnv } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SPEC = 'pypi,scale=0.0005';

async function xmlrpc(url: string, method: string, params = ''): Promise<string> {
  const res = await fetch(`${url}/pypi`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml' },
    body: `<?xml version='1.0'?><methodCall><methodName>${method}</methodName><params>${params}</params></methodCall>`,
  });
  return res.text();
}

interface Served {
  projects: number;
  files: number;
  wheels: number;
}

/**
 * What the server serves, read over HTTP: the listing, then every project's JSON API. A listed
 * project without releases answers 404 there, as on PyPI, and the crawler counts it as gone.
 */
async function served(url: string): Promise<Served> {
  const listing = await xmlrpc(url, 'list_packages_with_serial');
  const names = [...listing.matchAll(/<name>([^<]+)<\/name>/g)].map((m) => m[1]!);
  let projects = 0;
  let files = 0;
  let wheels = 0;
  for (const name of names) {
    const res = await fetch(`${url}/pypi/${encodeURIComponent(name)}/json`);
    if (res.status === 404) {
      await res.arrayBuffer();
      continue;
    }
    projects++;
    const json = (await res.json()) as { releases: Record<string, Array<{ packagetype: string }>> };
    for (const list of Object.values(json.releases)) {
      files += list.length;
      wheels += list.filter((f) => f.packagetype === 'bdist_wheel').length;
    }
  }
  return { projects, files, wheels };
}

let server: PypiServer;
beforeAll(async () => {
  server = await startPypiServer({ synthetic: SPEC });
});
afterAll(async () => server?.close());

describe(`crawl of the PyPI-shaped preset (${SPEC})`, () => {
  it('goes through with zero failures and stores what is served, then refreshes a day for what changed', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded', { XMLRPC_RPS: '50' });
    try {
      const outcome = await crawl(env.app, { all: true });
      expect(outcome.summary.failures).toEqual([]);
      const before = await served(server.url);
      expect(before.projects).toBeGreaterThan(300);
      expect(before.files).toBeGreaterThan(3000);
      let counts = await storeCounts(env.app.db);
      expect([counts.projects, counts.files]).toEqual([before.projects, before.files]);
      // Every wheel's metadata was read, through its PEP 658 file.
      const pep658 = outcome.summary.extractions.find((e) => e.method === 'pep658')?.count ?? 0;
      expect(pep658).toBe(before.wheels);

      server.resetStats();
      const day = server.advanceDay();
      expect(day.events).toBeGreaterThan(0);
      const refresh = await crawl(env.app, {});
      expect(refresh.summary.failures).toEqual([]);
      expect(refresh.since).toBe(day.fromSerial);
      const stats = server.stats();
      // One JSON API request per changed project (a removed one answers 404), nothing for the others.
      const jsonAsked = server.requestLog.filter((r) => /^\/pypi\/[^/]+\/json$/.test(r.path));
      expect(new Set(jsonAsked.map((r) => r.path)).size).toBe(day.projects);
      expect(jsonAsked.length).toBe(day.projects);
      expect(stats.byRoute['simple-project'] ?? 0).toBeLessThanOrEqual(day.projects);
      expect(stats.byXmlrpcMethod.changelog_since_serial ?? 0).toBeLessThanOrEqual(3);
      expect(stats.byXmlrpcMethod.list_packages_with_serial ?? 0).toBe(0);
      const after = await served(server.url);
      counts = await storeCounts(env.app.db);
      expect([counts.projects, counts.files]).toEqual([after.projects, after.files]);
    } finally {
      await env.cleanup();
    }
  });
});
