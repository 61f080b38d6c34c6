// Sdist dependencies through the whole pipeline: crawl → sdist-extract job → download (sha256
// verified) → static metadata or setup.py in the real Nix sandbox → rows in the database.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crawl, takeSnapshot } from '@pypi-graph/cli';
import { projectDependencies } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { bucketOf } from '@pypi-graph/pyspec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crawlEnv } from '../support/crawl-env';

const SDISTS = path.resolve('test/fixtures/sdists');
const PYTHON_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

function hasNix(): boolean {
  try {
    execFileSync('nix-build', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let server: PypiServer;
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'sdist-index-'));
  for (const f of [
    'pkginfo22-static-1.0.tar.gz',
    'pep621-static-1.0.tar.gz',
    'setuppy-only-1.0.tar.gz',
    'nothing-1.0.tar.gz',
  ]) {
    await copyFile(path.join(SDISTS, f), path.join(folder, f));
  }
  server = await startPypiServer({ dir: folder });
});
afterAll(async () => {
  await server?.close();
  await rm(folder, { recursive: true, force: true });
});

describe('sdist dependencies in the crawl', () => {
  it.skipIf(!hasNix())(
    'uses static metadata when trustworthy, else setup.py under nine Pythons',
    async () => {
      const env = await crawlEnv(server.url, 'pglite', 'embedded', { SDIST_EXTRACTION: 'sandbox' });
      try {
        const outcome = await crawl(env.app, { all: true });
        expect(outcome.summary.failures).toEqual([{ code: 'no-static-metadata', count: 1 }]);

        const [pkginfo] = await projectDependencies(env.app.db, 'pkginfo22-static');
        expect(pkginfo?.extractions.map((e) => [e.pythonKey, e.method, e.status])).toEqual([
          ['any', 'pkg-info', 'ok'],
        ]);
        const [pep621] = await projectDependencies(env.app.db, 'pep621-static');
        expect(pep621?.extractions.map((e) => [e.pythonKey, e.method, e.status])).toEqual([
          ['any', 'pyproject', 'ok'],
        ]);
        expect(pep621?.extractions[0]?.requirements.some((r) => r.kind === 'python')).toBe(true);

        const [setuppy] = await projectDependencies(env.app.db, 'setuppy-only');
        const byKey = new Map(setuppy?.extractions.map((e) => [e.pythonKey, e]));
        expect([...byKey.keys()].sort()).toEqual([...PYTHON_KEYS].sort());
        for (const key of PYTHON_KEYS) {
          const e = byKey.get(key)!;
          expect([e.method, e.status], key).toEqual(['setup.py', 'ok']);
          expect(
            e.requirements.map((r) => [r.kind, r.requirement]),
            key,
          ).toEqual([['install', 'requests']]);
        }

        const [nothing] = await projectDependencies(env.app.db, 'nothing');
        expect(nothing?.extractions.map((e) => [e.status, e.failureCode])).toEqual([
          ['failed', 'no-static-metadata'],
        ]);

        // show --python: the setup.py result of that interpreter, with its method.
        const { show } = await import('@pypi-graph/cli');
        const shown = await show(env.app, 'setuppy-only==1.0', { python: '3.8' });
        expect(shown).toMatch(/dependencies \(setup\.py python 38, \d+ bytes in 1 requests\):\n +requests/);
        expect(shown).not.toContain('python 27');

        // The snapshot's sdist/ and sdist-errors/ layouts (FORMATS.md §B1, §B3).
        const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
        const bucket = async (layout: string, name: string) =>
          JSON.parse(await readFile(path.join(snap.dir, layout, `${bucketOf(name)}.json`), 'utf8'))[name];
        expect(await bucket('sdist', 'setuppy-only')).toEqual({
          '1.0': {
            '27': { install_requires: ['requests'] },
            ...Object.fromEntries(PYTHON_KEYS.slice(1).map((k) => [k, '27'])),
          },
        });
        const pep621Entry = (await bucket('sdist', 'pep621-static'))['1.0'] as Record<string, unknown>;
        const first = Object.keys(pep621Entry).find((k) => typeof pep621Entry[k] === 'object')!;
        expect(pep621Entry[first]).toMatchObject({ python_requires: [expect.any(String)] });
        const errors = await bucket('sdist-errors', 'nothing');
        expect(Object.keys(errors['1.0']).sort()).toEqual([...PYTHON_KEYS].sort());
        expect(await bucket('sdist', 'nothing')).toBeUndefined();
      } finally {
        await env.cleanup();
      }
    },
  );
});
