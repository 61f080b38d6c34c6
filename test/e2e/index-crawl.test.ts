// End to end over real parts: the local PyPI server on the fixture folder (real HTTP, real
// archives), real PostgreSQL / PGlite, real Redis for BullMQ. The published `pypi/` layout is
// compared byte for byte with what an independent Python oracle computes from the folder.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crawl, takeSnapshot } from '@pypi-graph/cli';
import { getProject, listFiles } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { type CrawlEnv, crawlEnv, type DbKind, oraclePypi, type RunnerKind } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = path.resolve('test/fixtures/index');
// The fixture folder's one broken wheel (test/fixtures/README.md: brokenpkg, a truncated zip)
// is the only failure a full crawl of it records.
const BROKEN_WHEEL = [{ code: 'archive-corrupt', count: 1 }];

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
      expect(outcome.summary.failures).toEqual(BROKEN_WHEEL);
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
      expect(outcome.summary.failures).toEqual(BROKEN_WHEEL);
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

describe('crawl --since a date with no history stored', () => {
  it('finds the serial by binary search over changelog_since_serial', async () => {
    const env = await crawlEnv(server.url, 'pglite', 'embedded', { XMLRPC_RPS: '50' });
    try {
      const rows = server.index.changelog.since(0, 1_000_000);
      const pick = rows[Math.floor((rows.length * 2) / 3)]!;
      const before = rows.filter((r) => r.timestamp < pick.timestamp).at(-1)!;
      const outcome = await crawl(env.app, { since: new Date(pick.timestamp * 1000).toISOString() });
      expect(outcome.since).toBe(before.serial);
      // Only the projects named after that serial were crawled.
      const named = new Set(rows.filter((r) => r.serial > before.serial).map((r) => r.name.toLowerCase()));
      expect(outcome.summary.projectsCrawled + outcome.summary.projectsRemoved).toBeLessThanOrEqual(
        named.size,
      );
      expect(outcome.summary.projectsCrawled).toBeGreaterThan(0);
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
      const rows = await listFiles(env.app.db, { filenames: [...yanked, ...removed].map(([n]) => n) });
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

describe('files, releases and projects removed after they were crawled', () => {
  it('are marked removed by the next crawl and leave the snapshot, which still matches the oracle', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'index-'));
    await cp(FIXTURES, folder, { recursive: true });
    let local = await startPypiServer({ dir: folder });
    const env = await crawlEnv(local.url, 'postgres', 'embedded');
    try {
      await crawl(env.app, { all: true });
      const manifestPath = path.join(folder, 'pypi-index.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      // After every event already in the changelog, so the removals get new serials.
      const later = '2031-01-01T00:00:00Z';
      manifest.files['acme.interface-1.0.tar.gz'].removed_at = later;
      manifest.releases ??= {};
      manifest.releases['Foo_Bar==0.1'] = { ...manifest.releases['Foo_Bar==0.1'], removed_at: later };
      manifest.projects ??= {};
      manifest.projects.oldstyle = { removed_at: later };
      await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
      const port = Number(new URL(local.url).port);
      await local.close();
      local = await startPypiServer({ dir: folder, port });

      const outcome = await crawl(env.app, {});
      expect(outcome.summary.failures).toEqual([]);
      expect(outcome.summary.projectsRemoved).toBe(1);
      expect(outcome.summary.filesRemoved).toBe(4); // 1 file + the release's 1 + the project's 2
      const acme = await getProject(env.app.db, 'acme.interface');
      const gone = acme?.releases
        .flatMap((r) => r.files)
        .find((f) => f.filename === 'acme.interface-1.0.tar.gz');
      expect(gone?.removed).toBe(true);
      const foo = await getProject(env.app.db, 'foo-bar');
      expect(foo?.releases.find((r) => r.version === '0.1')?.removed).toBe(true);
      expect(foo?.releases.find((r) => r.version === '0.2')?.removed).toBe(false);
      const old = await getProject(env.app.db, 'oldstyle');
      expect(old?.removed).toBe(true);
      expect(old?.releases.flatMap((r) => r.files).every((f) => f.removed)).toBe(true);

      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      const expected = await readLayout(await oraclePypi(folder));
      const got = await readLayout(path.join(snap.dir, 'pypi'));
      for (const [name, bytes] of expected)
        expect(got.get(name)?.toString(), `pypi/${name}`).toBe(bytes.toString());
    } finally {
      await env.cleanup();
      await local.close();
      await rm(folder, { recursive: true, force: true });
    }
  });
});
