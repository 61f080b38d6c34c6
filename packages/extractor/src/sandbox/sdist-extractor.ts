import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '@pypi-graph/config';
import { type Logger, sandboxError, sdistError, toCrawlError } from '@pypi-graph/core';
import {
  type BuildResolution,
  type BuildWheel,
  PYTHON_KEYS,
  type PythonKey,
  type SdistExtractor,
  type SdistKeyOutcome,
} from '@pypi-graph/model';
import type { PypiClient } from '@pypi-graph/pypi-client';
import { readSdistStaticMetadata, staticSdistDeps, withBuildRequires } from '../sdist/static';
import {
  type BuildResolver,
  fetchWheels,
  missingResult,
  pep517Deps,
  provenanceOf,
  resolveForKeys,
  wantedAfterRun,
} from './build-deps';
import { probeSandbox, SandboxGate } from './probe';
import { describeHostPythons, type HostPythonSet, NO_PYTHONS_HINT, resolveHostPythons } from './pythons';
import { type BuildWheelFile, runSandbox } from './run-sandbox';
import { PYTHON_FULL_VERSIONS, type SandboxResult } from './schema';

const exec = promisify(execFile);

/** An extraction's output, derivation (asked of Nix when not given) and source; '' where none. */
async function extractionPaths(
  outPath: string,
  sdistStorePath: string,
  drvPath?: string,
): Promise<[string, string, string]> {
  let drv = drvPath ?? '';
  if (!drv && outPath) {
    try {
      drv = (await exec('nix-store', ['--query', '--deriver', outPath], { timeout: 60_000 })).stdout.trim();
    } catch {
      drv = '';
    }
  }
  return [outPath, drv, sdistStorePath];
}

/** The store paths among `paths` (Nix says `unknown-deriver` where it knows none), once each. */
function storePaths(paths: Iterable<string>): string[] {
  return [...new Set([...paths].filter((p) => p.startsWith('/nix/store/')))];
}

async function deletePaths(paths: string[]): Promise<string[]> {
  // Nothing was built (no requested Python on this machine): nothing to delete.
  if (paths.length === 0) return [];
  // One nix-store for all: each `--delete` scans every process for runtime roots, which is
  // most of its time on a busy machine (seconds, pnpm bench sdist --real).
  try {
    await exec('nix-store', ['--delete', ...paths], { timeout: 60_000 });
    return paths;
  } catch {
    // one of them alive or gone (Nix stops at the first): one at a time, as many as can go
  }
  const deleted: string[] = [];
  for (const p of paths) {
    try {
      await exec('nix-store', ['--delete', p], { timeout: 60_000 });
      deleted.push(p);
    } catch {
      // alive (another extraction uses it) or already gone: left to a later `nix-store --gc`
    }
  }
  return deleted;
}

/**
 * Deletes extractions' store paths in the background, many per `nix-store --delete` (each call
 * scans every process for runtime roots: one call for all that are waiting costs what one
 * costs). A job that has stored its results hands its paths here and is done: its slot is free
 * for the next sdist while the deletion runs. Outputs go first, then the derivations that built
 * them, then the sdist sources, then the build-dependency wheels: each must be dead, and
 * `nix-store --delete` never removes a path that a GC root or another live path still needs (a
 * concurrent extraction of the same sdist keeps what it uses; such a path is left to `nix-store
 * --gc`). The interpreters and the shipped setuptools are never handed in. `flush()` waits until
 * nothing is left to delete.
 */
export class StoreSweeper {
  private waiting: Array<[string, string, string | undefined, string[]]> = [];
  private running: Promise<void> | undefined;

  constructor(private readonly onDeleted?: (deleted: string[]) => void) {}

  /** One extraction's output, source, derivation (asked of Nix when not given) and wheels; returns at once. */
  add(outPath: string, sdistStorePath: string, drvPath?: string, others: Iterable<string> = []): void {
    this.waiting.push([outPath, sdistStorePath, drvPath, [...others]]);
    this.running ??= this.drain();
  }

  /** Resolves when every path handed in so far has been deleted (or left alive). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0);
        // the outputs, derivations and sources of the whole batch in one call; then the wheels
        // in another (one of them is often still used by an extraction running beside: that
        // call then goes one path at a time, and must not hold the others back)
        const groups = await Promise.all(batch.map(([out, sdist, drv]) => extractionPaths(out, sdist, drv)));
        // referrers before what they refer to: every output, then every derivation, then every
        // source (two runs of one sdist share its source)
        const deleted = await deletePaths(
          storePaths(([0, 1, 2] as const).flatMap((i) => groups.map((g) => g[i]))),
        );
        deleted.push(...(await deletePaths(storePaths(batch.flatMap((g) => g[3])))));
        this.onDeleted?.(deleted);
      }
    } finally {
      this.running = undefined;
    }
  }
}

export interface SdistExtractorHooks {
  /** Where the sandbox's checks are counted (pypi_graph_sandbox_*: packages/pipeline's metrics). */
  metrics?: { recordSandboxCheck(result: 'proven' | 'unavailable'): void };
  /** Records each change of the sandbox's state (the database's `sandbox_checks`, for `pnpm status`). */
  recordSandboxCheck?: (state: 'proven' | 'unavailable', reason: string | null) => Promise<void>;
  /**
   * Resolves build dependencies against the crawled index (issue 11 §2). Without it no build
   * dependency is given to the sandbox: a PEP 517 backend other than setuptools is
   * `no-static-metadata`, and setup.py runs with the shipped setuptools only.
   */
  resolveBuildDependencies?: BuildResolver;
}

/**
 * The host interpreters the sandbox uses under this configuration (SANDBOX_PYTHONS, else
 * discovery from PYENV_ROOT and the usual places); undefined in nixpkgs mode. A named
 * interpreter that is not a CPython of its version throws `config-invalid`.
 */
export function configuredHostPythons(config: Config): Promise<HostPythonSet> | undefined {
  if (config.sandboxInterpreters !== 'host') return undefined;
  return resolveHostPythons({ configured: config.sandboxPythons, pyenvRoot: config.pyenvRoot });
}

/** The interpreter set for people: a summary line, then one line per version. */
export function hostPythonLines(set: HostPythonSet): { summary: string; lines: string[] } {
  const found = set.pythons.map((p) => p.key);
  const missing = set.missing.map((m) => m.key);
  return {
    summary: `${found.length} of ${found.length + missing.length} (${set.configured ? 'SANDBOX_PYTHONS' : 'discovered: SANDBOX_PYTHONS is unset'}): ${found.join(', ') || 'none'}; missing: ${missing.length === 0 ? 'none' : `${missing.join(', ')} (their results are python-unavailable)`}`,
    lines: describeHostPythons(set),
  };
}

/**
 * The gate every setup.py run passes (fail closed): the probe of this nix-build, or, where the
 * configuration turns the stage off, a verdict that says so. Its changes of state are logged
 * once each, in plain words, counted and recorded.
 */
function createGate(
  config: Config,
  logger: Logger,
  hooks: SdistExtractorHooks,
  hostSet: () => Promise<HostPythonSet | undefined>,
): SandboxGate {
  const gate =
    config.sdistExtraction === 'static'
      ? new SandboxGate({
          prove: async () => ({
            ok: false,
            durationMs: 0,
            reason: 'SDIST_EXTRACTION=static turns it off',
            hint: 'set SDIST_EXTRACTION=auto (with Nix installed), then `pnpm crawl --resume`',
          }),
          recheckMs: Number.POSITIVE_INFINITY,
        })
      : new SandboxGate({
          prove: async () => {
            let hostPythons: HostPythonSet | undefined;
            try {
              hostPythons = await hostSet();
            } catch (err) {
              // SANDBOX_PYTHONS names something that is not a Python of its version: no sandbox
              const e = toCrawlError(err);
              return { ok: false, durationMs: 0, reason: e.message, hint: e.hintOr(NO_PYTHONS_HINT) };
            }
            return probeSandbox({
              interpreters: config.sandboxInterpreters,
              cgroups: config.sandboxCgroups,
              hostPythons,
            });
          },
        });
  if (config.sdistExtraction !== 'static' && config.sandboxCgroups === 'off') {
    logger.warn(
      'SANDBOX_CGROUPS=off: sdist builds run without per-build memory and process caps, with per-process limits only (worst case in nix/README.md "Limits")',
    );
  }
  gate.onChange((state) => {
    if (state.state === 'proven') {
      logger.info({ probeMs: Math.round(state.durationMs) }, 'Nix sandbox proven: setup.py runs in it');
    } else if (state.state === 'unavailable') {
      logger.warn(
        { reason: state.reason, hint: state.hint },
        `the setup.py stage is off: ${state.reason}. Sdists without static metadata are recorded as waiting for a sandbox, not as failures. To turn it on: ${state.hint}`,
      );
    }
    if (state.state === 'unchecked') return;
    hooks.metrics?.recordSandboxCheck(state.state);
    hooks
      .recordSandboxCheck?.(state.state, state.state === 'unavailable' ? state.reason : null)
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'could not record the sandbox check'),
      );
  });
  return gate;
}

/**
 * docs/architecture.md §3: download (sha256-verified) → static metadata when it is trustworthy → else setup.py
 * in the Nix sandbox, once per Python version, once the sandbox is proven. `SDIST_EXTRACTION` chooses how far to go. Every
 * result's `setup_requires` holds what building needs: pyproject.toml's `[build-system] requires`,
 * then (setup.py runs) the `setup_requires` setup.py declares.
 */
export async function createSdistExtractor(
  config: Config,
  client: PypiClient,
  tmpDir: string,
  logger: Logger,
  hooks: SdistExtractorHooks = {},
): Promise<SdistExtractor | undefined> {
  if (config.sdistExtraction === 'off') return undefined;
  // Resolved once per process, when the sandbox is first needed (a worker: at its start), and
  // said then, once: which versions run here and which are missing (not per sdist).
  let resolving: Promise<HostPythonSet | undefined> | undefined;
  const hostSet = () =>
    (resolving ??= (async () => {
      if (config.sdistExtraction === 'static') return undefined;
      const set = await configuredHostPythons(config);
      if (set) {
        const { summary, lines } = hostPythonLines(set);
        if (set.missing.length > 0) {
          logger.warn(
            { pythons: lines },
            `sandbox interpreters: ${summary}: setup.py does not run under the missing versions here. To add them: ${NO_PYTHONS_HINT}`,
          );
        } else {
          logger.info({ pythons: lines }, `sandbox interpreters: ${summary}`);
        }
      }
      return set;
    })());
  const gate = createGate(config, logger, hooks, hostSet);
  const sweeper = new StoreSweeper((deleted) =>
    logger.debug({ deleted }, 'sandbox outputs removed from the Nix store'),
  );
  return {
    sandboxState: () => gate.state.state,
    close: () => sweeper.flush(),
    async prepare() {
      // a worker stops at its start on a SANDBOX_PYTHONS mistake, with the path and what is wrong
      await hostSet();
      if (gate.state.state === 'unchecked') await gate.check();
    },
    async extract(file, signal) {
      const dir = await mkdtemp(path.join(tmpDir, 'sdist-'));
      try {
        const got = await client.download(file.url, {
          sha256: file.sha256,
          size: file.size ?? undefined,
          dir,
          signal,
        });
        const found = await readSdistStaticMetadata(got.path, { signal });
        if (found.kind === 'static') {
          return {
            kind: 'static',
            method: found.method,
            deps: staticSdistDeps(found),
            bytesTransferred: got.bytes,
            textRepairs: found.textRepairs,
          };
        }
        let hostPythons: HostPythonSet | undefined;
        try {
          hostPythons = await hostSet();
        } catch (err) {
          // the gate's proof fails the same way and says it once (createGate); the file waits
          await gate.ensure();
          throw sandboxError('sandbox-unavailable', toCrawlError(err).message, { hint: NO_PYTHONS_HINT });
        }
        const resolver = hooks.resolveBuildDependencies;
        const results: Record<string, SdistKeyOutcome> = {};
        const outPaths: string[] = [];
        const drvPaths: string[] = [];
        const wheelStorePaths = new Set<string>();
        let sdistStorePath = '';
        const sandbox = async (
          pythons: PythonKey[],
          plans: Map<PythonKey, BuildResolution>,
          backend?: { name: string; path: string[] },
        ) => {
          const wheels = await fetchWheels(
            client,
            [...plans.values()].flatMap((p) => p.wheels),
            dir,
            signal,
          );
          const buildWheels: Partial<Record<PythonKey, BuildWheelFile[]>> = {};
          for (const key of pythons) {
            const plan = plans.get(key);
            if (plan && plan.wheels.length > 0)
              buildWheels[key] = plan.wheels.map((w) => wheels.get(w.sha256)!);
          }
          // Throws sandbox-unavailable (nothing runs) until the sandbox is proven.
          const run = await runSandbox({
            sdistPath: got.path,
            sha256: file.sha256,
            filename: file.filename,
            interpreters: config.sandboxInterpreters,
            hostPythons,
            cgroups: config.sandboxCgroups,
            gate,
            signal,
            pythons,
            buildWheels,
            backend,
          });
          outPaths.push(run.outPath);
          drvPaths.push(run.drvPath);
          sdistStorePath = run.sdistStorePath;
          for (const w of run.wheelStorePaths) wheelStorePaths.add(w);
          return run.results;
        };

        if (found.kind === 'needs-pep517') {
          if (!resolver) {
            throw sdistError('no-static-metadata', found.reason, {
              hint: 'only building the sdist with its backend would tell (a setup.py beside it is not what pip builds)',
              details: { notes: found.notes },
            });
          }
          // The backend runs with [build-system] requires from the index, under each Python.
          const plans = await resolveForKeys(resolver, found.buildRequires, PYTHON_KEYS);
          const runnable = PYTHON_KEYS.filter((k) => plans.get(k)!.missing.length === 0);
          for (const key of PYTHON_KEYS) {
            if (!runnable.includes(key)) results[key] = missingResult(plans.get(key)!, 'pep517');
          }
          if (runnable.length > 0) {
            const ran = await sandbox(runnable, plans, { name: found.backend, path: found.backendPath });
            for (const key of runnable) {
              const r = ran[key]!;
              const provenance = provenanceOf('pep517', found.backend, plans.get(key)!.wheels);
              results[key] =
                'ok' in r
                  ? { ok: pep517Deps(r.ok, found.buildRequires), method: 'pep517', provenance }
                  : { error: { code: r.error.code, log: r.error.log }, method: 'pep517', provenance };
            }
          }
        } else {
          // [build-system] requires beyond setuptools first; then, per Python, what the first run
          // showed it wanted (setup_requires, a module it could not import), once more.
          const first = resolver
            ? await resolveForKeys(resolver, found.buildRequires, PYTHON_KEYS)
            : new Map<PythonKey, BuildResolution>();
          const runnable = PYTHON_KEYS.filter((k) => (first.get(k)?.missing.length ?? 0) === 0);
          for (const key of PYTHON_KEYS) {
            if (!runnable.includes(key)) results[key] = missingResult(first.get(key)!, 'setup.py');
          }
          const ran = runnable.length > 0 ? await sandbox(runnable, first) : {};
          const second = new Map<PythonKey, BuildResolution>();
          const again = new Map<PythonKey, string>();
          for (const key of runnable) {
            const r = ran[key]!;
            const used = first.get(key)?.wheels ?? [];
            if (resolver) {
              const wanted = wantedAfterRun(r, new Set(used.map((w) => w.name)));
              if (wanted.length > 0) {
                const plan = await resolver([...found.buildRequires, ...wanted], PYTHON_FULL_VERSIONS[key]);
                const gained = plan.wheels.length > used.length;
                if ('ok' in r && gained) {
                  // setup_requires the index has: run again with them (those it lacks stay out,
                  // and are named should the run fail without them)
                  second.set(key, plan);
                } else if ('error' in r && plan.missing.length === 0 && gained) {
                  second.set(key, plan);
                } else if ('error' in r) {
                  again.set(
                    key,
                    `${r.error.log}; build dependency not in the crawled index: ${plan.missing.map((m) => `${m.requirement} (${m.reason})`).join('; ')}`,
                  );
                }
              }
            }
            results[key] = sandboxResult(r, used, found.buildRequires, again.get(key));
          }
          if (second.size > 0) {
            const keys = [...second.keys()];
            const reran = await sandbox(keys, second);
            for (const key of keys) {
              const r = reran[key]!;
              const plan = second.get(key)!;
              // A rerun with only part of what was wanted (a plugin whose own dependency the
              // index lacks) that fails names the lack, not the plugin's failure to load.
              results[key] =
                'error' in r && plan.missing.length > 0
                  ? missingResult(plan, 'setup.py', `${r.error.log}; `)
                  : sandboxResult(r, plan.wheels, found.buildRequires);
            }
          }
        }
        return {
          kind: 'setup.py',
          results,
          bytesTransferred: got.bytes,
          release:
            config.sandboxGc && outPaths.length > 0
              ? async () => {
                  // handed to the sweeper: the job is done, the deletion runs beside the next one
                  // (the build dependencies after the outputs: dead once those are gone)
                  for (const [i, out] of outPaths.entries())
                    sweeper.add(
                      out,
                      sdistStorePath,
                      drvPaths[i],
                      i === outPaths.length - 1 ? wheelStorePaths : [],
                    );
                }
              : undefined,
        };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A setup.py run's result as stored: `setup_requires` completed with `[build-system] requires`. */
function sandboxResult(
  r: SandboxResult,
  used: readonly BuildWheel[],
  buildRequires: readonly string[],
  log?: string,
): SdistKeyOutcome {
  const provenance = used.length > 0 ? provenanceOf('setup.py', null, used) : undefined;
  if ('error' in r) {
    return { error: { code: r.error.code, log: log ?? r.error.log }, method: 'setup.py', provenance };
  }
  return {
    ok: {
      install_requires: r.ok.install_requires,
      setup_requires: withBuildRequires(buildRequires, r.ok.setup_requires),
      tests_require: r.ok.tests_require,
      extras_require: Object.entries(r.ok.extras_require),
      python_requires: r.ok.python_requires,
    },
    method: 'setup.py',
    provenance,
  };
}
