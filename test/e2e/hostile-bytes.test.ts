// Issue 10, point 4: hostile bytes never cost a row or a result. Real archives are built here
// (Python's zipfile and tarfile) with NUL bytes, bytes that are not UTF-8 and, from setup.py,
// unpaired surrogates; the local PyPI server serves them; the crawl stores them through the real
// pipeline into PostgreSQL and into PGlite (setup.py in the real Nix sandbox).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { crawl, show, takeSnapshot } from '@pypi-graph/cli';
import { type FileDependencies, projectDependencies } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { bucketOf } from '@pypi-graph/pyspec';
import { crawlEnv, type DbKind, hasNix, PY_ARCHIVES } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PYTHON_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

// Writes the archives. Byte strings throughout: what is in the files is exactly what is written.
const MAKE = `${PY_ARCHIVES}${String.raw`
# METADATA: a NUL in one Requires-Dist, a Latin-1 byte in another, a Latin-1 author.
wheel("hb_wheel", b"Metadata-Version: 2.1\nName: hb_wheel\nVersion: 1.0\nAuthor: Jos\xe9 M\xfcller\n"
      b"Requires-Dist: foo\x00bar\nRequires-Dist: six ; os_name == \"caf\xe9\"\nRequires-Dist: requests>=2\n\nBody\n")

# PKG-INFO 2.2, trusted: a Latin-1 author line; the requirements are clean.
sdist("hb_pkginfo", [("PKG-INFO", b"Metadata-Version: 2.2\nName: hb_pkginfo\nVersion: 1.0\nAuthor: Jos\xe9\n"
      b"Summary: a NUL \x00 here\nRequires-Dist: requests\n\n"), ("setup.py", b"raise SystemExit('never run')\n")])

# pyproject.toml with bytes that are not UTF-8 in a string it does not need.
sdist("hb_pyproject", [("PKG-INFO", b"Metadata-Version: 2.1\nName: hb_pyproject\nVersion: 1.0\n\n"),
      ("pyproject.toml", b"[project]\nname = \"hb_pyproject\"\nversion = \"1.0\"\ndescription = \"caf\xe9 \xff\"\n"
       b"dependencies = [\"attrs\"]\n")])

# setup.py: a NUL in the name of an extra; under Python 3 an undecodable byte that Python keeps
# as a lone surrogate (surrogateescape, as os.fsdecode does), which json.dumps writes as "\udcff".
# (setuptools refuses both in a requirement, so setup() fails there: extras' names it lets through.)
sdist("hb_setuppy", [("PKG-INFO", b"Metadata-Version: 1.0\nName: hb_setuppy\nVersion: 1.0\n\n"),
      ("setup.py", b"import sys\nfrom setuptools import setup\n"
       b"odd = b'caf\\xff'.decode('utf-8', 'surrogateescape') if sys.version_info[0] >= 3 else 'cafe'\n"
       b"setup(name='hb_setuppy', version='1.0', install_requires=['requests'],\n"
       b"      extras_require={'bad\\x00extra': ['six'], odd: ['attrs']})\n")])

# setup.py that fails with a NUL in its message: the message is the stored log.
sdist("hb_setupfail", [("PKG-INFO", b"Metadata-Version: 1.0\nName: hb_setupfail\nVersion: 1.0\n\n"),
      ("setup.py", b"raise RuntimeError('broken \\x00 here')\n")])
`}`;

let server: PypiServer;
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'hostile-bytes-'));
  await promisify(execFile)('python3', ['-c', MAKE, folder]);
  server = await startPypiServer({ dir: folder });
});
afterAll(async () => {
  await server?.close();
  await rm(folder, { recursive: true, force: true });
});

async function deps(env: Awaited<ReturnType<typeof crawlEnv>>, name: string): Promise<FileDependencies> {
  const [file] = await projectDependencies(env.app.db, name);
  if (!file) throw new Error(`nothing stored for ${name}`);
  return file;
}

describe.each<DbKind>(['postgres', 'pglite'])('hostile bytes through the crawl into %s', (db) => {
  it('stores every result, with what was not storable replaced and counted', async () => {
    // A skip would look like a pass: without Nix this test fails and says so.
    expect(hasNix(), 'nix-build is needed for the setup.py path (apt-get install -y nix-bin)').toBe(true);
    const env = await crawlEnv(server.url, db, 'embedded', { SDIST_EXTRACTION: 'sandbox' });
    try {
      const outcome = await crawl(env.app, { all: true });
      // hb_setupfail, under each Python
      expect(outcome.summary.failures).toEqual([{ code: 'setup-py-error', count: PYTHON_KEYS.length }]);

      // Wheel METADATA: read, not refused; the NUL requirement stored with U+FFFD, the Latin-1
      // requirement line as Latin-1. Repairs: 2 lines not UTF-8 (author, requirement) + 1 NUL.
      const wheel = await deps(env, 'hb-wheel');
      expect(wheel.extractions).toHaveLength(1);
      const w = wheel.extractions[0]!;
      expect([w.status, w.method, w.textRepairs]).toEqual(['ok', 'pep658', 3]);
      expect(w.requirements.map((r) => [r.requirement, r.name])).toEqual([
        ['foo\uFFFDbar', null],
        ['six ; os_name == "café"', 'six'],
        ['requests>=2', 'requests'],
      ]);

      // PKG-INFO 2.2 with a Latin-1 line: the static result, that line counted.
      const pkginfo = (await deps(env, 'hb-pkginfo')).extractions;
      expect(pkginfo.map((e) => [e.method, e.status, e.textRepairs])).toEqual([['pkg-info', 'ok', 1]]);
      expect(pkginfo[0]!.requirements.map((r) => r.requirement)).toEqual(['requests']);

      // pyproject.toml with two undecodable bytes: the result, both counted.
      const pyproject = (await deps(env, 'hb-pyproject')).extractions;
      expect(pyproject.map((e) => [e.method, e.status, e.textRepairs])).toEqual([['pyproject', 'ok', 2]]);
      expect(pyproject[0]!.requirements.map((r) => r.requirement)).toEqual(['attrs']);

      // setup.py's output: nine results; Python 2 hands back the NUL, Python 3 also the surrogate.
      const setuppy = new Map((await deps(env, 'hb-setuppy')).extractions.map((e) => [e.pythonKey, e]));
      expect([...setuppy.keys()].sort()).toEqual([...PYTHON_KEYS].sort());
      for (const key of PYTHON_KEYS) {
        const e = setuppy.get(key)!;
        expect([e.status, e.method], key).toEqual(['ok', 'setup.py']);
        const odd = key === '27' ? 'cafe' : 'caf\uFFFD';
        expect(
          e.requirements.map((r) => [r.kind, r.extra ?? null, r.requirement]),
          key,
        ).toEqual([
          ['install', null, 'requests'],
          ['extra', 'bad\uFFFDextra', 'six'],
          ['extra', odd, 'attrs'],
        ]);
        expect(e.textRepairs, key).toBe(key === '27' ? 1 : 2);
      }

      // A failing setup.py whose message (the stored log) has a NUL: the failure is stored.
      const failed = (await deps(env, 'hb-setupfail')).extractions;
      expect(failed).toHaveLength(PYTHON_KEYS.length);
      for (const e of failed) {
        expect([e.status, e.failureCode], e.pythonKey).toEqual(['failed', 'setup-py-error']);
        expect(e.log, e.pythonKey).toContain('broken \uFFFD here');
        expect(e.textRepairs, e.pythonKey).toBeGreaterThanOrEqual(1);
      }

      // What is stored is published, and `show` says it was repaired.
      expect(await show(env.app, 'hb-wheel')).toContain('dependencies (pep658, 3 text repairs');
      const snap = await takeSnapshot(env.app, path.join(env.dataDir, 'snapshots'));
      const bucket = JSON.parse(
        await readFile(path.join(snap.dir, 'sdist', `${bucketOf('hb-setuppy')}.json`), 'utf8'),
      ) as Record<string, Record<string, Record<string, unknown>>>;
      // Python keys with the same result point at one of them (docs/formats.md §B1): look at the values.
      const results = Object.values(bucket['hb-setuppy']?.['1.0'] ?? {}).filter((v) => typeof v === 'object');
      expect(results).toContainEqual({
        install_requires: ['requests'],
        extras_require: { 'bad\uFFFDextra': ['six'], 'caf\uFFFD': ['attrs'] },
      });
    } finally {
      await env.cleanup();
    }
  });
});
