import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CrawlError, isEnvironmentFault } from '@pypi-graph/core';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';
import { hasNix } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseSandboxResults,
  type RunSandboxOptions,
  runSandbox,
  type SandboxResult,
  type SandboxResults,
  sandboxResultsFrom,
  storeName,
} from '../src';
import { makeSdist as makeSdistIn, REPO } from './make-sdist';

// The setup.py sandbox (docs/architecture.md §3) against the real Nix on this machine: sdists are built here
// from the setup scripts in test/fixtures/sandbox/<case>/ (see the readme there) and run through
// nix/extractor.nix with the host (pyenv) interpreters.

const execFileAsync = promisify(execFile);

const NIX = hasNix();
if (!NIX) console.warn('sandbox tests skipped: nix-build is not installed (apt-get install -y nix-bin)');

let work: string;

// A random file in every sdist of this test run: each run builds its derivations afresh instead
// of finding the previous run's results in the store.
const SALT = randomBytes(8).toString('hex');

function makeSdist(fixture: string, name = fixture) {
  return makeSdistIn(work, fixture, SALT, name);
}

async function run(
  fixture: string,
  extra: Partial<RunSandboxOptions> = {},
): Promise<{ results: SandboxResults; durationMs: number; outPath: string }> {
  const sdist = await makeSdist(fixture);
  return runSandbox({ sdistPath: sdist.file, sha256: sdist.sha256, filename: sdist.filename, ...extra });
}

/** Host processes whose command line mentions `needle` (the sdist's directory in /build). */
function processesOf(needle: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((line) => line.includes(needle) && !line.includes('ps -eo'));
}

function ok(result: SandboxResult | undefined) {
  if (!result || !('ok' in result)) throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.ok;
}

function failure(result: SandboxResult | undefined) {
  if (!result || !('error' in result)) throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  return result.error;
}

let hostPythonPaths: Record<string, string> | undefined;

/** The host interpreters' executables (nix/interpreters-host.nix), as Nix evaluates them. */
function hostPythons(): Record<string, string> {
  if (!hostPythonPaths) {
    const expr = `builtins.mapAttrs (k: v: v.python) (import ${path.join(REPO, 'nix/interpreters-host.nix')} {}).pythons`;
    hostPythonPaths = JSON.parse(
      execFileSync('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { encoding: 'utf8' }),
    ) as Record<string, string>;
  }
  return hostPythonPaths;
}

/** Whether `module` imports in the host interpreter of `key` as installed (site-packages included). */
function hostImports(key: PythonKey, module: string): boolean {
  const python = hostPythons()[key];
  if (!python) throw new Error(`no host interpreter for ${key}`);
  try {
    execFileSync(python, ['-c', `import ${module}`], { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
    return true;
  } catch {
    return false;
  }
}

const FEW: PythonKey[] = ['27', '36', '313'];
// Short limits keep the hostile cases quick; the defaults are in DEFAULT_SANDBOX_LIMITS.
const HOSTILE_LIMITS = { wallSeconds: 15, cpuSeconds: 5, memoryMiB: 512, maxOutputBytes: 256 * 1024 };

describe.skipIf(!NIX)('setup.py sandbox (nix, host interpreters)', () => {
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'pypi-graph-sandbox-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('records install_requires, extras with markers, setup_requires and python_requires under all nine Pythons', async () => {
    const { results } = await run('plain');
    expect(Object.keys(results).sort()).toEqual([...PYTHON_KEYS].sort());
    for (const key of PYTHON_KEYS) {
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

  it('is a Nix cache hit the second time', async () => {
    const first = await run('plain');
    const second = await run('plain');
    expect(second.outPath).toBe(first.outPath);
    expect(second.results).toEqual(first.results);
    expect(second.durationMs).toBeLessThan(5000);
  });

  it('reads declarative setup.cfg', async () => {
    const { results } = await run('setup-cfg', { pythons: ['27', '38', '312'] });
    for (const key of ['27', '38', '312'] as const) {
      expect(ok(results[key])).toMatchObject({
        install_requires: ['click>=7'],
        extras_require: { ':python_version < "3.8"': ['importlib-metadata'], dev: ['black'] },
        python_requires: '>=3.6',
      });
    }
  });

  it('records distutils.core.setup', async () => {
    const { results } = await run('distutils', { pythons: ['27', '311', '313'] });
    for (const key of ['27', '311', '313'] as const)
      expect(ok(results[key]).install_requires).toEqual(['foo>=1']);
  });

  it('runs a Python 2 only setup.py under 2.7 and calls it python-incompatible under 3.x', async () => {
    const { results } = await run('py2-print', { pythons: ['27', '36', '313'] });
    expect(ok(results['27']).install_requires).toEqual(['six']);
    for (const key of ['36', '313'] as const) {
      expect(failure(results[key])).toMatchObject({ code: 'python-incompatible' });
      expect(failure(results[key]).log).toMatch(/^SyntaxError: Missing parentheses in call to 'print'/);
    }
  });

  it('calls a Python 3 only setup.py python-incompatible under 2.7', async () => {
    const { results } = await run('py3-only', { pythons: ['27', '36', '313'] });
    expect(failure(results['27'])).toMatchObject({
      code: 'python-incompatible',
      log: 'SyntaxError: invalid syntax',
    });
    for (const key of ['36', '313'] as const) expect(ok(results[key]).install_requires).toEqual(['attrs']);
  });

  it("keeps one sdist from changing another sdist's result", async () => {
    const written = await run('cross-write', { pythons: FEW });
    for (const key of FEW) expect(ok(written.results[key]).install_requires).toEqual(['attrs']);
    const read = await run('cross-read', { pythons: FEW });
    for (const key of FEW) expect(ok(read.results[key]).install_requires).toEqual(['nothing-found']);
  });

  it('unpacks once, yet no interpreter changes what another sees: writes and deletions stay in its own view', async () => {
    // one at a time, newest first: 3.13 has made its changes before any other starts
    const { results } = await run('tree-tamper', { limits: { parallelism: 1 } });
    const original = ['data-original', 'victim-original', 'new-missing', 'gone-original'];
    // 3.13 made its changes (so the others had something to see) …
    expect(ok(results['313']).install_requires).toEqual([
      ...original,
      'after-data-changed',
      'after-victim-missing',
      'after-new-planted',
      'after-gone-missing',
    ]);
    // … and every other Python, each started after it, sees the sdist as it was
    for (const key of PYTHON_KEYS.filter((k) => k !== '313'))
      expect(ok(results[key]).install_requires, key).toEqual(original);
  });

  it('types sys.exit(1), a missing build dependency and a missing setup.py', async () => {
    const [exit, numpy, none] = await Promise.all([
      run('sys-exit', { pythons: FEW }),
      run('missing-dep', { pythons: FEW }),
      run('no-setup-py', { pythons: FEW }),
    ]);
    for (const key of FEW) {
      expect(failure(exit.results[key])).toMatchObject({ code: 'setup-py-error', log: 'SystemExit: 1' });
      expect(failure(exit.results[key]).tail).toContain('refusing to build');
      expect(failure(none.results[key]).code).toBe('no-setup-py');
    }
    expect(failure(numpy.results['27'])).toMatchObject({
      code: 'missing-build-dependency',
      log: 'ImportError: No module named numpy',
    });
    expect(failure(numpy.results['313'])).toMatchObject({
      code: 'missing-build-dependency',
      log: "ModuleNotFoundError: No module named 'numpy'",
    });
  });

  it('imports no package installed in the host interpreters: pip fails under every Python that has it', async () => {
    // The premise: pip is in the own site-packages of every host interpreter, and imports there.
    const hostHas = PYTHON_KEYS.filter((key) => hostImports(key, 'pip'));
    expect(hostHas).toEqual([...PYTHON_KEYS]);
    const { results } = await run('host-packages');
    for (const key of hostHas) {
      expect(failure(results[key]).code).toBe('missing-build-dependency');
      expect(failure(results[key]).log).toMatch(
        /^(ImportError|ModuleNotFoundError): No module named '?pip'?$/,
      );
    }
  });

  it('puts the standard library and the shipped setuptools on sys.path, and hides site-packages', async () => {
    // The premise: the host 3.11 has six, numpy, yaml and requests in its own site-packages.
    for (const module of ['six', 'numpy', 'yaml', 'requests']) expect(hostImports('311', module)).toBe(true);
    const { results } = await run('sys-path');
    for (const key of PYTHON_KEYS) {
      const seen = ok(results[key]).install_requires;
      const paths = seen.filter((s) => s.startsWith('path-'));
      expect(paths.length).toBeGreaterThan(2);
      for (const p of paths) {
        // the setup.py directory, the standard library, the setuptools shipped for this Python
        expect(p).toMatch(
          /^path-(build-py\d+-src-sys-path-1-0|root-pyenv-versions-[0-9-]+-lib-python[0-9-]+(-zip|-lib-dynload|-plat-linux2|-lib-tk|-lib-old)?|nix-store-[0-9a-z]{32}-pypi-graph-setuptools-py\d+)$/,
        );
        expect(p).not.toMatch(/site-packages|dist-packages/);
      }
      expect(paths.at(-1)).toMatch(
        new RegExp(`^path-nix-store-[0-9a-z]{32}-pypi-graph-setuptools-py${key}$`),
      );
      expect(seen.filter((s) => s.startsWith('setuptools-'))).toEqual([
        paths.at(-1)!.replace(/^path-/, 'setuptools-'),
      ]);
      expect(seen.filter((s) => s.startsWith('imported-'))).toEqual([]);
      // the interpreter's own site-packages directory is covered by nix/empty-site-packages
      expect(seen.filter((s) => s.startsWith('site-'))).toEqual([
        expect.stringMatching(/^site-root-pyenv-versions-[0-9-]+-lib-python[0-9-]+-site-packages$/),
        'site-entry-README-md',
      ]);
    }
  });

  it('runs setup.py under the configured rlimits, which it cannot raise', async () => {
    const limits = { cpuSeconds: 17, memoryMiB: 700, maxProcesses: 33, maxOutputBytes: 300_000 };
    const { results } = await run('limits', { pythons: FEW, limits });
    for (const key of FEW) {
      expect(ok(results[key]).install_requires).toEqual([
        'cpu-17-22',
        `as-${700 * 1024 * 1024}-${700 * 1024 * 1024}`,
        'nproc-33-33',
        'fsize-300000-300000',
        'core-0-0',
      ]);
    }
  });

  it('gives no network: neither the host loopback (Postgres, Redis) nor the internet nor DNS', async () => {
    const { results } = await run('network', { pythons: FEW });
    for (const key of FEW) {
      expect(ok(results[key]).install_requires).toEqual([
        'closed-127-0-0-1-5432',
        'closed-127-0-0-1-6379',
        'closed-1-1-1-1-443',
        'closed-8-8-8-8-53',
        'dns-failed',
      ]);
    }
  });

  it('shows no host environment, no /etc/shadow, no /root and no repository', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'postgres://pypi:secret@127.0.0.1:5432/pypi';
    const { results } = await run('secrets', { pythons: FEW }).finally(() => {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    });
    for (const key of FEW) {
      const seen = ok(results[key]).install_requires;
      expect(seen.filter((s) => /DATABASE|REDIS|read-/.test(s))).toEqual([]);
      // /root holds nothing but the mount point of /root/.pyenv/versions
      expect(seen.filter((s) => s.startsWith('root-'))).toEqual(['root-pyenv']);
      expect(seen).toContain('env-HOME-homeless-shelter');
    }
  });

  it('refuses writes outside the build directory', async () => {
    const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
    const thpBefore = readFileSync(THP, 'utf8');
    const { results } = await run('write-outside', { pythons: FEW });
    for (const key of FEW) {
      // /tmp inside the sandbox is a tmpfs of the build (driver.py: confine); /nix/store, a
      // directory of Nix's chroot on the host's disk, is read-only to the interpreters; the
      // host's directories are not writable.
      expect(ok(results[key]).install_requires).toEqual(['wrote-tmp-pwned']);
    }
    for (const p of [
      '/tmp/pwned',
      '/root/.pyenv/versions/pwned',
      '/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/pwned',
      '/etc/pwned',
      '/pwned',
      '/usr/lib/pwned',
    ]) {
      expect(existsSync(p)).toBe(false);
    }
    // the transparent huge page mode, exposed to the sandbox (nix/interpreters-host.nix), is unchanged
    expect(readFileSync(THP, 'utf8')).toBe(thpBefore);
    expect((await readdir('/nix/store')).includes('pwned')).toBe(false);
  });

  it('ends a memory bomb, an output flood, an endless loop and a fork bomb as typed failures', async () => {
    const limits = HOSTILE_LIMITS;
    const [memory, flood, loop, fork] = await Promise.all([
      run('memory-bomb', { pythons: ['27', '313'], limits }),
      run('output-flood', { pythons: ['27', '313'], limits }),
      run('endless-loop', { pythons: ['27', '313'], limits }),
      run('fork-bomb', { pythons: ['311'], limits }),
    ]);
    for (const key of ['27', '313'] as const) {
      expect(failure(memory.results[key]).code).toBe('sandbox-memory');
      expect(failure(flood.results[key]).code).toBe('sandbox-output-too-large');
      expect(failure(loop.results[key]).code).toBe('sandbox-timeout');
    }
    expect(['sandbox-timeout', 'sandbox-failed']).toContain(failure(fork.results['311']).code);
    // every process of the fork bomb is gone with its build
    expect(processesOf('fork-bomb-1.0')).toEqual([]);
  });

  it('reads the files setup.py can replace safely: a link, a FIFO, a sparse 100 GB file, a huge or deep result', async () => {
    // Each is a typed failure of its Python, quickly (before, the link made driver.py read
    // /dev/zero without end and the FIFO blocked it until Nix's build timeout).
    const limits = { ...HOSTILE_LIMITS, maxOutputBytes: 8 * 1024 * 1024 };
    const started = performance.now();
    const [link, fifo, sparse, enormous, nested] = await Promise.all([
      run('hostile-log-link', { pythons: ['311'], limits }),
      run('hostile-fifo', { pythons: ['311'], limits }),
      run('sparse-result', { pythons: ['311'], limits }),
      run('enormous-result', { pythons: FEW, limits }),
      run('nested-result', { pythons: ['311'], limits }),
    ]);
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(failure(link.results['311'])).toMatchObject({
      code: 'sandbox-output-invalid',
      log: 'output.log is a symbolic link',
    });
    expect(failure(fifo.results['311'])).toMatchObject({ code: 'sandbox-output-invalid' });
    expect(failure(fifo.results['311']).log).toMatch(/^result\.json is not a regular file/);
    // RLIMIT_FSIZE stops the truncate to 100 GB (SIGXFSZ); driver.py's own reading of such a
    // file, had one been made, is in driver-files.test.ts.
    expect(failure(sparse.results['311'])).toMatchObject({ code: 'sandbox-output-too-large' });
    for (const key of FEW) {
      expect(failure(enormous.results[key])).toMatchObject({
        code: 'sandbox-output-too-large',
        log: 'result.json is larger than 1048576 bytes',
      });
    }
    expect(failure(nested.results['311'])).toMatchObject({
      code: 'sandbox-output-invalid',
      log: 'result.json is nested too deeply',
    });
  });

  it('gives driver.py its own rlimits, under which the interpreters can still set theirs', async () => {
    const { results } = await run('driver-limits', { pythons: ['311'] });
    expect(ok(results['311']).install_requires).toEqual([
      `driver-fsize-${32 * 1024 * 1024}-${32 * 1024 * 1024}`,
      'driver-core-0-0',
      `driver-as-${1024 * 1024 * 1024}-${1024 * 1024 * 1024}`,
    ]);
  });

  it('unpacks no symlink from a .zip sdist, as none from a tar', async () => {
    // setup.py records which of its two link entries exist after unpacking (inside the tree and out)
    const setupPy = [
      'import os',
      'from setuptools import setup',
      "seen = [n for n in ('inside', 'escape') if os.path.lexists(n)]",
      "setup(name='zip-links', version='1.0', install_requires=['found-' + n for n in seen] + ['checked'])",
    ].join('\\n');
    const script = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("zip-links-1.0/setup.py", "${setupPy}\\n")
    z.writestr("zip-links-1.0/salt.txt", "${SALT}")
    for name, target in (("inside", "setup.py"), ("escape", "../../../etc/passwd")):
        info = zipfile.ZipInfo("zip-links-1.0/" + name)
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        z.writestr(info, target)
`;
    const file = path.join(work, 'zip-links-1.0.zip');
    await execFileAsync('python3', ['-c', script, file]);
    const sha256 = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const { results } = await runSandbox({
      sdistPath: file,
      sha256,
      filename: 'zip-links-1.0.zip',
      pythons: FEW,
    });
    for (const key of FEW) expect(ok(results[key]).install_requires).toEqual(['checked']);
  });

  it('runs an sdist whose file name is not a valid store path name', async () => {
    const sdist = await makeSdist('distutils', 'café');
    const { results, sdistStorePath } = await runSandbox({
      sdistPath: sdist.file,
      sha256: sdist.sha256,
      filename: sdist.filename,
      pythons: ['27', '313'],
    });
    expect(sdistStorePath).toMatch(/-caf__-1\.0\.tar\.gz$/);
    expect(ok(results['313']).install_requires).toEqual(['foo>=1']);
  });

  it('stops the build when the signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = run('endless-loop', {
      pythons: ['311'],
      limits: { wallSeconds: 60, cpuSeconds: 60 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 2000);
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    expect(performance.now() - started).toBeLessThan(10_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(processesOf('endless-loop-1.0')).toEqual([]);
  });

  it("turns a malformed result.json (driver.py's real output, broken) into a typed failure of the sdist", async () => {
    const { results, outPath } = await run('plain');
    const file = path.join(outPath, 'result.json');
    const text = await readFile(file, 'utf8');
    const keys = Object.keys(JSON.parse(text)) as PythonKey[];
    expect(keys.length).toBeGreaterThan(0);
    // The real output goes through the real parse function to what runSandbox returned.
    expect(sandboxResultsFrom(text, keys, file)).toEqual(
      Object.fromEntries(Object.entries(results).filter(([k]) => keys.includes(k as PythonKey))),
    );
    type Raw = Record<string, { ok?: Record<string, unknown>; error?: Record<string, unknown> }>;
    const real = JSON.parse(text) as Raw;
    const first = keys.find((k) => real[k]?.ok !== undefined)!;
    expect(first).toBeDefined();
    const broken = (change: (r: Raw, ok: Record<string, unknown>) => void): string => {
      const copy = structuredClone(real);
      change(copy, copy[first]!.ok!);
      return JSON.stringify(copy);
    };
    const malformed: Array<[string, string, RegExp]> = [
      ['cut off', text.slice(0, Math.floor(text.length / 2)), /cannot read .*result\.json/],
      ['not an object', JSON.stringify([real]), /result\.json: result: /],
      [
        'a number in a list',
        broken((_, ok) => {
          ok.install_requires = ['a', 1];
        }),
        /install_requires/,
      ],
      [
        'no extras_require',
        broken((_, ok) => {
          delete ok.extras_require;
        }),
        /extras_require/,
      ],
      [
        'both ok and error',
        broken((r) => {
          r[first]!.error = { code: 'setup-py-error', log: '' };
        }),
        new RegExp(first),
      ],
      [
        'a code not of the sandbox',
        broken((r) => {
          r[first] = { error: { code: 'rm-rf', log: '' } };
        }),
        /code|rm-rf/,
      ],
      [
        'a Python not asked for',
        broken((r) => {
          r['26'] = r[first]!;
        }),
        /26/,
      ],
      ['a key __proto__', text.replace(/^\{/, '{"__proto__": {},'), /__proto__/],
      [
        'a Python missing',
        broken((r) => {
          delete r[first];
        }),
        new RegExp(first),
      ],
    ];
    for (const [what, bad, mentions] of malformed) {
      let caught: unknown;
      try {
        sandboxResultsFrom(bad, keys, file);
      } catch (err) {
        caught = err;
      }
      expect(caught, what).toBeInstanceOf(CrawlError);
      const err = caught as CrawlError;
      expect(err.code, what).toBe('sandbox-output-invalid');
      expect(err.message, what).toContain(file);
      expect(err.message, what).toMatch(mentions);
      // Final and the file's own: the sdist queue records it against the file instead of retrying.
      expect(err.retryable, what).toBe(false);
      expect(isEnvironmentFault(err.code), what).toBe(false);
    }
  });

  it('refuses an sdist whose sha256 does not match', async () => {
    const sdist = await makeSdist('plain', 'mismatch');
    await expect(
      runSandbox({ sdistPath: sdist.file, sha256: '0'.repeat(64), filename: sdist.filename }),
    ).rejects.toMatchObject({ code: 'download-sha256-mismatch' });
  });
});

describe('sandbox result schema', () => {
  it('accepts ok and error entries for the requested keys only', () => {
    const good = {
      '27': {
        ok: {
          install_requires: ['a'],
          setup_requires: [],
          tests_require: [],
          extras_require: {},
          python_requires: null,
        },
      },
      '313': { error: { code: 'python-incompatible', log: 'SyntaxError: invalid syntax', tail: '' } },
    };
    expect(parseSandboxResults(good, ['27', '313']).success).toBe(true);
    expect(parseSandboxResults(good, ['27']).success).toBe(false);
    expect(parseSandboxResults(good, ['27', '313', '39']).success).toBe(false);
    expect(
      parseSandboxResults({ ...good, '313': { error: { code: 'rm-rf', log: '' } } }, ['27', '313']).success,
    ).toBe(false);
    expect(
      parseSandboxResults({ ...good, '27': { ok: { install_requires: [1] } } }, ['27', '313']).success,
    ).toBe(false);
    expect(parseSandboxResults([], ['27']).success).toBe(false);
  });

  it('names store paths as Nix allows, byte by byte', () => {
    expect(storeName('requests-2.31.0.tar.gz')).toBe('requests-2.31.0.tar.gz');
    expect(storeName('café-1.0.tar.gz')).toBe('caf__-1.0.tar.gz');
    expect(storeName('.hidden 1.zip')).toBe('_hidden_1.zip');
  });

  it('CrawlError codes exist for every sandbox failure', () => {
    expect(new CrawlError('sandbox-output-invalid', 'x').retryable).toBe(false);
    expect(new CrawlError('sandbox-failed', 'x').retryable).toBe(true);
  });
});
