import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CrawlError } from '@pypi-graph/core';
import { runNix } from './nix';
import { PYTHON_KEYS, type PythonKey, parseSandboxResults, type SandboxResults } from './schema';

// Runs one sdist's setup.py under each Python version inside the Nix build sandbox
// (DESIGN.md §3, nix/extractor.nix). One derivation per (sdist, extractor, interpreters, limits):
// a second run of the same sdist is a Nix cache hit.

/** The repository's `nix/` directory. */
export const DEFAULT_NIX_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../nix');

export interface SandboxLimits {
  /** Wall-clock seconds per interpreter; its whole process group is killed after that. */
  wallSeconds: number;
  /** CPU seconds per interpreter (RLIMIT_CPU). */
  cpuSeconds: number;
  /** Address space per interpreter in MiB (RLIMIT_AS). */
  memoryMiB: number;
  /** Processes and threads of the build user (RLIMIT_NPROC). */
  maxProcesses: number;
  /** Bytes the script may print, and the largest file it may write (RLIMIT_FSIZE). */
  maxOutputBytes: number;
  /** Interpreters run at the same time inside the one derivation. */
  parallelism: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = Object.freeze({
  wallSeconds: 60,
  cpuSeconds: 30,
  memoryMiB: 1024,
  maxProcesses: 64,
  maxOutputBytes: 1024 * 1024,
  parallelism: 3,
});

export interface RunSandboxOptions {
  /** The verified sdist on disk. */
  sdistPath: string;
  /** Its sha256 (hex) as PyPI lists it; checked again before the file enters the store. */
  sha256: string;
  /** The sdist's file name on PyPI: names the store path and picks tar vs. zip. */
  filename: string;
  /** Python versions to run; all nine by default. */
  pythons?: readonly PythonKey[];
  limits?: Partial<SandboxLimits>;
  /** `host`: pyenv interpreters via extra-sandbox-paths; `nixpkgs`: a pinned nixpkgs (unverified here). */
  interpreters?: 'host' | 'nixpkgs';
  /** Where extractor.nix lives; the repository's `nix/` by default. */
  nixDir?: string;
  signal?: AbortSignal;
}

export interface SandboxRun {
  results: SandboxResults;
  /** The sdist's store path (`nix-store --add-fixed sha256`). */
  sdistStorePath: string;
  /** The derivation's output; holds result.json. */
  outPath: string;
  durationMs: number;
}

const RESULT_CAP = 16 * 1024 * 1024;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function tailLines(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

interface InterpreterSet {
  /** `--option extra-sandbox-paths` for nix-build (nix/sandbox-paths.nix). */
  sandboxPaths: string[];
  /**
   * Host mode: the Nix expression for `--arg shippedDrvs`, the shipped setuptools derivations
   * instantiated once (nix/interpreters-host.nix), so that no nix-build hashes their sources again.
   */
  shippedDrvs?: string;
}

const interpreterSets = new Map<string, Promise<InterpreterSet>>();

async function nixOrThrow(args: string[], what: string, signal?: AbortSignal): Promise<string> {
  const res = await runNix('nix-instantiate', args, { timeoutMs: 300_000, signal });
  if (res.status !== 0) {
    throw new CrawlError('sandbox-failed', `cannot evaluate ${what}: ${tailLines(res.stderr, 5)}`);
  }
  return res.stdout;
}

/** What nix-build needs besides the sdist, evaluated once per process and interpreter set. */
function interpreterSet(nixDir: string, interpreters: string, signal?: AbortSignal): Promise<InterpreterSet> {
  const key = `${nixDir}\0${interpreters}`;
  let cached = interpreterSets.get(key);
  if (!cached) {
    cached = (async (): Promise<InterpreterSet> => {
      const expr = `import ${path.join(nixDir, 'sandbox-paths.nix')} { interpreters = ${JSON.stringify(interpreters)}; }`;
      const parsed: unknown = JSON.parse(
        await nixOrThrow(['--eval', '--strict', '--json', '-E', expr], 'the sandbox paths', signal),
      );
      if (!Array.isArray(parsed) || !parsed.every((p): p is string => typeof p === 'string')) {
        throw new CrawlError('sandbox-output-invalid', 'sandbox-paths.nix did not give a list of strings');
      }
      if (interpreters !== 'host') return { sandboxPaths: parsed };
      // Writes the .drv files (a plain --eval would not) and prints them in attribute-name order.
      const drvs = (
        await nixOrThrow(
          ['-A', 'shippedList', path.join(nixDir, 'interpreters-host.nix')],
          'the shipped setuptools',
          signal,
        )
      )
        .trim()
        .split('\n');
      const keys = [...PYTHON_KEYS].sort();
      if (drvs.length !== keys.length || !drvs.every((d) => /^\/nix\/store\/[^\s"$\\]+\.drv$/.test(d))) {
        throw new CrawlError('sandbox-output-invalid', `unexpected shipped setuptools: ${drvs.join(' ')}`);
      }
      const shippedDrvs = `{ ${keys.map((k, i) => `${JSON.stringify(k)} = ${JSON.stringify(drvs[i])};`).join(' ')} }`;
      return { sandboxPaths: parsed, shippedDrvs };
    })();
    cached.catch(() => interpreterSets.delete(key));
    interpreterSets.set(key, cached);
  }
  return cached;
}

/**
 * The store path name for a PyPI file name. Nix allows only `[A-Za-z0-9+._?=-]` and no leading
 * dot (`café-1.0.tar.gz` is a real PyPI file name); anything else becomes `_`. For the usual
 * ASCII names this is the file name itself, so the path equals `<nix/fetchurl.nix>`'s.
 */
export function storeName(filename: string): string {
  // byte-wise, like nix/extractor.nix: `é` (two UTF-8 bytes) becomes `__`
  const bytes = Buffer.from(filename, 'utf8');
  let name = '';
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    name += byte < 0x80 && /[A-Za-z0-9+._?=-]/.test(ch) ? ch : '_';
  }
  return name.replace(/^\./, '_');
}

/** Adds the sdist to the store under its (store-safe) PyPI file name. */
async function addToStore(options: RunSandboxOptions): Promise<string> {
  const actual = await sha256File(options.sdistPath);
  if (actual !== options.sha256.toLowerCase()) {
    throw new CrawlError(
      'download-sha256-mismatch',
      `${options.filename}: sha256 ${actual}, expected ${options.sha256}`,
    );
  }
  let file = options.sdistPath;
  let tmp: string | undefined;
  const name = storeName(options.filename);
  if (path.basename(file) !== name) {
    tmp = await mkdtemp(path.join(tmpdir(), 'pypi-graph-sdist-'));
    file = path.join(tmp, name);
    await copyFile(options.sdistPath, file);
  }
  try {
    const res = await runNix('nix-store', ['--add-fixed', 'sha256', file], {
      timeoutMs: 120_000,
      signal: options.signal,
    });
    const storePath = res.stdout.trim();
    if (res.status !== 0 || !storePath.startsWith('/nix/store/')) {
      throw new CrawlError('sandbox-failed', `nix-store --add-fixed failed: ${tailLines(res.stderr, 5)}`);
    }
    return storePath;
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

async function readCapped(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > RESULT_CAP) {
      throw new CrawlError('sandbox-output-invalid', `result.json is ${size} bytes, more than ${RESULT_CAP}`);
    }
    return await handle.readFile({ encoding: 'utf8' });
  } finally {
    await handle.close();
  }
}

/**
 * Runs the sdist's setup.py under each requested Python inside the Nix sandbox and returns
 * one result per Python key. Throws a CrawlError only when the sandbox as a whole failed
 * (`sandbox-failed`, `sandbox-timeout`, `sandbox-output-invalid`, `aborted`); a failure of
 * setup.py under one interpreter is a per-key `{ error }`.
 */
export async function runSandbox(options: RunSandboxOptions): Promise<SandboxRun> {
  const started = performance.now();
  const nixDir = options.nixDir ?? DEFAULT_NIX_DIR;
  const interpreters = options.interpreters ?? 'host';
  const pythons = [...(options.pythons ?? PYTHON_KEYS)];
  if (pythons.length === 0 || !pythons.every((k) => (PYTHON_KEYS as readonly string[]).includes(k))) {
    throw new CrawlError('config-invalid', `unknown Python keys: ${pythons.join(',')}`);
  }
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
  const [firstSet, sdistStorePath] = await Promise.all([
    interpreterSet(nixDir, interpreters, options.signal),
    addToStore(options),
  ]);
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0)
      throw new CrawlError('config-invalid', `sandbox limit ${name}=${value}`);
  }
  const rounds = Math.ceil(pythons.length / Math.max(1, limits.parallelism));
  const buildSeconds = rounds * (limits.wallSeconds + 10) + 60;
  const nixBuild = (set: InterpreterSet) => {
    const args = [
      path.join(nixDir, 'extractor.nix'),
      '--no-out-link',
      '--option',
      'sandbox',
      'true',
      '--option',
      'extra-sandbox-paths',
      set.sandboxPaths.join(' '),
      '--option',
      'timeout',
      String(buildSeconds),
      '--argstr',
      'sdist',
      sdistStorePath,
      '--argstr',
      'filename',
      options.filename,
      '--argstr',
      'interpreters',
      interpreters,
      '--arg',
      'pythons',
      `[ ${pythons.map((k) => JSON.stringify(k)).join(' ')} ]`,
    ];
    // Host mode builds nothing but this derivation and, once, the shipped setuptools: no binary
    // cache to ask (and none reachable here).
    // The nixpkgs mode needs one for its interpreters, so it keeps the configured substituters.
    if (interpreters === 'host') args.push('--option', 'substituters', '');
    if (set.shippedDrvs) args.push('--arg', 'shippedDrvs', set.shippedDrvs);
    for (const [name, value] of Object.entries(limits)) args.push('--arg', name, String(value));
    return runNix('nix-build', args, { timeoutMs: (buildSeconds + 30) * 1000, signal: options.signal });
  };
  let res = await nixBuild(firstSet);
  if (res.status !== 0 && firstSet.shippedDrvs && /pypi-graph-setuptools-py\d+\.drv/.test(res.stderr)) {
    // The shipped setuptools .drv files this process instantiated were garbage-collected since:
    // instantiate them again, once.
    interpreterSets.delete(`${nixDir}\0${interpreters}`);
    res = await nixBuild(await interpreterSet(nixDir, interpreters, options.signal));
  }
  if (res.timedOut || /timed out after/.test(res.stderr)) {
    throw new CrawlError(
      'sandbox-timeout',
      `nix-build of ${options.filename} took longer than ${buildSeconds}s`,
      {
        details: { stderr: tailLines(res.stderr) },
      },
    );
  }
  const outPath = res.stdout.trim().split('\n').pop() ?? '';
  if (res.status !== 0 || !outPath.startsWith('/nix/store/')) {
    throw new CrawlError(
      'sandbox-failed',
      `nix-build of ${options.filename} failed: ${tailLines(res.stderr, 5)}`,
      {
        details: { status: res.status, stderr: tailLines(res.stderr) },
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readCapped(path.join(outPath, 'result.json')));
  } catch (err) {
    if (err instanceof CrawlError) throw err;
    throw new CrawlError('sandbox-output-invalid', `cannot read ${outPath}/result.json`, { cause: err });
  }
  const parsed = parseSandboxResults(raw, pythons);
  if (!parsed.success) {
    throw new CrawlError('sandbox-output-invalid', `${outPath}/result.json: ${parsed.issue}`);
  }
  return { results: parsed.data, sdistStorePath, outPath, durationMs: performance.now() - started };
}
