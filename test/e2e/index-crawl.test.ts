// End to end over real parts: the local PyPI server on the fixture folder (real HTTP, real
// archives), real PostgreSQL / PGlite, real Redis for BullMQ. The published `pypi/` layout is
// compared byte for byte with what an independent Python oracle computes from the folder.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { crawl, takeSnapshot } from '@pypi-graph/cli';
import { getProject } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrawlEnv, crawlEnv, type DbKind, oraclePypi, type RunnerKind } from '../support/crawl-env';

const FIXTURES = path.resolve('test/fixtures/index');

async function readLayout(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(path.join(dir, name)));
  return out;
}

let server: PypiServer;
let oracle: Map<string, Buffer>;

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  oracle = await readLayout(await oraclePypi(FIXTURES));
});
afterAll(async () => server?.close());

const combos: Array<[RunnerKind, DbKind]> = [
  ['embedded', 'pglite'],
  ['embedded', 'postgres'],
  ['bullmq', 'postgres'],
  ['bullmq', 'pglite'],
];

describe('crawl --all of the fixture index, then snapshot', () => {
  const tarballs = new Map<string, string>();

  it.each(combos)('on the %s runner with %s gives exactly the oracle', async (runner, db) => {
    const env: CrawlEnv = await crawlEnv(server.url, db, runner);
    try {
      const outcome = await crawl(env.app, { all: true });
      expect(outcome.summary.failures).toEqual([]);
      expect(outcome.summary.filesAdded).toBeGreaterThan(10);
      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      const got = await readLayout(path.join(snap.dir, 'pypi'));
      expect(got.size).toBe(256);
      expect([...got.keys()]).toEqual([...oracle.keys()]);
      for (const [name, bytes] of oracle) {
        expect(got.get(name)?.toString('utf8'), `pypi/${name}`).toBe(bytes.toString('utf8'));
      }
      tarballs.set(`${runner}/${db}`, snap.tarballSha256);
    } finally {
      await env.cleanup();
    }
  });

  it('gives byte-identical tarballs under every runner and database', () => {
    expect(tarballs.size).toBe(combos.length);
    expect(new Set(tarballs.values()).size).toBe(1);
  });
});

describe('crawl --since', () => {
  it('reads the changelog from serial 0 and reaches the same state as --all', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      const outcome = await crawl(env.app, { since: '0' });
      expect(outcome.since).toBe(0);
      expect(outcome.summary.failures).toEqual([]);
      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      const got = await readLayout(path.join(snap.dir, 'pypi'));
      for (const [name, bytes] of oracle) expect(got.get(name)?.equals(bytes), `pypi/${name}`).toBe(true);
      // Continuing from the stored high-water mark finds nothing new.
      const again = await crawl(env.app, {});
      expect(again.since).toBe(server.lastSerial);
      expect(again.summary.filesAdded).toBe(0);
    } finally {
      await env.cleanup();
    }
  });

  it('maps a date to a serial through the stored changelog', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      await crawl(env.app, { since: '0' });
      const rows = server.index.changelog.since(0, 1_000_000);
      // A date between two events: the crawl starts at the serial of the last event before it.
      const pick = rows[Math.floor(rows.length / 2)]!;
      const before = rows.filter((r) => r.timestamp < pick.timestamp).at(-1)!;
      const iso = new Date(pick.timestamp * 1000).toISOString();
      const outcome = await crawl(env.app, { since: iso });
      expect(outcome.since).toBe(before.serial);
    } finally {
      await env.cleanup();
    }
  });
});

describe('yanked and removed', () => {
  it('records yanked files and releases as yanked, and never stores removed ones as current', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      await crawl(env.app, { all: true });
      const manifest = JSON.parse(await readFile(path.join(FIXTURES, 'pypi-index.json'), 'utf8')) as {
        files: Record<string, { yanked?: unknown; removed_at?: string }>;
      };
      const yanked = Object.entries(manifest.files).filter(([, f]) => f.yanked && !f.removed_at);
      const removed = Object.entries(manifest.files).filter(([, f]) => f.removed_at);
      expect(yanked.length).toBeGreaterThan(0);
      expect(removed.length).toBeGreaterThan(0);
      const { schema } = await import('@pypi-graph/db');
      const { inArray } = await import('drizzle-orm');
      const rows = await env.app.db
        .select({
          filename: schema.files.filename,
          yanked: schema.files.yanked,
          removed: schema.files.removed,
        })
        .from(schema.files)
        .where(
          inArray(
            schema.files.filename,
            [...yanked, ...removed].map(([n]) => n),
          ),
        );
      for (const [name] of yanked) expect(rows.find((r) => r.filename === name)?.yanked, name).toBe(true);
      for (const [name] of removed)
        expect(
          rows.find((r) => r.filename === name && !r.removed),
          name,
        ).toBeUndefined();
    } finally {
      await env.cleanup();
    }
  });
});

describe('show', () => {
  it('prints releases and files with their hashes', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded');
    try {
      await crawl(env.app, { project: ['Foo_Bar'] });
      const { show } = await import('@pypi-graph/cli');
      const text = await show(env.app, 'foo-bar');
      const project = await getProject(env.app.db, 'foo_bar');
      expect(project).toBeDefined();
      for (const r of project!.releases) {
        expect(text).toContain(r.version);
        for (const f of r.files)
          expect(text).toContain(`${f.filename}  ${f.packagetype} ${f.pythonVersion}  sha256:${f.sha256}`);
      }
    } finally {
      await env.cleanup();
    }
  });
});
