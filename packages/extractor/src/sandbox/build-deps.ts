import type {
  BuildProvenance,
  BuildResolution,
  BuildWheel,
  PythonKey,
  SdistDeps,
  SdistKeyOutcome,
} from '@pypi-graph/model';
import type { PypiClient } from '@pypi-graph/pypi-client';
import { pep503Name } from '@pypi-graph/pyspec';
import { groupRequiresDist } from '../sdist/requirement-text';
import type { BuildWheelFile } from './run-sandbox';
import { PYTHON_FULL_VERSIONS, type SandboxResult } from './schema';

// Build dependencies from the crawled index (issue 11 §2), the worker's side: resolve per Python
// key (packages/db build-deps.ts), download each chosen wheel here, outside the sandbox, verified
// by the sha256 the index published (runSandbox adds it to the store by that hash), and say which
// were used.

/** Resolves build requirements for one interpreter (`3.11.7`) against the crawled index. */
export type BuildResolver = (requirements: string[], pythonFullVersion: string) => Promise<BuildResolution>;

/** Each key's resolution of the same requirements. */
export async function resolveForKeys(
  resolver: BuildResolver,
  requirements: string[],
  keys: readonly PythonKey[],
): Promise<Map<PythonKey, BuildResolution>> {
  const out = new Map<PythonKey, BuildResolution>();
  for (const key of keys) out.set(key, await resolver(requirements, PYTHON_FULL_VERSIONS[key]));
  return out;
}

/** The failure of a key whose build requirements the index does not have: names each of them. */
export function missingResult(
  resolution: BuildResolution,
  method: 'setup.py' | 'pep517',
  before = '',
): SdistKeyOutcome {
  const what = resolution.missing.map((m) => `${m.requirement} (${m.reason})`).join('; ');
  return {
    error: {
      code: 'missing-build-dependency',
      log: `${before}build dependency not in the crawled index: ${what}`,
    },
    method,
  };
}

/** Downloads every distinct wheel once into `dir`, verified by its sha256 (and size when known). */
export async function fetchWheels(
  client: PypiClient,
  wheels: Iterable<BuildWheel>,
  dir: string,
  signal?: AbortSignal,
): Promise<Map<string, BuildWheelFile>> {
  const files = new Map<string, BuildWheelFile>();
  for (const w of wheels) {
    if (files.has(w.sha256)) continue;
    const got = await client.download(w.url, { sha256: w.sha256, size: w.size ?? undefined, dir, signal });
    files.set(w.sha256, { path: got.path, sha256: w.sha256, filename: w.filename });
  }
  return files;
}

export function provenanceOf(
  method: 'setup.py' | 'pep517',
  backend: string | null,
  wheels: readonly BuildWheel[],
): BuildProvenance {
  return {
    method,
    backend,
    build_dependencies: wheels.map((w) => ({
      name: w.name,
      version: w.version,
      filename: w.filename,
      sha256: w.sha256,
    })),
  };
}

/**
 * The module a `missing-build-dependency` log names (`ModuleNotFoundError: No module named
 * 'pbr.core'`, Python 2's `ImportError: No module named pbr`), as the project to look for: its
 * top-level package. Null when the log names none.
 */
export function missingModule(log: string): string | null {
  const m = /No module named '?([A-Za-z_][A-Za-z0-9_.]*)'?/.exec(log);
  if (!m?.[1]) return null;
  return m[1].split('.')[0] ?? null;
}

/**
 * What a setup.py run asked for that the sandbox did not have: its `setup_requires` (a plugin
 * such as pbr fills install_requires only when it is there), or the module it failed to import.
 * Names already given (`have`) and those the sandbox provides are left out.
 */
export function wantedAfterRun(result: SandboxResult, have: ReadonlySet<string>): string[] {
  const wanted =
    'ok' in result
      ? result.ok.setup_requires
      : result.error.code === 'missing-build-dependency'
        ? [missingModule(result.error.log)].filter((m): m is string => m !== null)
        : [];
  return wanted.filter((r) => {
    const name = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(r)?.[1];
    return (
      name !== undefined &&
      !have.has(pep503Name(name)) &&
      !['setuptools', 'wheel', 'pip'].includes(pep503Name(name))
    );
  });
}

/** A PEP 517 run's METADATA as the sdist fields: Requires-Dist split into base and extras. */
export function pep517Deps(
  ok: Extract<SandboxResult, { ok: unknown }>['ok'],
  buildRequires: string[],
): SdistDeps {
  const grouped = groupRequiresDist(ok.requires_dist ?? []);
  const extras: Record<string, string[]> = { ...grouped.extras };
  for (const extra of ok.provides_extra ?? []) {
    const key = extra
      .trim()
      .toLowerCase()
      .replace(/[-_.]+/g, '-');
    if (!(key in extras)) extras[key] = [];
  }
  return {
    install_requires: grouped.base,
    setup_requires: buildRequires,
    tests_require: [],
    extras_require: Object.entries(extras),
    python_requires: ok.python_requires,
  };
}
