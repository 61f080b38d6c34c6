// Build dependencies from the crawled index (issue 11 §2), through the whole pipeline: the build
// tools (a setup_requires plugin in pbr's manner, a PEP 517 backend with dynamic dependencies),
// written for these tests by scripts/make-build-deps-fixtures.py, are served as wheels by the local
// PyPI server and crawled first; then the sdists that need them are crawled, their build
// requirements resolved against the database, the wheels downloaded (sha256-verified) and added
// to the Nix store by that hash, and the sdists run in the real sandbox with them on sys.path.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { crawl, show, takeSnapshot } from '@pypi-graph/cli';
import { projectDependencies } from '@pypi-graph/db';
import { bucketOf } from '@pypi-graph/pyspec';
import { crawlEnv, type FixtureIndex, hasNix, serveFixtures } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = path.resolve('test/fixtures/build-deps');
const PYTHON_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

async function sha256Of(filename: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path.join(FIXTURES, filename)))
    .digest('hex');
}

let index: FixtureIndex;

beforeAll(async () => {
  index = await serveFixtures(
    FIXTURES,
    (f) => f.endsWith('.whl') || f.endsWith('.tar.gz'),
    'build-deps-index-',
  );
});
afterAll(async () => {
  await index?.close();
});

describe('build dependencies from the crawled index', () => {
  it.skipIf(!hasNix())(
    'runs a setup_requires plugin and a PEP 517 backend from the index, and records which wheels',
    async () => {
      const env = await crawlEnv(index.server.url, 'postgres', 'embedded', { SDIST_EXTRACTION: 'sandbox' });
      try {
        // the build tools first, so that the index has them (and their wheels' metadata)
        await crawl(env.app, { project: ['reqfile-helper', 'reqfile-plugin', 'dynback'] });
        const outcome = await crawl(env.app, {
          project: ['uses-reqfile', 'uses-dynback', 'uses-absent', 'uses-import'],
        });
        expect(outcome.notFound).toEqual([]);

        const plugin21 = await sha256Of('reqfile_plugin-2.1-py2.py3-none-any.whl');
        const plugin30 = await sha256Of('reqfile_plugin-3.0-py3-none-any.whl');
        const helper = await sha256Of('reqfile_helper-1.0-py2.py3-none-any.whl');
        const backend = await sha256Of('dynback-1.0-py2.py3-none-any.whl');

        // pbr's shape: without the plugin this sdist publishes no dependency at all
        const [reqfile] = await projectDependencies(env.app.db, 'uses-reqfile');
        const byKey = new Map(reqfile!.extractions.map((e) => [e.pythonKey, e]));
        expect([...byKey.keys()].sort()).toEqual([...PYTHON_KEYS].sort());
        for (const key of PYTHON_KEYS) {
          const e = byKey.get(key)!;
          expect([e.method, e.status, e.log], key).toEqual(['setup.py', 'ok', null]);
          const rows = e.requirements.map((r) => [r.kind, r.requirement]);
          expect(rows, key).toContainEqual(['install', 'requests>=2']);
          expect(rows, key).toContainEqual(['setup', 'reqfile-plugin>=2.0']);
          // the newest plugin each interpreter can run (3.0 says Requires-Python >=3.8), and its own dependency
          const newest = ['27', '36', '37'].includes(key)
            ? { version: '2.1', filename: 'reqfile_plugin-2.1-py2.py3-none-any.whl', sha256: plugin21 }
            : { version: '3.0', filename: 'reqfile_plugin-3.0-py3-none-any.whl', sha256: plugin30 };
          expect(e.buildProvenance, key).toEqual({
            method: 'setup.py',
            backend: null,
            build_dependencies: [
              { name: 'reqfile-plugin', ...newest },
              {
                name: 'reqfile-helper',
                version: '1.0',
                filename: 'reqfile_helper-1.0-py2.py3-none-any.whl',
                sha256: helper,
              },
            ],
          });
        }

        // a PEP 517 backend with dynamic dependencies: prepare_metadata_for_build_wheel's METADATA
        const [dyn] = await projectDependencies(env.app.db, 'uses-dynback');
        expect(dyn!.extractions.map((e) => [e.pythonKey, e.method, e.status]).sort()).toEqual(
          PYTHON_KEYS.map((k) => [k, 'pep517', 'ok']).sort(),
        );
        for (const e of dyn!.extractions) {
          const rows = e.requirements.map((r) => [r.kind, r.extra ?? null, r.requirement]);
          expect(rows, e.pythonKey).toEqual([
            ['install', null, 'attrs>=20'],
            ['install', null, 'colorama; sys_platform == "win32"'],
            ['setup', null, 'dynback>=1.0'],
            ['extra', 'pretty', 'rich>=10'],
            ['python', null, '>=2.7'],
          ]);
          expect(e.buildProvenance, e.pythonKey).toEqual({
            method: 'pep517',
            backend: 'dynback',
            build_dependencies: [
              {
                name: 'dynback',
                version: '1.0',
                filename: 'dynback-1.0-py2.py3-none-any.whl',
                sha256: backend,
              },
            ],
          });
        }

        // SANDBOX_GC (on by default) frees the wheels' fixed-output paths with the rest
        const wheelPath = execFileSync(
          'nix-store',
          ['--print-fixed-path', 'sha256', backend, 'dynback-1.0-py2.py3-none-any.whl'],
          { encoding: 'utf8' },
        ).trim();
        expect(wheelPath).toMatch(/^\/nix\/store\/[a-z0-9]{32}-dynback-1\.0-py2\.py3-none-any\.whl$/);
        expect(existsSync(wheelPath)).toBe(false);

        // `pnpm pypi-graph show` says what it was built with
        const shown = await show(env.app, 'uses-dynback==1.0');
        expect(shown).toContain(
          `      built with dynback (pep517):\n        dynback-1.0-py2.py3-none-any.whl  sha256:${backend}`,
        );

        // a module setup.py imports without declaring it: found in the index by its name, run again
        const [imports] = await projectDependencies(env.app.db, 'uses-import');
        expect(imports!.extractions).toHaveLength(PYTHON_KEYS.length);
        for (const e of imports!.extractions) {
          expect([e.method, e.status, e.requirements.map((r) => r.requirement)], e.pythonKey).toEqual([
            'setup.py',
            'ok',
            ['idna>=3'],
          ]);
          expect(e.buildProvenance?.build_dependencies.map((d) => [d.name, d.sha256])).toEqual([
            ['reqfile-helper', helper],
          ]);
        }

        // what the index does not have is named
        const [absent] = await projectDependencies(env.app.db, 'uses-absent');
        expect(absent!.extractions).toHaveLength(PYTHON_KEYS.length);
        for (const e of absent!.extractions) {
          expect([e.method, e.status, e.failureCode], e.pythonKey).toEqual([
            'pep517',
            'failed',
            'missing-build-dependency',
          ]);
          expect(e.log, e.pythonKey).toMatch(
            /absent-backend>=1 \(the crawled index has no pure-Python wheel of absent-backend/,
          );
        }

        // published like setup.py results: per Python key in sdist/, the missing one in sdist-errors/
        const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
        const bucket = async (layout: string, name: string) =>
          JSON.parse(await readFile(path.join(snap.dir, layout, `${bucketOf(name)}.json`), 'utf8'))[name];
        expect((await bucket('sdist', 'uses-dynback'))['1.0']['27']).toEqual({
          install_requires: ['attrs>=20', 'colorama; sys_platform == "win32"'],
          setup_requires: ['dynback>=1.0'],
          extras_require: { pretty: ['rich>=10'] },
          python_requires: ['>=2.7'],
        });
        expect((await bucket('sdist', 'uses-reqfile'))['1.0']['27']).toMatchObject({
          install_requires: expect.arrayContaining(['requests>=2']),
          setup_requires: ['reqfile-plugin>=2.0'],
        });
        expect((await bucket('sdist-errors', 'uses-absent'))['1.0']['27']).toMatch(
          /^build dependency not in the crawled index: absent-backend>=1 /,
        );
      } finally {
        await env.cleanup();
      }
    },
    600_000,
  );

  it.skipIf(!hasNix())(
    'names what the index lacks when a plugin is there but not its own dependency',
    async () => {
      const env = await crawlEnv(index.server.url, 'postgres', 'embedded', { SDIST_EXTRACTION: 'sandbox' });
      try {
        // the plugin's own dependency (reqfile-helper) is left out of the crawled index
        await crawl(env.app, { project: ['reqfile-plugin'] });
        await crawl(env.app, { project: ['uses-reqfile'] });
        const [reqfile] = await projectDependencies(env.app.db, 'uses-reqfile');
        expect(reqfile!.extractions.map((e) => e.pythonKey).sort()).toEqual([...PYTHON_KEYS].sort());
        for (const e of reqfile!.extractions) {
          // the plugin cannot load without it, whichever way the interpreter's setuptools says so
          // (ModuleNotFoundError, or pkg_resources' DistributionNotFound): the lack is what is named
          expect([e.method, e.status, e.failureCode], e.pythonKey).toEqual([
            'setup.py',
            'failed',
            'missing-build-dependency',
          ]);
          expect(e.log, e.pythonKey).toMatch(/build dependency not in the crawled index: reqfile-helper/);
        }
      } finally {
        await env.cleanup();
      }
    },
    600_000,
  );
});
