import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SANDBOX_PARALLELISM } from '@pypi-graph/config';
import { CrawlError, configError, downloadError, sandboxError } from '@pypi-graph/core';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';
import {
  DEFAULT_NIX_DIR,
  forgetInterpreterSet,
  type InterpreterSet,
  interpreterSet,
  sandboxRealiseOptions,
} from './build-options';
import {
  type BuildCgroupReport,
  type BuildLimits,
  type CgroupPolicy,
  DEFAULT_BUILD_LIMITS,
  inBuildCgroup,
} from './cgroup';
import { type DerivationRequest, type Instantiated, instantiateExtraction } from './instantiate';
import { defaultBinPath, runNix, tailLines } from './nix';
import { SANDBOX_HINT, type SandboxGate, sandboxGate } from './probe';
import { type HostPythonSet, keyVersion, NO_PYTHONS_HINT, resolveHostPythons } from './pythons';
import { type SandboxResults, sandboxResultsFrom } from './schema';

// Runs one sdist's setup.py under each Python version inside the Nix build sandbox
// (docs/architecture.md §3, nix/extractor.nix). One derivation per (sdist, extractor, interpreters, limits):
// a second run of the same sdist is a Nix cache hit.

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
  /** What one interpreter's directory may hold, MiB: the unpacked sdist and what it writes (a tmpfs). */
  diskMiB: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = Object.freeze({
  wallSeconds: 60,
  cpuSeconds: 30,
  memoryMiB: 1024,
  maxProcesses: 64,
  maxOutputBytes: 1024 * 1024,
  parallelism: SANDBOX_PARALLELISM,
  diskMiB: 512,
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
  /** `host`: the machine's interpreters via extra-sandbox-paths; `nixpkgs`: a pinned nixpkgs (unverified here). */
  interpreters?: 'host' | 'nixpkgs';
  /**
   * Host mode: the interpreters (resolveHostPythons: SANDBOX_PYTHONS or discovery); discovered
   * with its defaults when unset. A requested Python the set lacks is not run: its result is
   * `python-unavailable`.
   */
  hostPythons?: HostPythonSet;
  /** Where extractor.nix lives; the repository's `nix/` by default. */
  nixDir?: string;
  /** PATH the Nix commands are found in and run with; this process's PATH by default. */
  binPath?: string;
  /**
   * What must have proven the sandbox before the build (probe.ts). By default the process-wide
   * gate of (nixDir, interpreters, binPath): the first run probes, the others reuse its verdict.
   */
  gate?: SandboxGate;
  /** `required` (default): each build in a cgroup of its own with `buildLimits`; `off`: none. */
  cgroups?: CgroupPolicy;
  /** The caps of the whole build (its cgroup); DEFAULT_BUILD_LIMITS by default. */
  buildLimits?: Partial<BuildLimits>;
  /**
   * Build dependencies per Python key (issue 11): verified wheels on disk, each added to the store
   * by its sha256 (checked again here) and unpacked onto that interpreter's sys.path in the sandbox.
   */
  buildWheels?: Partial<Record<PythonKey, readonly BuildWheelFile[]>>;
  /** A PEP 517 build-backend to call (`prepare_metadata_for_build_wheel`) instead of setup.py. */
  backend?: { name: string; path?: readonly string[] };
  signal?: AbortSignal;
}

/** One build-dependency wheel, downloaded and verified outside the sandbox. */
export interface BuildWheelFile {
  /** The file on disk. */
  path: string;
  /** Its sha256 as the index published it. */
  sha256: string;
  /** Its file name on the index (the store path's name). */
  filename: string;
}

export interface SandboxRun {
  results: SandboxResults;
  /** The sdist's store path (`nix-store --add-fixed sha256`); empty when no requested Python is here. */
  sdistStorePath: string;
  /** The derivation's output; holds result.json. Empty when nothing was built (no requested Python is here). */
  outPath: string;
  /** The derivation (nix-instantiate's .drv). */
  drvPath: string;
  /** The build-dependency wheels' store paths (`buildWheels`), for the caller to free with the rest. */
  wheelStorePaths: string[];
  durationMs: number;
  /** Where the time went. */
  phases: SandboxPhases;
  /** What the build's cgroup saw (absent with `cgroups: 'off'`). */
  cgroup?: BuildCgroupReport;
}

/** Wall time of each step of one runSandbox, milliseconds (`pnpm bench sdist` reports them). */
export interface SandboxPhases {
  /** sha256 of the file, checked again before it enters the store. */
  hashMs: number;
  /** `nix-store --add-fixed sha256`. */
  addFixedMs: number;
  /** nix-instantiate of the derivation (shared by `evalBatch` sdists evaluated together). */
  evalMs: number;
  evalBatch: number;
  /** `nix-store --realise` of the derivation: the sandbox's setup, then driver.py (`driver`). */
  buildMs: number;
  /** Reading and checking result.json. */
  parseMs: number;
  /** What driver.py measured inside the build ($out/timings.json); absent on a cache hit of an older output. */
  driver?: DriverTimings;
}

export interface DriverTimings {
  /** driver.py from start to result.json. */
  totalMs: number;
  /** Unpacking the sdist (once per build). */
  unpackMs: number;
  /** Preparing each interpreter's own writable view of it. */
  viewMs: number;
  /** Each interpreter's wall time. */
  interpretersMs: Record<string, number>;
  /** The interpreters' CPU time (user + system, all of them). */
  interpreterCpuMs: number;
  /** driver.py's own CPU time (user + system: unpacking, mounts, starting and reading the interpreters). */
  driverCpuMs: number;
}

async function readTimings(file: string): Promise<DriverTimings | undefined> {
  try {
    const t = JSON.parse(await readCapped(file)) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v * 1000 : 0);
    const per: Record<string, number> = {};
    if (t.interpreters && typeof t.interpreters === 'object')
      for (const [k, v] of Object.entries(t.interpreters)) per[k] = num(v);
    return {
      totalMs: num(t.total),
      unpackMs: num(t.unpack),
      viewMs: num(t.view),
      interpretersMs: per,
      interpreterCpuMs: num(t.cpu),
      driverCpuMs: num(t.driverCpu),
    };
  } catch {
    return undefined;
  }
}

const RESULT_CAP = 16 * 1024 * 1024;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** What driver.py prints when it finds itself outside a sandbox (and runs nothing). */
const NOT_SANDBOXED = /pypi-graph: not in a sandbox: ([^\n]*)/;

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

/**
 * Adds one file to the store under its (store-safe) PyPI file name, as a fixed-output path of the
 * sha256 the index published (checked first): the path `<nix/fetchurl.nix>` would give.
 */
export async function addFixedToStore(
  options: { sdistPath: string; sha256: string; filename: string; binPath: string; signal?: AbortSignal },
  phases?: SandboxPhases,
): Promise<string> {
  let t = performance.now();
  const actual = await sha256File(options.sdistPath);
  if (phases) phases.hashMs = performance.now() - t;
  if (actual !== options.sha256.toLowerCase()) {
    throw downloadError(
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
    t = performance.now();
    const res = await runNix('nix-store', ['--add-fixed', 'sha256', file], {
      timeoutMs: 120_000,
      signal: options.signal,
      binPath: options.binPath,
    });
    if (phases) phases.addFixedMs = performance.now() - t;
    const storePath = res.stdout.trim();
    if (res.status !== 0 || !storePath.startsWith('/nix/store/')) {
      throw sandboxError('sandbox-failed', `nix-store --add-fixed failed: ${tailLines(res.stderr, 5)}`);
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
      throw sandboxError('sandbox-output-invalid', `result.json is ${size} bytes, more than ${RESULT_CAP}`);
    }
    return await handle.readFile({ encoding: 'utf8' });
  } finally {
    await handle.close();
  }
}

/**
 * Runs the sdist's setup.py under each requested Python inside the Nix sandbox and returns
 * one result per Python key. Throws a CrawlError only when the sandbox as a whole failed
 * (`sandbox-failed`, `sandbox-timeout`, `sandbox-output-invalid`, `aborted`) or was not there
 * (`sandbox-unavailable`: the probe has not proven it, or the build found itself outside it; nothing
 * of the sdist ran); a failure of setup.py under one interpreter is a per-key `{ error }`.
 */
export async function runSandbox(options: RunSandboxOptions): Promise<SandboxRun> {
  const started = performance.now();
  const nixDir = options.nixDir ?? DEFAULT_NIX_DIR;
  const interpreters = options.interpreters ?? 'host';
  let pythons = [...(options.pythons ?? PYTHON_KEYS)];
  if (pythons.length === 0 || !pythons.every((k) => (PYTHON_KEYS as readonly string[]).includes(k))) {
    throw configError('config-invalid', `unknown Python keys: ${pythons.join(',')}`);
  }
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
  const buildLimits = { ...DEFAULT_BUILD_LIMITS, ...options.buildLimits };
  const binPath = options.binPath ?? defaultBinPath();
  const cgroups = options.cgroups ?? 'required';
  const hostPythons =
    interpreters === 'host' ? (options.hostPythons ?? (await resolveHostPythons())) : undefined;
  // Versions this machine has no interpreter of are not run: recorded as such, not as failures.
  const unavailable: SandboxResults = {};
  if (hostPythons) {
    const here = new Set(hostPythons.pythons.map((p) => p.key));
    for (const key of pythons.filter((k) => !here.has(k))) {
      const [major, minor] = keyVersion(key);
      unavailable[key] = {
        error: {
          code: 'python-unavailable',
          log: `no Python ${major}.${minor} interpreter for the sandbox on this machine (${hostPythons.configured ? 'not in SANDBOX_PYTHONS' : 'none discovered'})`,
          tail: NO_PYTHONS_HINT,
        },
      };
    }
    pythons = pythons.filter((k) => here.has(k));
    if (pythons.length === 0 && hostPythons.pythons.length > 0) {
      // nothing to run here (another machine's interpreters may run them): not even the gate
      return {
        results: unavailable,
        sdistStorePath: '',
        drvPath: '',
        wheelStorePaths: [],
        outPath: '',
        durationMs: performance.now() - started,
        phases: { hashMs: 0, addFixedMs: 0, evalMs: 0, evalBatch: 0, buildMs: 0, parseMs: 0 },
      };
    }
  }
  const gate = options.gate ?? sandboxGate({ nixDir, interpreters, binPath, cgroups, hostPythons });
  // Nothing of the sdist is built, nor even added to the store, before this nix-build has been
  // shown to sandbox its builds (once per process: later runs pass at once).
  await gate.ensure();
  const phases: SandboxPhases = { hashMs: 0, addFixedMs: 0, evalMs: 0, evalBatch: 0, buildMs: 0, parseMs: 0 };
  const [firstSet, sdistStorePath] = await Promise.all([
    interpreterSet(nixDir, interpreters, options.signal, binPath, hostPythons?.spec),
    addFixedToStore({ ...options, binPath }, phases),
  ]);
  const wheelPaths = new Map<string, string>();
  for (const wheels of Object.values(options.buildWheels ?? {})) {
    for (const w of wheels ?? []) {
      if (wheelPaths.has(w.sha256)) continue;
      wheelPaths.set(
        w.sha256,
        await addFixedToStore({
          sdistPath: w.path,
          sha256: w.sha256,
          filename: w.filename,
          binPath,
          signal: options.signal,
        }),
      );
    }
  }
  // Per Python key, the store paths of its build-dependency wheels (the ones it may run).
  const buildWheels: Record<string, string[]> = {};
  for (const [key, wheels] of Object.entries(options.buildWheels ?? {})) {
    if (pythons.includes(key as PythonKey) && (wheels?.length ?? 0) > 0)
      buildWheels[key] = (wheels ?? []).map((w) => wheelPaths.get(w.sha256)!);
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0)
      throw configError('config-invalid', `sandbox limit ${name}=${value}`);
  }
  const rounds = Math.ceil(pythons.length / Math.max(1, limits.parallelism));
  const buildSeconds = rounds * (limits.wallSeconds + 10) + 60;
  const request: DerivationRequest = {
    sdistStorePath,
    filename: options.filename,
    pythons,
    limits: { ...limits },
    buildWheels,
    backend: options.backend
      ? { name: options.backend.name, path: [...(options.backend.path ?? [])] }
      : undefined,
  };
  // Evaluation (nix-instantiate, batched with the sdists evaluated at the same moment), then the
  // build of that one derivation (nix-store --realise) in a cgroup of its own.
  const evaluate = (set: InterpreterSet) =>
    instantiateExtraction({ nixDir, interpreters, binPath, set, signal: options.signal }, request);
  let instantiated: Instantiated;
  try {
    instantiated = await evaluate(firstSet);
  } catch (err) {
    if (!(firstSet.shippedDrvs && /pypi-graph-setuptools-py\d+\.drv/.test(String((err as Error).message))))
      throw err;
    // The shipped setuptools .drv files this process instantiated were garbage-collected since:
    // instantiate them again, once.
    forgetInterpreterSet(nixDir, interpreters, binPath, hostPythons?.spec);
    instantiated = await evaluate(
      await interpreterSet(nixDir, interpreters, options.signal, binPath, hostPythons?.spec),
    );
  }
  phases.evalMs = instantiated.evalMs;
  phases.evalBatch = instantiated.batchSize;
  const realise = (drv: string) =>
    inBuildCgroup(cgroups, buildLimits, (wrap) =>
      runNix(
        'nix-store',
        ['--realise', drv, ...sandboxRealiseOptions(interpreters, firstSet, buildSeconds)],
        { timeoutMs: (buildSeconds + 30) * 1000, signal: options.signal, binPath, wrap },
      ),
    );
  let t = performance.now();
  let { res, report } = await realise(instantiated.drvPath);
  if (res.status !== 0 && /is not valid|don't know how to build|No such file/.test(res.stderr)) {
    // its .drv was garbage-collected between evaluation and build: evaluated again, once
    instantiated = await evaluate(
      await interpreterSet(nixDir, interpreters, options.signal, binPath, hostPythons?.spec),
    );
    t = performance.now();
    ({ res, report } = await realise(instantiated.drvPath));
  }
  phases.buildMs = performance.now() - t;
  const built = res.stdout.trim().split('\n').pop() ?? '';
  const capHit =
    report && report.oomKills > 0
      ? sandboxError(
          'sandbox-build-memory',
          `${options.filename}: the build went over its memory cap of ${buildLimits.memoryMiB} MiB (${report.oomKills} process(es) killed)`,
          { details: { peakMemoryBytes: report.peakMemoryBytes } },
        )
      : report && report.processLimitHits > 0
        ? sandboxError(
            'sandbox-build-processes',
            `${options.filename}: the build went over its cap of ${buildLimits.processes} processes (${report.processLimitHits} forks refused)`,
          )
        : undefined;
  if (capHit) {
    // Any of its interpreters may be the one that was refused or killed: nothing of this build is
    // kept, not even in the store, where a later run would find it as a cache hit.
    if (built.startsWith('/nix/store/')) {
      await runNix('nix-store', ['--delete', built], { timeoutMs: 60_000, binPath }).catch(() => {});
    }
    throw capHit;
  }
  const outside = NOT_SANDBOXED.exec(res.stderr);
  if (outside) {
    // The driver found itself outside a sandbox and ran nothing (driver.py: assert_sandboxed):
    // what the probe proved no longer holds; it is proven again before the next build.
    const reason = `a build ran outside the sandbox: ${outside[1]}`;
    gate.invalidate(reason);
    throw sandboxError('sandbox-unavailable', `${options.filename}: ${reason}; nothing of it ran`, {
      hint: SANDBOX_HINT,
    });
  }
  if (res.timedOut || /timed out after/.test(res.stderr)) {
    throw sandboxError(
      'sandbox-timeout',
      `nix-build of ${options.filename} took longer than ${buildSeconds}s`,
      {
        details: { stderr: tailLines(res.stderr) },
      },
    );
  }
  const outPath = built;
  if (res.status !== 0 || !outPath.startsWith('/nix/store/')) {
    throw sandboxError(
      'sandbox-failed',
      `nix-build of ${options.filename} failed: ${tailLines(res.stderr, 5)}`,
      {
        details: { status: res.status, stderr: tailLines(res.stderr) },
      },
    );
  }
  const parseStarted = performance.now();
  let text: string;
  try {
    text = await readCapped(path.join(outPath, 'result.json'));
  } catch (err) {
    if (err instanceof CrawlError) throw err;
    throw sandboxError('sandbox-output-invalid', `cannot read ${outPath}/result.json`, { cause: err });
  }
  const results = sandboxResultsFrom(text, pythons, `${outPath}/result.json`);
  phases.driver = await readTimings(path.join(outPath, 'timings.json'));
  phases.parseMs = performance.now() - parseStarted;
  return {
    results: { ...results, ...unavailable },
    sdistStorePath,
    outPath,
    drvPath: instantiated.drvPath,
    wheelStorePaths: [...wheelPaths.values()],
    durationMs: performance.now() - started,
    phases,
    cgroup: report,
  };
}
