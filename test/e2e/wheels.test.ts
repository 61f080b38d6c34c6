// Wheel dependencies as stored by a crawl of the fixture index, against what Python's own
// zipfile + email parsing reads from the same wheels at test time (issue 3 §5).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { crawl, takeSnapshot } from '@pypi-graph/cli';
import { listProjects, projectDependencies } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { checkSnapshotRequirements, crawlEnv } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = path.resolve('test/fixtures/index');
type PyWheel =
  | { requires_dist: string[]; requires_python: string | null; provides_extra: string[] }
  | { error: string };
let server: PypiServer;
let python: Record<string, PyWheel>;

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  const { stdout } = await promisify(execFile)('python3', [
    path.resolve('test/oracle/wheel_metadata.py'),
    FIXTURES,
  ]);
  python = JSON.parse(stdout);
});
afterAll(async () => server?.close());

describe('wheel dependencies', () => {
  it('are stored exactly as Python reads them from the wheels, and bad wheels get their code', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded');
    try {
      await crawl(env.app, { all: true });
      const projects = await listProjects(env.app.db);
      const stored = new Map<string, Awaited<ReturnType<typeof projectDependencies>>[number]>();
      for (const p of projects)
        for (const f of await projectDependencies(env.app.db, p.name)) stored.set(f.filename, f);

      const served = [...server.index.files.values()].filter((f) => f.filename.endsWith('.whl'));
      expect(served.length).toBeGreaterThanOrEqual(8);
      let checked = 0;
      for (const file of served) {
        const want = python[file.filename];
        const got = stored.get(file.filename);
        expect(want, file.filename).toBeDefined();
        expect(got?.extractions.length, file.filename).toBe(1);
        const ex = got!.extractions[0]!;
        if ('error' in want!) {
          expect(ex.status, file.filename).toBe('failed');
          expect(ex.failureCode, file.filename).toMatch(/^(archive|metadata|wheel)-/);
          continue;
        }
        expect(ex.status, `${file.filename}: ${ex.log}`).toBe('ok');
        expect(['pep658', 'range', 'download']).toContain(ex.method);
        const of = (kind: string) => ex.requirements.filter((r) => r.kind === kind).map((r) => r.requirement);
        expect(of('install'), file.filename).toEqual(want!.requires_dist);
        expect(of('python'), file.filename).toEqual(want!.requires_python ? [want!.requires_python] : []);
        expect(of('provides-extra'), file.filename).toEqual(want!.provides_extra);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(7);
      // The real wheels are there too (pip, setuptools), read through their .metadata files.
      expect(stored.get('pip-23.2.1-py3-none-any.whl')?.extractions[0]?.method).toBe('pep658');

      // show NAME==VERSION prints each wheel's dependencies and how they were read.
      const { show } = await import('@pypi-graph/cli');
      const shown = await show(env.app, 'Django_Like==3.2');
      const dj = python['Django_Like-3.2-py3-none-any.whl'] as { requires_dist: string[] };
      expect(shown).toMatch(
        /Django_Like-3\.2-py3-none-any\.whl .*\n +dependencies \((pep658|range|download), \d+ bytes in \d+ requests\):/,
      );
      for (const r of dj.requires_dist) expect(shown).toContain(`        ${r}`);
      expect(shown).not.toContain('4.0');
      const broken = await show(env.app, 'brokenpkg');
      expect(broken).toMatch(/dependencies: failed \[archive-corrupt\]/);

      // A second crawl finds nothing left to read.
      const again = await crawl(env.app, { all: true });
      expect(again.summary.extractions).toEqual([]);

      // The database keeps the verbatim text, blanks after the extras' commas included.
      const flask = 'Flask-Session[cachelib, memcached, mongodb, redis, sqlalchemy] ; extra == "all"';
      const django40 = stored.get('Django_Like-4.0-py3-none-any.whl')!.extractions[0]!;
      expect(django40.requirements.map((r) => r.requirement)).toContain(flask);

      // The snapshot's wheel/ layout carries them, every requirement string in its canonical
      // spelling: packaging reads and prints each unchanged, and mach-nix's parser reads each
      // (issue 11 §5; packages/test-support/src/mach-nix-requirement.ts), the Flask-Session line included.
      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      expect(snap.counts.wheel?.files).toBe(checked);
      const { strings, problems } = await checkSnapshotRequirements(snap.dir);
      expect(problems).toEqual([]);
      expect(strings).toContain('Flask-Session[cachelib,memcached,mongodb,redis,sqlalchemy]; extra == "all"');
      expect(strings).not.toContain(flask);
      // The real wheels' old spellings (`name (>=v) ; extra == 'x'`) are among them, rewritten.
      expect(strings.length).toBeGreaterThan(20);
      expect(strings.filter((s) => s.split(';')[0]!.includes('(') || s.includes("'"))).toEqual([]);
    } finally {
      await env.cleanup();
    }
  });
});
