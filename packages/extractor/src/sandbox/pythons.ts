import { execFile } from 'node:child_process';
import { readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { configError, sandboxError } from '@pypi-graph/core';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';

// Which host interpreters the sandbox runs setup.py under (host mode, nix/interpreters-host.nix):
// those SANDBOX_PYTHONS names, or, when it is unset, the ones discovered in the usual places.
// Each is asked once about itself (version, prefix, standard library, site directories, where its
// setuptools is), and from that comes what the sandbox must expose of it, read-only at the same
// path: a self-contained installation (pyenv, uv, a prefix of its own) as a whole, with its
// site-packages covered by an empty directory; a system one (/usr, /usr/local) as its executable
// and standard library only. Versions with no usable interpreter are missing: their results are
// `python-unavailable`.

/** Where an interpreter came from: SANDBOX_PYTHONS, PYENV_ROOT, ~/.pyenv, uv, or the bin directory it is in. */
export type PythonSource = string;

export interface HostPython {
  key: PythonKey;
  /** The path as configured or found (may be a link). */
  executable: string;
  /** Where it really is: what the sandbox runs. */
  python: string;
  /** `3.9.18`. */
  version: string;
  source: PythonSource;
  /** sys.prefix (real path). */
  prefix: string;
  /** `python3.9`. */
  lib: string;
  /** Paths exposed to the sandbox (directories or files), at the same path. */
  binds: string[];
  /** Existing site directories inside `binds`, covered by nix/empty-site-packages in the sandbox. */
  covers: string[];
  /** The site directory its setuptools is copied from, or null: Debian's setuptools wheel is shipped. */
  setuptools: string | null;
  /**
   * Not where it was built (copied, moved, or uv's): as a Nix builder (argv[0] a bare name) it
   * needs PYTHONHOME (interpreters-host.nix).
   */
  relocated: boolean;
}

export interface MissingPython {
  key: PythonKey;
  /** What was looked at and why it did not do (empty when nothing was there). */
  tried: string[];
}

export interface HostPythonSet {
  /** In PYTHON_KEYS order. */
  pythons: HostPython[];
  missing: MissingPython[];
  /** Whether SANDBOX_PYTHONS named them (else: discovered). */
  configured: boolean;
  /** The set as nix/interpreters-host.nix reads it (`--argstr hostPythons`); also the set's identity. */
  spec: string;
}

export interface ResolveHostPythonsOptions {
  /** SANDBOX_PYTHONS, parsed (config.sandboxPythons): only these, nothing discovered. */
  configured?: Readonly<Record<string, string>>;
  /** PYENV_ROOT, looked at first. */
  pyenvRoot?: string;
  /** The home directory whose ~/.pyenv and ~/.local/share/uv/python are looked at; os.homedir() by default. */
  home?: string;
  /** Directories whose `pythonX.Y` are taken last; `/usr/local/bin`, `/usr/bin` by default. */
  binDirs?: readonly string[];
}

/** The Python that setuptools 66.1.1 (the shipped wheel) needs at least. */
const WHEEL_MIN: [number, number] = [3, 7];
/** Prefixes whose whole tree is not exposed: only the executable and the standard library. */
const SYSTEM_PREFIXES = new Set(['/', '/usr', '/usr/local']);
/** Already exposed by interpreters-host.nix: shared libraries there need nothing more. */
const SYSTEM_LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib64'];
/**
 * Places an interpreter cannot be exposed from: inside the build they are the sandbox's own
 * (/tmp and /build are tmpfs there, /nix/store holds only the build's inputs) or the kernel's.
 */
const UNEXPOSABLE = ['/tmp', '/build', '/nix', '/proc', '/dev', '/sys'];

/** Run under the interpreter with `-E -s -S`: Python 2.7 and 3.x alike. */
const INTROSPECT = `
import json, os, platform, site, sys, sysconfig
def real(p):
    return os.path.realpath(p) if p else None
try:
    sites = site.getsitepackages()
except Exception:
    sites = []
setuptools = None
for d in sites:
    if os.path.isfile(os.path.join(d, 'setuptools', '__init__.py')):
        setuptools = real(d)
        break
libdir = sysconfig.get_config_var('LIBDIR')
so = sysconfig.get_config_var('INSTSONAME')
libpython = None
if sysconfig.get_config_var('Py_ENABLE_SHARED') and libdir and so and os.path.isfile(os.path.join(libdir, so)):
    libpython = real(os.path.join(libdir, so))
sys.stdout.write(json.dumps({
    'implementation': platform.python_implementation(),
    'version': '%d.%d.%d' % tuple(sys.version_info[:3]),
    'prefix': real(sys.prefix), 'exec_prefix': real(sys.exec_prefix),
    'stdlib': real(sysconfig.get_path('stdlib')), 'platstdlib': real(sysconfig.get_path('platstdlib')),
    'sites': [real(d) for d in sites if os.path.isdir(d)],
    'setuptools': setuptools, 'libpython': libpython,
    'built_prefix': real(sysconfig.get_config_var('prefix')),
}))
`;

interface Introspection {
  implementation: string;
  version: string;
  prefix: string;
  exec_prefix: string;
  stdlib: string;
  platstdlib: string;
  sites: string[];
  setuptools: string | null;
  libpython: string | null;
  built_prefix: string | null;
}

export function keyVersion(key: PythonKey): [number, number] {
  return [Number(key[0]), Number(key.slice(1))];
}

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function introspect(python: string): Promise<Introspection> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      ['-E', '-s', '-S', '-c', INTROSPECT],
      { timeout: 30_000, maxBuffer: 1024 * 1024, env: { PATH: '/usr/bin:/bin' } },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            sandboxError(
              'python-unavailable',
              `it did not run: ${(stderr || err.message).trim().split('\n').pop()}`,
            ),
          );
          return;
        }
        try {
          resolve(JSON.parse(stdout) as Introspection);
        } catch {
          reject(sandboxError('python-unavailable', 'it did not answer as a Python 2.7 or 3.x does'));
        }
      },
    );
  });
}

/** What the sandbox needs of one interpreter; throws an Error saying why it cannot be used. */
async function describeOne(key: PythonKey, executable: string, source: PythonSource): Promise<HostPython> {
  let python: string;
  try {
    python = await realpath(executable);
  } catch {
    throw sandboxError('python-unavailable', 'no such file');
  }
  const info = await introspect(python);
  const [major, minor] = keyVersion(key);
  if (info.implementation !== 'CPython')
    throw sandboxError('python-unavailable', `it is ${info.implementation}, not CPython`);
  if (!info.version.startsWith(`${major}.${minor}.`)) {
    throw sandboxError('python-unavailable', `it is Python ${info.version}, not ${major}.${minor}`);
  }
  const binds: string[] = [];
  if (!SYSTEM_PREFIXES.has(info.prefix) && info.exec_prefix === info.prefix) {
    binds.push(info.prefix);
    if (!inside(python, info.prefix)) binds.push(python);
  } else {
    binds.push(python, info.stdlib);
    if (info.platstdlib !== info.stdlib) binds.push(info.platstdlib);
  }
  if (
    info.libpython &&
    !binds.some((b) => inside(info.libpython!, b)) &&
    !SYSTEM_LIB_DIRS.some((d) => inside(info.libpython!, d))
  ) {
    // a shared build whose RPATH points elsewhere (a copied or moved installation): its libpython alone
    binds.push(info.libpython);
  }
  for (const b of binds) {
    const bad = UNEXPOSABLE.find((d) => inside(b, d));
    if (bad)
      throw sandboxError(
        'python-unavailable',
        `${b} is under ${bad}, which the sandbox cannot expose from the host`,
      );
    // extra-sandbox-paths is a space-separated list of `path[=source][?]`
    if (/[\s=?]/.test(b))
      throw sandboxError(
        'python-unavailable',
        `${JSON.stringify(b)} has a space, '=' or '?', which Nix's extra-sandbox-paths cannot carry`,
      );
  }
  const covers = info.sites.filter((s) => binds.some((b) => inside(s, b)));
  if (!info.setuptools && (major < WHEEL_MIN[0] || (major === WHEEL_MIN[0] && minor < WHEEL_MIN[1]))) {
    throw sandboxError(
      'python-unavailable',
      `it has no setuptools in its site-packages, and the shipped setuptools 66.1.1 needs Python >= ${WHEEL_MIN.join('.')}`,
    );
  }
  return {
    key,
    executable,
    python,
    version: info.version,
    source,
    prefix: info.prefix,
    lib: `python${major}.${minor}`,
    binds,
    covers,
    setuptools: info.setuptools,
    relocated: info.built_prefix !== info.prefix,
  };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** `<dir>/<entry>/bin/pythonX.Y` of the highest patch release among entries named by `pattern`. */
async function newestIn(dir: string, key: PythonKey, pattern: RegExp): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const [major, minor] = keyVersion(key);
  const found: { patch: number; file: string }[] = [];
  for (const e of entries) {
    const m = pattern.exec(e);
    if (!m || Number(m[1]) !== major || Number(m[2]) !== minor) continue;
    found.push({ patch: Number(m[3]), file: path.join(dir, e, 'bin', `python${major}.${minor}`) });
  }
  return found.sort((a, b) => b.patch - a.patch).map((f) => f.file);
}

/** Where discovery looks for one version, in order. */
async function candidates(
  key: PythonKey,
  options: ResolveHostPythonsOptions,
): Promise<{ file: string; source: PythonSource }[]> {
  const home = options.home ?? homedir();
  const [major, minor] = keyVersion(key);
  const pyenvVersion = /^(\d+)\.(\d+)\.(\d+)$/;
  const out: { file: string; source: PythonSource }[] = [];
  const roots: [string, PythonSource][] = [];
  if (options.pyenvRoot) roots.push([options.pyenvRoot, 'PYENV_ROOT']);
  const homePyenv = path.join(home, '.pyenv');
  if (!options.pyenvRoot || path.resolve(options.pyenvRoot) !== path.resolve(homePyenv)) {
    roots.push([homePyenv, '~/.pyenv']);
  }
  for (const [root, source] of roots) {
    for (const file of await newestIn(path.join(root, 'versions'), key, pyenvVersion))
      out.push({ file, source });
  }
  // `uv python install`: cpython-3.12.8-linux-x86_64-gnu (not the +freethreaded builds)
  for (const file of await newestIn(
    path.join(home, '.local/share/uv/python'),
    key,
    /^cpython-(\d+)\.(\d+)\.(\d+)-linux-/,
  )) {
    out.push({ file, source: 'uv' });
  }
  for (const dir of options.binDirs ?? ['/usr/local/bin', '/usr/bin']) {
    const file = path.join(dir, `python${major}.${minor}`);
    out.push({ file, source: dir });
  }
  return out;
}

/** The set as nix/interpreters-host.nix reads it. */
function specOf(pythons: HostPython[]): string {
  return JSON.stringify(
    Object.fromEntries(
      pythons.map((p) => [
        p.key,
        {
          version: p.version,
          lib: p.lib,
          python: p.python,
          prefix: p.prefix,
          binds: p.binds,
          covers: p.covers,
          setuptools: p.setuptools,
          relocated: p.relocated,
        },
      ]),
    ),
  );
}

async function resolve(options: ResolveHostPythonsOptions): Promise<HostPythonSet> {
  const configured = options.configured;
  const results = await Promise.all(
    PYTHON_KEYS.map(async (key): Promise<HostPython | MissingPython> => {
      if (configured) {
        const file = configured[key];
        if (file === undefined) return { key, tried: [] };
        try {
          return await describeOne(key, file, 'SANDBOX_PYTHONS');
        } catch (err) {
          // Named by the operator: a mistake to say at once, not a version to skip quietly.
          throw configError(
            'config-invalid',
            `invalid configuration: SANDBOX_PYTHONS: ${key}=${file}: ${(err as Error).message}`,
            { hint: 'name a CPython of that version (nix/README.md "Interpreters")' },
          );
        }
      }
      const tried: string[] = [];
      for (const c of await candidates(key, options)) {
        if (!(await isFile(c.file))) continue;
        try {
          return await describeOne(key, c.file, c.source);
        } catch (err) {
          tried.push(`${c.file}: ${(err as Error).message}`);
        }
      }
      return { key, tried };
    }),
  );
  const pythons = results.filter((r): r is HostPython => 'python' in r);
  return {
    pythons,
    missing: results.filter((r): r is MissingPython => !('python' in r)),
    configured: configured !== undefined,
    spec: specOf(pythons),
  };
}

const resolved = new Map<string, Promise<HostPythonSet>>();

/**
 * The host interpreters of this process: those SANDBOX_PYTHONS names (a named one that is not a
 * usable CPython of its version is a `config-invalid` error), else the ones discovered. Each
 * version's first usable candidate, in order: PYENV_ROOT/versions/X.Y.*, ~/.pyenv/versions/X.Y.*
 * (the highest patch release), ~/.local/share/uv/python/cpython-X.Y.*-linux-*, then
 * /usr/local/bin/pythonX.Y and /usr/bin/pythonX.Y. Asked once per process and options.
 */
export function resolveHostPythons(options: ResolveHostPythonsOptions = {}): Promise<HostPythonSet> {
  const key = JSON.stringify([
    options.configured ?? null,
    options.pyenvRoot ?? null,
    options.home ?? homedir(),
    options.binDirs ?? null,
  ]);
  let cached = resolved.get(key);
  if (!cached) {
    cached = resolve(options);
    cached.catch(() => resolved.delete(key));
    resolved.set(key, cached);
  }
  return cached;
}

/** What to do when versions, or all, are missing. */
export const NO_PYTHONS_HINT =
  'name the interpreters in SANDBOX_PYTHONS (27=/path/to/python2.7,…) or install them where discovery looks (PYENV_ROOT, ~/.pyenv/versions, uv python install, /usr/bin/pythonX.Y; nix/README.md "Interpreters"); `pnpm pypi-graph status` lists what was found';

/** Whether the set has a Python >= 3.7, which driver.py and the probe need (interpreters-host.nix). */
export function hasDriverPython(set: HostPythonSet): boolean {
  return set.pythons.some((p) => {
    const [major, minor] = keyVersion(p.key);
    return major > 3 || (major === 3 && minor >= 7);
  });
}

/** One line per version for people (`pnpm pypi-graph status`, the worker's start). */
export function describeHostPythons(set: HostPythonSet): string[] {
  const lines = set.pythons.map(
    (p) =>
      `${p.key}: Python ${p.version} ${p.executable}${p.python !== p.executable ? ` (→ ${p.python})` : ''} [${p.source}]${p.setuptools ? '' : ', shipped setuptools 66.1.1'}`,
  );
  for (const m of set.missing) {
    lines.push(
      `${m.key}: missing${set.configured ? ' (not in SANDBOX_PYTHONS)' : m.tried.length > 0 ? ` (${m.tried.join('; ')})` : ' (none found)'}`,
    );
  }
  return lines;
}
