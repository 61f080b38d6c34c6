import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '@pypi-graph/config';
import { CrawlError } from '@pypi-graph/core';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';
import { hasNix } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_NIX_DIR,
  describeHostPythons,
  type HostPythonSet,
  resolveHostPythons,
  runSandbox,
  type SandboxResult,
  sandboxGate,
} from '../src';
import { makeSdist } from './make-sdist';

// Issue 12 §9: the sandbox's interpreters where the operator has them. An interpreter set laid
// out away from the default (/root/.pyenv/versions): a link to one pyenv executable, and two
// installations copied (hard links) into other directory structures, so that the sandbox really
// runs interpreters from paths the default never exposes. Real Nix builds, real interpreters.

const PYENV = '/root/.pyenv/versions';

const NIX = hasNix();
const HAVE = ['2.7.18', '3.9.18', '3.12.1'].every((v) => existsSync(path.join(PYENV, v)));

/** A copy of a pyenv installation at `to`: hard links where the file system allows, else a copy. */
function copyTree(from: string, to: string): void {
  try {
    execFileSync('cp', ['-al', from, to]);
  } catch {
    execFileSync('cp', ['-a', from, to]);
  }
}

function ok(result: SandboxResult | undefined) {
  if (!result || !('ok' in result)) throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.ok;
}

function slug(p: string): string {
  return p.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

// Not under /tmp: inside the build /tmp is the sandbox's own (pythons.ts refuses it).
const ROOT = '/var/tmp';
const SALT = randomBytes(8).toString('hex');
let base: string;
let work: string;

describe.skipIf(!NIX || !HAVE)(
  'sandbox interpreters named by SANDBOX_PYTHONS (nix, real interpreters)',
  () => {
    let set: HostPythonSet;
    let py39: string;
    let py312: string;
    let py27: string;

    beforeAll(async () => {
      base = await mkdtemp(path.join(ROOT, 'pypi-graph-pythons-'));
      work = path.join(base, 'work');
      await mkdir(work);
      // 2.7: a link in a bin directory of its own; 3.9: an installation under opt/; 3.12: one in a
      // uv-like tree. The copies' prefixes are new paths; their libpython (a shared build, RPATH at
      // the original prefix) stays where pyenv built it.
      await mkdir(path.join(base, 'bin'));
      py27 = path.join(base, 'bin', 'py27');
      await symlink(path.join(PYENV, '2.7.18/bin/python2.7'), py27);
      await mkdir(path.join(base, 'opt'));
      copyTree(path.join(PYENV, '3.9.18'), path.join(base, 'opt', 'cpython-3.9'));
      py39 = path.join(base, 'opt', 'cpython-3.9', 'bin', 'python3.9');
      await mkdir(path.join(base, 'share', 'python'), { recursive: true });
      copyTree(
        path.join(PYENV, '3.12.1'),
        path.join(base, 'share', 'python', 'cpython-3.12.1-linux-x86_64-gnu'),
      );
      py312 = path.join(base, 'share', 'python', 'cpython-3.12.1-linux-x86_64-gnu', 'bin', 'python3.12');
      const config = loadConfig({ SANDBOX_PYTHONS: `27=${py27}, 39=${py39},312=${py312}` });
      set = await resolveHostPythons({ configured: config.sandboxPythons });
    });
    afterAll(async () => {
      if (base) await rm(base, { recursive: true, force: true });
    });

    it('resolves exactly the named interpreters, and exposes nothing of the other versions', () => {
      expect(set.configured).toBe(true);
      expect(set.pythons.map((p) => p.key)).toEqual(['27', '39', '312']);
      expect(set.missing.map((m) => m.key)).toEqual(['36', '37', '38', '310', '311', '313']);
      const [p27, p39, p312] = set.pythons;
      expect(p27).toMatchObject({
        executable: py27,
        python: path.join(PYENV, '2.7.18/bin/python2.7'),
        version: '2.7.18',
        binds: [path.join(PYENV, '2.7.18')],
      });
      const prefix39 = path.join(base, 'opt', 'cpython-3.9');
      expect(p39).toMatchObject({
        python: py39,
        version: '3.9.18',
        prefix: prefix39,
        // the copy, and the original's libpython alone (not its directory: its site-packages stays out)
        binds: [prefix39, path.join(PYENV, '3.9.18/lib/libpython3.9.so.1.0')],
        covers: [path.join(prefix39, 'lib/python3.9/site-packages')],
        setuptools: path.join(prefix39, 'lib/python3.9/site-packages'),
      });
      // no setuptools in pyenv's 3.12: Debian's wheel is shipped, as for the default set
      expect(p312).toMatchObject({ version: '3.12.1', setuptools: null });
      const exposed = set.pythons.flatMap((p) => p.binds);
      for (const v of ['3.6.15', '3.7.16', '3.8.18', '3.10.13', '3.11.7', '3.13.0', '3.9.18', '3.12.1']) {
        expect(exposed).not.toContain(path.join(PYENV, v));
      }
      expect(describeHostPythons(set)).toContain('36: missing (not in SANDBOX_PYTHONS)');
    });

    it('runs setup.py under the named interpreters, from where they are, and records python-unavailable for the others', async () => {
      const sdist = await makeSdist(work, 'sys-path', SALT);
      const { results } = await runSandbox({
        sdistPath: sdist.file,
        sha256: sdist.sha256,
        filename: sdist.filename,
        hostPythons: set,
      });
      expect(Object.keys(results).sort()).toEqual([...PYTHON_KEYS].sort());
      const stdlib: Record<string, string> = {
        '27': path.join(PYENV, '2.7.18/lib/python2.7'),
        '39': path.join(base, 'opt/cpython-3.9/lib/python3.9'),
        '312': path.join(base, 'share/python/cpython-3.12.1-linux-x86_64-gnu/lib/python3.12'),
      };
      for (const [key, dir] of Object.entries(stdlib)) {
        const seen = ok(results[key as PythonKey]).install_requires;
        // the standard library of the interpreter that was named, not of /root/.pyenv's
        expect(seen).toContain(`path-${slug(dir)}`);
        expect(seen.filter((s) => s.startsWith('imported-'))).toEqual([]);
        // its own site-packages is covered by the empty directory, as in the default set
        expect(seen.filter((s) => s.startsWith('site-entry-'))).toEqual(['site-entry-README-md']);
      }
      for (const key of ['36', '37', '38', '310', '311', '313'] as PythonKey[]) {
        const r = results[key];
        expect(r && 'error' in r ? r.error.code : r).toBe('python-unavailable');
        expect(r && 'error' in r ? r.error.log : '').toMatch(
          /no Python 3\.\d+ interpreter .*not in SANDBOX_PYTHONS/,
        );
      }
    });

    it('gives the same results as the default set for what both run', async () => {
      const sdist = await makeSdist(work, 'plain', SALT);
      const { results } = await runSandbox({
        sdistPath: sdist.file,
        sha256: sdist.sha256,
        filename: sdist.filename,
        hostPythons: set,
      });
      for (const key of ['27', '39', '312'] as PythonKey[]) {
        expect(ok(results[key])).toEqual({
          install_requires: ['requests>=2', 'attrs'],
          setup_requires: ['setuptools_scm'],
          tests_require: ['mock'],
          extras_require: {
            ':python_version < "3"': ['six'],
            ':sys_platform=="win32"': ['colorama'],
            test: ['pytest>=6'],
          },
          python_requires: '>=2.7',
        });
      }
    });

    it('proves the sandbox once per interpreter set: another set is another gate, probed afresh', async () => {
      const common = {
        nixDir: DEFAULT_NIX_DIR,
        interpreters: 'host' as const,
        binPath: process.env.PATH ?? '/usr/bin:/bin',
        cgroups: 'required' as const,
      };
      const named = sandboxGate({ ...common, hostPythons: set });
      const first = await makeSdist(work, 'plain', `${SALT}-named`, 'plain-named');
      await runSandbox({
        sdistPath: first.file,
        sha256: first.sha256,
        filename: first.filename,
        hostPythons: set,
      });
      // runSandbox went through this set's gate, which a probe has proven
      expect(named.state.state).toBe('proven');
      expect(sandboxGate({ ...common, hostPythons: set })).toBe(named);
      const fewer = await resolveHostPythons({ configured: { '27': py27, '39': py39 } });
      const other = sandboxGate({ ...common, hostPythons: fewer });
      expect(other).not.toBe(named);
      expect(other.state.state).toBe('unchecked');
      const sdist = await makeSdist(work, 'plain', `${SALT}-fewer`, 'plain-fewer');
      const { results } = await runSandbox({
        sdistPath: sdist.file,
        sha256: sdist.sha256,
        filename: sdist.filename,
        hostPythons: fewer,
        pythons: ['27', '39', '312'],
      });
      expect(other.state.state).toBe('proven');
      expect(ok(results['39']).install_requires).toEqual(['requests>=2', 'attrs']);
      const r = results['312'];
      expect(r && 'error' in r ? r.error.code : r).toBe('python-unavailable');
    });
  },
);

// Debian's own python3.11 (the `python3.11` package; deadsnakes' are laid out alike): a system
// prefix, of which only the executable and the standard library are exposed; its setuptools is
// Debian's python3-setuptools in /usr/lib/python3/dist-packages, copied like pyenv's.
const DEBIAN_PYTHON = '/usr/bin/python3.11';
const HAVE_DEBIAN =
  existsSync(DEBIAN_PYTHON) && existsSync('/usr/lib/python3/dist-packages/setuptools/__init__.py');

describe.skipIf(!NIX || !HAVE_DEBIAN)('a system interpreter (Debian python3.11) in the sandbox', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(ROOT, 'pypi-graph-debian-python-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exposes its executable and standard library only, and runs setup.py with its own setuptools', async () => {
    const set = await resolveHostPythons({ configured: { '311': DEBIAN_PYTHON } });
    expect(set.pythons).toEqual([
      expect.objectContaining({
        key: '311',
        prefix: '/usr',
        binds: [DEBIAN_PYTHON, '/usr/lib/python3.11'],
        setuptools: '/usr/lib/python3/dist-packages',
        relocated: false,
      }),
    ]);
    const sdist = await makeSdist(dir, 'sys-path', SALT);
    const { results } = await runSandbox({
      sdistPath: sdist.file,
      sha256: sdist.sha256,
      filename: sdist.filename,
      hostPythons: set,
      pythons: ['311', '27'],
    });
    const seen = ok(results['311']).install_requires;
    expect(seen).toContain('path-usr-lib-python3-11');
    expect(seen.filter((s) => s.startsWith('setuptools-'))).toEqual([
      expect.stringMatching(/^setuptools-nix-store-[0-9a-z]{32}-pypi-graph-setuptools-py311$/),
    ]);
    // Debian's dist-packages (pip, six, … of the host) are not exposed at all
    expect(seen.filter((s) => s.startsWith('imported-'))).toEqual([]);
    expect(seen).not.toContain('path-usr-lib-python3-dist-packages');
    const r = results['27'];
    expect(r && 'error' in r ? r.error.code : r).toBe('python-unavailable');
  });
});

describe.skipIf(!HAVE)('sandbox interpreter discovery', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(ROOT, 'pypi-graph-discovery-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds each version in a PYENV_ROOT, ~/.pyenv and uv, newest patch first, and says why a candidate was passed over', async () => {
    const pyenvRoot = path.join(dir, 'pyenv');
    const versions = path.join(pyenvRoot, 'versions');
    await mkdir(versions, { recursive: true });
    // 3.9: an older patch release that is broken, the newest a link to the real one
    await symlink(path.join(PYENV, '3.9.18'), path.join(versions, '3.9.18'));
    await mkdir(path.join(versions, '3.9.2', 'bin'), { recursive: true });
    await writeFile(path.join(versions, '3.9.2', 'bin', 'python3.9'), '#!/bin/sh\nexit 3\n');
    await chmod(path.join(versions, '3.9.2', 'bin', 'python3.9'), 0o755);
    // 2.7: what pyenv calls 2.7.18 here is in fact a 3.11: passed over, with the reason
    await mkdir(path.join(versions, '2.7.18', 'bin'), { recursive: true });
    await symlink(
      path.join(PYENV, '3.11.7/bin/python3.11'),
      path.join(versions, '2.7.18', 'bin', 'python2.7'),
    );
    // not CPython release names: ignored
    await mkdir(path.join(versions, '3.10-dev', 'bin'), { recursive: true });
    await symlink(
      path.join(PYENV, '3.10.13/bin/python3.10'),
      path.join(versions, '3.10-dev', 'bin', 'python3.10'),
    );
    // a home with uv's 3.12 and a pyenv of its own with 3.6
    const home = path.join(dir, 'home');
    const uv = path.join(home, '.local/share/uv/python');
    await mkdir(uv, { recursive: true });
    await symlink(path.join(PYENV, '3.12.1'), path.join(uv, 'cpython-3.12.1-linux-x86_64-gnu'));
    await mkdir(path.join(home, '.pyenv', 'versions'), { recursive: true });
    await symlink(path.join(PYENV, '3.6.15'), path.join(home, '.pyenv', 'versions', '3.6.15'));
    // a bin directory with 3.13
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    await symlink(path.join(PYENV, '3.13.0/bin/python3.13'), path.join(bin, 'python3.13'));

    const set = await resolveHostPythons({ pyenvRoot, home, binDirs: [bin] });
    expect(set.configured).toBe(false);
    const found = Object.fromEntries(set.pythons.map((p) => [p.key, [p.source, p.executable, p.version]]));
    expect(found).toEqual({
      '36': ['~/.pyenv', path.join(home, '.pyenv/versions/3.6.15/bin/python3.6'), '3.6.15'],
      '39': ['PYENV_ROOT', path.join(versions, '3.9.18/bin/python3.9'), '3.9.18'],
      '312': ['uv', path.join(uv, 'cpython-3.12.1-linux-x86_64-gnu/bin/python3.12'), '3.12.1'],
      '313': [bin, path.join(bin, 'python3.13'), '3.13.0'],
    });
    // what the sandbox is given is where the files really are
    expect(set.pythons.find((p) => p.key === '39')?.binds).toEqual([path.join(PYENV, '3.9.18')]);
    const missing = Object.fromEntries(set.missing.map((m) => [m.key, m.tried]));
    expect(Object.keys(missing).sort()).toEqual(['27', '310', '311', '37', '38']);
    expect(missing['27']).toEqual([
      `${path.join(versions, '2.7.18/bin/python2.7')}: it is Python 3.11.7, not 2.7`,
    ]);
    expect(missing['310']).toEqual([]);
  });

  it('takes PYENV_ROOT before ~/.pyenv, and a broken newest release falls back to the next', async () => {
    const a = path.join(dir, 'a');
    const home = path.join(dir, 'home-b');
    await mkdir(path.join(a, 'versions', '3.8.99', 'bin'), { recursive: true });
    await writeFile(path.join(a, 'versions', '3.8.99', 'bin', 'python3.8'), '#!/bin/sh\necho nonsense\n');
    await chmod(path.join(a, 'versions', '3.8.99', 'bin', 'python3.8'), 0o755);
    await symlink(path.join(PYENV, '3.8.18'), path.join(a, 'versions', '3.8.18'));
    await mkdir(path.join(home, '.pyenv', 'versions'), { recursive: true });
    await symlink(path.join(PYENV, '3.8.18'), path.join(home, '.pyenv', 'versions', '3.8.18'));
    const set = await resolveHostPythons({ pyenvRoot: a, home, binDirs: [] });
    expect(set.pythons.map((p) => [p.key, p.source, p.executable])).toEqual([
      ['38', 'PYENV_ROOT', path.join(a, 'versions/3.8.18/bin/python3.8')],
    ]);
    expect(set.missing.length).toBe(8);
  });

  it('refuses a named interpreter that is not a CPython of its version, naming it', async () => {
    const wrong = path.join(PYENV, '3.11.7/bin/python3.11');
    const err = await resolveHostPythons({ configured: { '310': wrong } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrawlError);
    expect(err).toMatchObject({ code: 'config-invalid' });
    expect((err as Error).message).toBe(
      `invalid configuration: SANDBOX_PYTHONS: 310=${wrong}: it is Python 3.11.7, not 3.10`,
    );
  });

  it('refuses an interpreter under /tmp, which the build cannot see', async () => {
    const tmp = await mkdtemp('/tmp/pypi-graph-tmp-python-');
    try {
      copyTree(path.join(PYENV, '3.7.16'), path.join(tmp, 'py'));
      const err = await resolveHostPythons({
        configured: { '37': path.join(tmp, 'py/bin/python3.7') },
      }).catch((e: unknown) => e);
      expect((err as Error).message).toContain('is under /tmp, which the sandbox cannot expose');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
