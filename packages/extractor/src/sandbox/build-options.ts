import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxError } from '@pypi-graph/core';
import { defaultBinPath, runNix, tailLines } from './nix';

// What every sandboxed nix-build is given: the interpreter set's sandbox paths and shipped
// setuptools, and the options that keep the sandbox on. Shared by the extractions (run-sandbox.ts)
// and the probe (probe.ts), so the probe proves what the extractions get.

/** The repository's `nix/` directory. */
export const DEFAULT_NIX_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../nix');

export interface InterpreterSet {
  /** `--option extra-sandbox-paths` for nix-build (nix/sandbox-paths.nix). */
  sandboxPaths: string[];
  /**
   * Host mode: the Nix expression for `--arg shippedDrvs`, the shipped setuptools derivations
   * instantiated once (nix/interpreters-host.nix), so that no nix-build hashes their sources again.
   */
  shippedDrvs?: string;
  /** Host mode: the interpreter set (HostPythonSet.spec) for `--argstr hostPythons`; unset: Nix's default. */
  hostPythons?: string;
}

/** The versions of interpreters-host.nix's default set (no `hostPythons`). */
const DEFAULT_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

function setKey(
  nixDir: string,
  interpreters: string,
  binPath: string,
  hostPythons: string | undefined,
): string {
  return `${nixDir}\0${interpreters}\0${binPath}\0${hostPythons ?? ''}`;
}

const interpreterSets = new Map<string, Promise<InterpreterSet>>();

async function nixOrThrow(
  args: string[],
  what: string,
  signal: AbortSignal | undefined,
  binPath: string,
): Promise<string> {
  const res = await runNix('nix-instantiate', args, { timeoutMs: 300_000, signal, binPath });
  if (res.status !== 0) {
    throw sandboxError('sandbox-failed', `cannot evaluate ${what}: ${tailLines(res.stderr, 5)}`);
  }
  return res.stdout;
}

/** What nix-build needs besides the sdist, evaluated once per process and interpreter set. */
export function interpreterSet(
  nixDir: string,
  interpreters: string,
  signal?: AbortSignal,
  binPath = defaultBinPath(),
  hostPythons?: string,
): Promise<InterpreterSet> {
  const key = setKey(nixDir, interpreters, binPath, hostPythons);
  let cached = interpreterSets.get(key);
  if (!cached) {
    cached = (async (): Promise<InterpreterSet> => {
      const host = interpreters === 'host' && hostPythons !== undefined;
      const parsed: unknown = JSON.parse(
        await nixOrThrow(
          [
            '--eval',
            '--strict',
            '--json',
            path.join(nixDir, 'sandbox-paths.nix'),
            '--argstr',
            'interpreters',
            interpreters,
            ...(host ? ['--argstr', 'hostPythons', hostPythons] : []),
          ],
          'the sandbox paths',
          signal,
          binPath,
        ),
      );
      if (!Array.isArray(parsed) || !parsed.every((p): p is string => typeof p === 'string')) {
        throw sandboxError('sandbox-output-invalid', 'sandbox-paths.nix did not give a list of strings');
      }
      if (interpreters !== 'host') return { sandboxPaths: parsed };
      // Writes the .drv files (a plain --eval would not) and prints them in attribute-name order.
      const drvs = (
        await nixOrThrow(
          [
            '-A',
            'shippedList',
            path.join(nixDir, 'interpreters-host.nix'),
            ...(host ? ['--argstr', 'hostPythons', hostPythons] : []),
          ],
          'the shipped setuptools',
          signal,
          binPath,
        )
      )
        .trim()
        .split('\n');
      // attribute-name order, as Nix sorts them
      const keys = (host ? Object.keys(JSON.parse(hostPythons) as object) : DEFAULT_KEYS).sort();
      if (drvs.length !== keys.length || !drvs.every((d) => /^\/nix\/store\/[^\s"$\\]+\.drv$/.test(d))) {
        throw sandboxError('sandbox-output-invalid', `unexpected shipped setuptools: ${drvs.join(' ')}`);
      }
      const shippedDrvs = `{ ${keys.map((k, i) => `${JSON.stringify(k)} = ${JSON.stringify(drvs[i])};`).join(' ')} }`;
      return { sandboxPaths: parsed, shippedDrvs, ...(host ? { hostPythons } : {}) };
    })();
    cached.catch(() => interpreterSets.delete(key));
    interpreterSets.set(key, cached);
  }
  return cached;
}

/**
 * The options of every sandboxed nix-build, the extractions' and the probe's alike, so that the
 * probe proves exactly what the extractions get: the sandbox on, and never a silent build
 * without it. (Nix's own `sandbox-fallback` is true: where it cannot set up the sandbox, no user
 * namespaces in a container for instance, it builds without one.)
 */
export function sandboxBuildArgs(
  file: string,
  set: InterpreterSet,
  interpreters: string,
  timeoutSeconds: number,
): string[] {
  // The same sandbox options as a build of an instantiated derivation (the probe and the
  // extraction must be built alike), then the expression's arguments.
  const args = [
    file,
    '--no-out-link',
    ...sandboxRealiseOptions(interpreters, set, timeoutSeconds),
    '--argstr',
    'interpreters',
    interpreters,
  ];
  if (set.shippedDrvs) args.push('--arg', 'shippedDrvs', set.shippedDrvs);
  if (interpreters === 'host' && set.hostPythons !== undefined)
    args.push('--argstr', 'hostPythons', set.hostPythons);
  return args;
}

/**
 * The `--option`s of a sandboxed `nix-store --realise` of an already instantiated derivation:
 * those of `sandboxBuildArgs` without the expression and its arguments (evaluation is done
 * before, by nix-instantiate: run-sandbox.ts instantiates a batch of sdists' derivations at once).
 */
export function sandboxRealiseOptions(
  interpreters: string,
  set: InterpreterSet,
  timeoutSeconds: number,
): string[] {
  const args = [
    '--option',
    'sandbox',
    'true',
    '--option',
    'sandbox-fallback',
    'false',
    '--option',
    'extra-sandbox-paths',
    set.sandboxPaths.join(' '),
    '--option',
    'timeout',
    String(timeoutSeconds),
  ];
  // Host mode builds nothing but this derivation and, once, the shipped setuptools: no binary
  // cache to ask (and none reachable here).
  // The nixpkgs mode needs one for its interpreters, so it keeps the configured substituters.
  if (interpreters === 'host') args.push('--option', 'substituters', '');
  return args;
}

/** Drops a cached interpreter set (its .drv files were garbage-collected): evaluated again next time. */
export function forgetInterpreterSet(
  nixDir: string,
  interpreters: string,
  binPath = defaultBinPath(),
  hostPythons?: string,
): void {
  interpreterSets.delete(setKey(nixDir, interpreters, binPath, hostPythons));
}
