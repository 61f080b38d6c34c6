// The schema of the sandbox derivation's `$out/result.json` (written by nix/extractor/driver.py).
// Hand-written instead of zod because `zod` is not a dependency of @pypi-graph/extractor yet
// (adding it is one line in package.json); the function has the role of a zod `safeParse`.

import type { PythonKey, SdistDeps } from '@pypi-graph/model';

/** The interpreter behind each key (nix/interpreters-host.nix): markers and Requires-Python of build dependencies are read for it. */
export const PYTHON_FULL_VERSIONS: Record<PythonKey, string> = {
  '27': '2.7.18',
  '36': '3.6.15',
  '37': '3.7.16',
  '38': '3.8.18',
  '39': '3.9.18',
  '310': '3.10.13',
  '311': '3.11.7',
  '312': '3.12.1',
  '313': '3.13.0',
};

/** Failure codes the sandbox records per Python version. */
export const SANDBOX_RESULT_CODES = [
  'no-setup-py',
  'setup-py-error',
  'missing-build-dependency',
  'python-incompatible',
  'sandbox-timeout',
  'sandbox-memory',
  'sandbox-output-too-large',
  'sandbox-failed',
  'sandbox-output-invalid',
  'sandbox-disk-full',
  'sandbox-process-escaped',
  // not from result.json: runSandbox's own entry for a Python this machine has no interpreter of
  'python-unavailable',
] as const;
export type SandboxResultCode = (typeof SANDBOX_RESULT_CODES)[number];

/**
 * What the patched setup() saw, after setup.cfg was parsed and markers moved into
 * `extras_require[":marker"]`: the model's sdist fields, with `extras_require` the dict of
 * result.json (keys `"<extra>"`, `":<marker>"` or `"<extra>:<marker>"` as setuptools normalises them).
 */
export type SetupPyDependencies = Omit<SdistDeps, 'extras_require'> & {
  extras_require: Record<string, string[]>;
  /** PEP 517 runs only: the METADATA's Requires-Dist, verbatim (extras' lines with their marker). */
  requires_dist?: string[];
  /** PEP 517 runs only: the METADATA's Provides-Extra. */
  provides_extra?: string[];
};

export interface SandboxFailure {
  code: SandboxResultCode;
  /** The last traceback line (`ModuleNotFoundError: No module named 'numpy'`) or the limit hit. */
  log: string;
  /** The end of the traceback and of the script's output, at most 4000 characters. */
  tail: string;
}

export type SandboxResult = { ok: SetupPyDependencies } | { error: SandboxFailure };

export type SandboxResults = Partial<Record<PythonKey, SandboxResult>>;

export type ParseResult<T> = { success: true; data: T } | { success: false; issue: string };

const MAX_STRING = 64 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new Error(`${where}: not a list`);
  return value.map((item, i) => {
    if (typeof item !== 'string' || item.length > MAX_STRING) throw new Error(`${where}[${i}]: not a string`);
    return item;
  });
}

function parseDependencies(value: unknown, where: string): SetupPyDependencies {
  if (!isRecord(value)) throw new Error(`${where}: not an object`);
  const extras = value.extras_require;
  if (!isRecord(extras)) throw new Error(`${where}.extras_require: not an object`);
  const python = value.python_requires;
  if (python !== null && typeof python !== 'string')
    throw new Error(`${where}.python_requires: not a string`);
  return {
    install_requires: stringList(value.install_requires, `${where}.install_requires`),
    setup_requires: stringList(value.setup_requires, `${where}.setup_requires`),
    tests_require: stringList(value.tests_require, `${where}.tests_require`),
    extras_require: Object.fromEntries(
      Object.entries(extras).map(([k, v]) => [
        k,
        stringList(v, `${where}.extras_require[${JSON.stringify(k)}]`),
      ]),
    ),
    python_requires: python,
    ...(value.requires_dist !== undefined
      ? { requires_dist: stringList(value.requires_dist, `${where}.requires_dist`) }
      : {}),
    ...(value.provides_extra !== undefined
      ? { provides_extra: stringList(value.provides_extra, `${where}.provides_extra`) }
      : {}),
  };
}

function parseFailure(value: unknown, where: string): SandboxFailure {
  if (!isRecord(value)) throw new Error(`${where}: not an object`);
  const { code, log, tail } = value;
  if (typeof code !== 'string' || !(SANDBOX_RESULT_CODES as readonly string[]).includes(code)) {
    throw new Error(`${where}.code: unknown failure code ${JSON.stringify(code)}`);
  }
  if (typeof log !== 'string') throw new Error(`${where}.log: not a string`);
  if (tail !== undefined && typeof tail !== 'string') throw new Error(`${where}.tail: not a string`);
  return { code: code as SandboxResultCode, log, tail: tail ?? '' };
}

/** Validates `result.json`: one entry per requested Python key, each `{ok}` or `{error}`. */
export function parseSandboxResults(
  value: unknown,
  expected: readonly PythonKey[],
): ParseResult<SandboxResults> {
  try {
    if (!isRecord(value)) throw new Error('result: not an object');
    const out: SandboxResults = {};
    for (const key of Object.keys(value)) {
      if (!expected.includes(key as PythonKey))
        throw new Error(`result: unexpected Python key ${JSON.stringify(key)}`);
    }
    for (const key of expected) {
      const entry = value[key];
      if (!isRecord(entry)) throw new Error(`result[${key}]: missing`);
      const kinds = Object.keys(entry);
      if (kinds.length !== 1) throw new Error(`result[${key}]: expected exactly one of ok, error`);
      if ('ok' in entry) out[key] = { ok: parseDependencies(entry.ok, `result[${key}].ok`) };
      else if ('error' in entry) out[key] = { error: parseFailure(entry.error, `result[${key}].error`) };
      else throw new Error(`result[${key}]: expected ok or error`);
    }
    return { success: true, data: out };
  } catch (err) {
    return { success: false, issue: err instanceof Error ? err.message : String(err) };
  }
}
