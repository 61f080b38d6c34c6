// Sdist dependencies through the whole pipeline: crawl → sdist-extract job → download (sha256
// verified) → static metadata or setup.py in the real Nix sandbox → rows in the database.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { crawl, takeSnapshot } from '@pypi-graph/cli';
import { projectDependencies } from '@pypi-graph/db';
import { bucketOf } from '@pypi-graph/pyspec';
import {
  checkSnapshotRequirements,
  crawlEnv,
  type FixtureIndex,
  hasNix,
  serveFixtures,
} from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SDISTS = path.resolve('test/fixtures/sdists');
const PYTHON_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

let index: FixtureIndex;

beforeAll(async () => {
  index = await serveFixtures(
    SDISTS,
    [
      'pkginfo22-static-1.0.tar.gz',
      'pep621-static-1.0.tar.gz',
      'setuppy-only-1.0.tar.gz',
      'nothing-1.0.tar.gz',
      // issue 11 §3, §4
      'setuptools-cfg-1.0.tar.gz',
      'poetry-shared-1.0.tar.gz',
      'poetry-setuppy-1.0.tar.gz',
      'hatch-stub-1.0.tar.gz',
      'flit-old-1.0.tar.gz',
    ],
    'sdist-index-',
  );
});
afterAll(async () => {
  await index?.close();
});

describe('sdist dependencies in the crawl', () => {
  it.skipIf(!hasNix())(
    'uses static metadata when trustworthy, else setup.py under nine Pythons',
    async () => {
      const env = await crawlEnv(index.server.url, 'pglite', 'embedded', { SDIST_EXTRACTION: 'sandbox' });
      try {
        const outcome = await crawl(env.app, { all: true });
        // nothing-1.0 (hatchling, no metadata) and hatch-stub-1.0 (hatchling computes it; the
        // setup.py stub beside it is not what pip builds): only hatchling's PEP 517 hook would
        // tell, and this index has no hatchling (issue 11 §2): under each of the nine Pythons
        expect(outcome.summary.failures).toEqual([{ code: 'missing-build-dependency', count: 18 }]);

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
        expect(nothing?.extractions.map((e) => [e.method, e.status, e.failureCode])).toEqual(
          PYTHON_KEYS.map(() => ['pep517', 'failed', 'missing-build-dependency']),
        );
        expect(nothing!.extractions[0]!.log).toMatch(
          /hatchling \(the crawled index has no pure-Python wheel of hatchling/,
        );

        // No setup.py, setuptools' backend: `setup()` reads setup.cfg under every Python, and
        // [build-system] requires are recorded as what building needs.
        const [cfg] = await projectDependencies(env.app.db, 'setuptools-cfg');
        expect(cfg?.extractions.map((e) => [e.pythonKey, e.method, e.status]).sort()).toEqual(
          PYTHON_KEYS.map((k) => [k, 'setup.py', 'ok']).sort(),
        );
        for (const e of cfg!.extractions) {
          const rows = e.requirements.map((r) => [r.kind, r.requirement]);
          expect(rows, e.pythonKey).toContainEqual(['install', 'requests[security,socks]<3,>=2.0']);
          expect(rows, e.pythonKey).toContainEqual(['setup', 'setuptools>=40.8']);
          expect(rows, e.pythonKey).toContainEqual(['setup', 'wheel']);
          expect(rows, e.pythonKey).toContainEqual(['python', '>=2.7']);
        }
        // poetry: the backend, not the setup.py stub; an optional dependency shared by two extras
        // is stored under both; a flit sdist records its build input too.
        const [stub] = await projectDependencies(env.app.db, 'poetry-setuppy');
        expect(stub?.extractions.map((e) => [e.pythonKey, e.method, e.status])).toEqual([
          ['any', 'poetry', 'ok'],
        ]);
        const [shared] = await projectDependencies(env.app.db, 'poetry-shared');
        const sharedRows = shared!.extractions[0]!.requirements.map((r) => [r.kind, r.extra, r.requirement]);
        expect(sharedRows).toContainEqual(['extra', 'rdf4j', 'httpx (>=0.28.1,<0.29.0)']);
        expect(sharedRows).toContainEqual(['extra', 'graphdb', 'httpx (>=0.28.1,<0.29.0)']);
        expect(sharedRows).toContainEqual(['setup', null, 'poetry-core>=1.0.0']);
        const [flit] = await projectDependencies(env.app.db, 'flit-old');
        expect(
          flit!.extractions[0]!.requirements.filter((r) => r.kind === 'setup').map((r) => r.requirement),
        ).toEqual(['flit']);
        const [hatch] = await projectDependencies(env.app.db, 'hatch-stub');
        expect(hatch?.extractions.map((e) => [e.method, e.status, e.failureCode])).toEqual(
          PYTHON_KEYS.map(() => ['pep517', 'failed', 'missing-build-dependency']),
        );

        // show --python: the setup.py result of that interpreter, with its method.
        const { show } = await import('@pypi-graph/cli');
        const shown = await show(env.app, 'setuppy-only==1.0', { python: '3.8' });
        expect(shown).toMatch(/dependencies \(setup\.py python 38, \d+ bytes in 1 requests\):\n +requests/);
        expect(shown).not.toContain('python 27');

        // The snapshot's sdist/ and sdist-errors/ layouts (docs/formats.md §B1, §B3).
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
        // setup_requires published; requirement strings in their canonical spelling, a direct
        // reference as `name@ url` (issue 11 §4, §5).
        expect((await bucket('sdist', 'setuptools-cfg'))['1.0']['27']).toEqual({
          install_requires: [
            'requests[security,socks]<3,>=2.0',
            'mylib@ https://example.org/mylib-1.0.tar.gz',
          ],
          setup_requires: ['setuptools>=40.8', 'wheel'],
          extras_require: { ':python_version < "3.4"': ['enum34'], test: ['pytest>=4'] },
          python_requires: ['>=2.7'],
        });
        const sharedEntry = (await bucket('sdist', 'poetry-shared'))['1.0'] as Record<string, unknown>;
        const sharedFields = Object.values(sharedEntry).find((v) => typeof v === 'object');
        expect(sharedFields).toEqual({
          install_requires: ['rdflib<8,>=7'],
          setup_requires: ['poetry-core>=1.0.0'],
          extras_require: {
            rdf4j: ['httpx<0.29.0,>=0.28.1'],
            graphdb: ['httpx<0.29.0,>=0.28.1'],
            pil: ['pillow<11,>=10; sys_platform != "win32"'],
            all: ['pillow<11,>=10; sys_platform != "win32"', 'pypng'],
          },
          python_requires: ['>=3.9,<4.0'],
        });
        expect(await bucket('sdist-errors', 'hatch-stub')).toBeDefined();
        // Every requirement string of the snapshot: packaging reads it and prints it unchanged,
        // and mach-nix's parser reads it (packages/test-support/src/mach-nix-requirement.ts).
        const { strings, problems } = await checkSnapshotRequirements(snap.dir);
        expect(problems).toEqual([]);
        expect(strings.length).toBeGreaterThan(20);
      } finally {
        await env.cleanup();
      }
    },
  );

  // Issue 12 §9: only the interpreters SANDBOX_PYTHONS names run; the other versions are recorded
  // as not run here (python-unavailable), not as failures of the file, and left out of the snapshot.
  it.skipIf(!hasNix())(
    'with SANDBOX_PYTHONS naming two Pythons, records the others as python-unavailable, not as failures',
    async () => {
      const pythons =
        '27=/root/.pyenv/versions/2.7.18/bin/python2.7,312=/root/.pyenv/versions/3.12.1/bin/python3.12';
      const env = await crawlEnv(index.server.url, 'pglite', 'embedded', {
        SDIST_EXTRACTION: 'sandbox',
        SANDBOX_PYTHONS: pythons,
      });
      try {
        const outcome = await crawl(env.app, { all: true });
        // the same failures as with nine Pythons (a backend the index lacks is known missing under
        // every Python without running anything): none of python-unavailable
        expect(outcome.summary.failures).toEqual([{ code: 'missing-build-dependency', count: 18 }]);
        // said apart from the sdists that wait for a sandbox (setuppy-only, setuptools-cfg)
        const { formatSummary } = await import('@pypi-graph/cli');
        const summary = formatSummary(outcome);
        expect(summary).toContain(
          "not run here:     2 sdists' setup.py under Python versions this machine has no interpreter of (python-unavailable;",
        );
        expect(summary).not.toContain('wait for a sandbox');
        const [setuppy] = await projectDependencies(env.app.db, 'setuppy-only');
        const byKey = Object.fromEntries(
          setuppy!.extractions.map((e) => [e.pythonKey, [e.status, e.failureCode]]),
        );
        expect(byKey).toEqual(
          Object.fromEntries(
            PYTHON_KEYS.map((k) => [
              k,
              k === '27' || k === '312' ? ['ok', null] : ['waiting', 'python-unavailable'],
            ]),
          ),
        );
        const { show, status } = await import('@pypi-graph/cli');
        const shown = await show(env.app, 'setuppy-only==1.0', {});
        expect(shown).toMatch(/not run here \[python-unavailable\]: no Python 3\.6 interpreter/);
        const said = await status(env.app);
        expect(said).toContain(
          'pythons:   here 2 of 9 (SANDBOX_PYTHONS): 27, 312; missing: 36, 37, 38, 39, 310, 311, 313 (their results are python-unavailable)',
        );
        expect(said).toContain('  36: missing (not in SANDBOX_PYTHONS)');
        // not counted as sdists waiting for a sandbox
        expect(said).not.toMatch(/waiting: +\d+ sdists/);
        const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
        const bucket = async (layout: string, name: string) =>
          JSON.parse(await readFile(path.join(snap.dir, layout, `${bucketOf(name)}.json`), 'utf8'))[name];
        expect(await bucket('sdist', 'setuppy-only')).toEqual({
          '1.0': { '27': { install_requires: ['requests'] }, '312': '27' },
        });
        expect(await bucket('sdist-errors', 'setuppy-only')).toBeUndefined();
      } finally {
        await env.cleanup();
      }
    },
    300_000,
  );
});
