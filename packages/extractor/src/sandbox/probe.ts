import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { internalError, sandboxError, toCrawlError } from '@pypi-graph/core';
import { DEFAULT_NIX_DIR, interpreterSet, sandboxBuildArgs } from './build-options';
import { type CgroupPolicy, DEFAULT_BUILD_LIMITS, inBuildCgroup } from './cgroup';
import { defaultBinPath, NIX_INSTALL_HINT, runNix, tailLines } from './nix';
import { type HostPythonSet, hasDriverPython, NO_PYTHONS_HINT } from './pythons';

// Fail closed: before the first setup.py runs, a probe derivation (nix/probe.nix), built with the
// very options of an extraction, shows that the build is sandboxed: not root, PID 1 of its own
// PID namespace, no network (not even the host's PostgreSQL and Redis on 127.0.0.1), none of the
// host's files but what is exposed, none of the host's environment. Until it has, sdist builds
// end as `sandbox-unavailable` and nothing of them runs (SandboxGate, used by runSandbox).

export const PROBE_CHECKS = [
  'user',
  'pid',
  'network',
  'filesystem',
  'environment',
  'cgroup',
  'confine',
] as const;
export type ProbeCheck = (typeof PROBE_CHECKS)[number];

export interface ProbeCheckResult {
  ok: boolean;
  /** What the build saw (`uid 1000, euid 1000`, `interfaces lo; 127.0.0.1:5432 closed (…)`). */
  detail: string;
}

export type SandboxVerdict =
  | { ok: true; durationMs: number; checks: Record<ProbeCheck, ProbeCheckResult> }
  | {
      ok: false;
      durationMs: number;
      /** Why, in plain words. */
      reason: string;
      hint: string;
      checks?: Partial<Record<ProbeCheck, ProbeCheckResult>>;
    };

export interface ProbeOptions {
  nixDir?: string;
  interpreters?: 'host' | 'nixpkgs';
  /** PATH the Nix commands are found in; this process's PATH by default. */
  binPath?: string;
  /** `host:port` addresses a build must not reach (defaults in nix/probe.nix: PostgreSQL, Redis, …). */
  targets?: string[];
  /** `required` (default): the probe runs in a build cgroup, and must find its builder in it. */
  cgroups?: CgroupPolicy;
  /**
   * Host mode: the interpreter set (pythons.ts: SANDBOX_PYTHONS or discovery), whose sandbox paths
   * the probe is built with; unset: nix/interpreters-host.nix's default set.
   */
  hostPythons?: HostPythonSet;
}

/** What to do when the build is not sandboxed although Nix built it. */
export const SANDBOX_HINT =
  'nix-build ran the build without its sandbox (a wrapper, a nix.conf or a daemon that ignores `sandbox`); fix that, see nix/README.md, then `pnpm crawl --resume`';
const CANNOT_START_HINT =
  'nix-build must run as root (or a trusted user) where the kernel lets it create user, mount, PID and network namespaces (a container needs them allowed); see nix/README.md';
const REPORT_CAP = 64 * 1024;

function unavailable(
  started: number,
  reason: string,
  hint: string,
  checks?: Partial<Record<ProbeCheck, ProbeCheckResult>>,
): SandboxVerdict {
  return { ok: false, durationMs: performance.now() - started, reason, hint, checks };
}

async function readReport(file: string): Promise<unknown> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(REPORT_CAP + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > REPORT_CAP)
      throw sandboxError('sandbox-output-invalid', `report larger than ${REPORT_CAP} bytes`);
    return JSON.parse(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}

function parseChecks(report: unknown, nonce: string): Record<ProbeCheck, ProbeCheckResult> {
  const r = report as { nonce?: unknown; checks?: Record<string, { ok?: unknown; detail?: unknown }> };
  if (typeof r !== 'object' || r === null || r.nonce !== nonce || typeof r.checks !== 'object') {
    throw sandboxError(
      'sandbox-output-invalid',
      'the report is not this probe’s (another nonce, or no checks)',
    );
  }
  const out = {} as Record<ProbeCheck, ProbeCheckResult>;
  for (const name of PROBE_CHECKS) {
    const c = r.checks?.[name];
    // A check missing from the report has shown nothing: it fails.
    out[name] = {
      ok: c?.ok === true,
      detail: typeof c?.detail === 'string' ? c.detail.slice(0, 2000) : 'not reported',
    };
  }
  return out;
}

/** Removes the probe's output and derivation from the store (each probe is built afresh). */
async function forget(outPath: string, binPath: string): Promise<void> {
  const query = await runNix('nix-store', ['--query', '--deriver', outPath], { timeoutMs: 30_000, binPath });
  for (const p of [outPath, query.stdout.trim()]) {
    if (p.startsWith('/nix/store/'))
      await runNix('nix-store', ['--delete', p], { timeoutMs: 30_000, binPath });
  }
}

/**
 * Builds the probe derivation with the options of an extraction and judges its report. Never
 * throws: a Nix that is missing, cannot sandbox, or drops the sandbox is an `ok: false` verdict.
 */
export async function probeSandbox(options: ProbeOptions = {}): Promise<SandboxVerdict> {
  const started = performance.now();
  const nixDir = options.nixDir ?? DEFAULT_NIX_DIR;
  const interpreters = options.interpreters ?? 'host';
  const binPath = options.binPath ?? defaultBinPath();
  const nonce = randomBytes(16).toString('hex');
  // A host file the build must not see: created now, at a path nothing exposes.
  const markerDir = await mkdtemp(path.join(tmpdir(), 'pypi-graph-probe-'));
  const marker = path.join(markerDir, 'marker');
  await writeFile(marker, nonce);
  try {
    // Nix missing is said as such (runNix: sandbox-unavailable, "nix-build is not on PATH").
    await runNix('nix-build', ['--version'], { timeoutMs: 30_000, binPath });
    const host = interpreters === 'host' ? options.hostPythons : undefined;
    if (host && !hasDriverPython(host)) {
      return unavailable(
        started,
        host.pythons.length === 0
          ? 'no Python interpreter for the sandbox was found on this machine'
          : `the sandbox's interpreters (${host.pythons.map((p) => p.key).join(', ')}) include no Python >= 3.7 to run its driver`,
        NO_PYTHONS_HINT,
      );
    }
    const set = await interpreterSet(nixDir, interpreters, undefined, binPath, host?.spec);
    const args = [
      ...sandboxBuildArgs(path.join(nixDir, 'probe.nix'), set, interpreters, 120),
      '--argstr',
      'nonce',
      nonce,
      '--argstr',
      'marker',
      marker,
      '--argstr',
      'hidden',
      path.dirname(path.resolve(nixDir)),
    ];
    if (options.targets) args.push('--argstr', 'targets', options.targets.join(' '));
    // Built like an extraction: in a cgroup of its own, which its builder must report being in.
    const { res } = await inBuildCgroup(options.cgroups ?? 'required', DEFAULT_BUILD_LIMITS, (wrap, name) =>
      runNix('nix-build', [...args, '--argstr', 'cgroup', name ?? ''], { timeoutMs: 180_000, binPath, wrap }),
    );
    const outPath = res.stdout.trim().split('\n').pop() ?? '';
    if (res.status !== 0 || !outPath.startsWith('/nix/store/')) {
      return unavailable(
        started,
        `Nix could not build in its sandbox: ${tailLines(res.stderr, 3).replace(/\s+/g, ' ').trim()}`,
        CANNOT_START_HINT,
      );
    }
    let checks: Record<ProbeCheck, ProbeCheckResult>;
    try {
      checks = parseChecks(await readReport(path.join(outPath, 'report.json')), nonce);
    } catch (err) {
      return unavailable(
        started,
        `the sandbox probe gave no valid report: ${(err as Error).message}`,
        SANDBOX_HINT,
      );
    } finally {
      await forget(outPath, binPath).catch(() => {});
    }
    const failed = PROBE_CHECKS.filter((name) => !checks[name].ok);
    if (failed.length > 0) {
      return unavailable(
        started,
        `the build was not sandboxed: ${failed.map((name) => `${name}: ${checks[name].detail}`).join('; ')}`,
        SANDBOX_HINT,
        checks,
      );
    }
    return { ok: true, durationMs: performance.now() - started, checks };
  } catch (thrown) {
    const err = toCrawlError(thrown, 'sandbox-failed');
    return unavailable(
      started,
      err.message,
      err.code === 'sandbox-unavailable' ? (err.hint ?? NIX_INSTALL_HINT) : CANNOT_START_HINT,
    );
  } finally {
    await rm(markerDir, { recursive: true, force: true });
  }
}

export type SandboxState =
  | { state: 'unchecked' }
  | { state: 'proven'; since: Date; durationMs: number }
  | { state: 'unavailable'; since: Date; reason: string; hint: string };

export interface SandboxGateOptions {
  /** Proves the sandbox (probeSandbox, or a fixed verdict where the configuration turns it off). */
  prove: () => Promise<SandboxVerdict>;
  /** After a failed proof, how long `ensure` answers from it before proving again. */
  recheckMs?: number;
}

/**
 * The sandbox's state in this process: unchecked until the first build asks, then proven or
 * unavailable. A failed proof is tried again after `recheckMs` (Nix installed, a container
 * fixed), by the next build that asks; concurrent callers share one probe.
 */
export class SandboxGate {
  #state: SandboxState = { state: 'unchecked' };
  #pending: Promise<SandboxState> | undefined;
  readonly #listeners = new Set<(state: SandboxState) => void>();
  readonly #prove: () => Promise<SandboxVerdict>;
  readonly #recheckMs: number;

  constructor(options: SandboxGateOptions) {
    this.#prove = options.prove;
    this.#recheckMs = options.recheckMs ?? 10 * 60_000;
  }

  get state(): SandboxState {
    return this.#state;
  }

  /** Called at every change of state (proven, unavailable); returns the remover. */
  onChange(listener: (state: SandboxState) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves when the sandbox is proven; else throws `sandbox-unavailable` with the reason. */
  async ensure(): Promise<void> {
    let s = this.#state;
    const stale = s.state === 'unavailable' && Date.now() - s.since.getTime() >= this.#recheckMs;
    if (s.state === 'unchecked' || stale) s = await this.check();
    if (s.state === 'unavailable') {
      throw sandboxError('sandbox-unavailable', `no sandbox: ${s.reason}`, { hint: s.hint });
    }
    if (s.state !== 'proven') throw internalError(`sandbox state ${s.state}`);
  }

  /** Proves the sandbox now (or joins the proof under way). */
  check(): Promise<SandboxState> {
    this.#pending ??= this.#prove()
      .then(
        (verdict): SandboxState =>
          verdict.ok
            ? { state: 'proven', since: new Date(), durationMs: verdict.durationMs }
            : { state: 'unavailable', since: new Date(), reason: verdict.reason, hint: verdict.hint },
      )
      .then((state) => {
        this.#set(state);
        return state;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  /** What was proven no longer holds (a build found itself outside the sandbox). */
  invalidate(reason: string, hint = SANDBOX_HINT): void {
    this.#set({ state: 'unavailable', since: new Date(), reason, hint });
  }

  #set(state: SandboxState): void {
    this.#state = state;
    for (const listener of this.#listeners) listener(state);
  }
}

const gates = new Map<string, SandboxGate>();

/**
 * The process-wide gate of one nix-build (PATH), nix directory and interpreter set: another set of
 * host interpreters (SANDBOX_PYTHONS, discovery) is another gate, proven by a probe of its own.
 */
export function sandboxGate(
  options: Required<Omit<ProbeOptions, 'targets' | 'hostPythons'>> & Pick<ProbeOptions, 'hostPythons'>,
): SandboxGate {
  const key = `${options.nixDir}\0${options.interpreters}\0${options.binPath}\0${options.cgroups}\0${options.hostPythons?.spec ?? ''}`;
  let gate = gates.get(key);
  if (!gate) {
    gate = new SandboxGate({ prove: () => probeSandbox(options) });
    gates.set(key, gate);
  }
  return gate;
}
