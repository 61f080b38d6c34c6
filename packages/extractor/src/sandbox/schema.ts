// The schema of the sandbox derivation's `$out/result.json` (written by nix/extractor/driver.py),
// validated with zod like every other boundary of pypi-graph.
import { type CrawlError, sandboxError } from '@pypi-graph/core';
import type { PythonKey, SdistDeps } from '@pypi-graph/model';
import { z } from 'zod';

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

const stringList = z.array(z.string().max(MAX_STRING));

const dependenciesSchema = z.object({
  install_requires: stringList,
  setup_requires: stringList,
  tests_require: stringList,
  extras_require: z.record(z.string(), stringList),
  python_requires: z.string().nullable(),
  requires_dist: stringList.optional(),
  provides_extra: stringList.optional(),
}) satisfies z.ZodType<SetupPyDependencies>;

const failureSchema = z.object({
  code: z.enum(SANDBOX_RESULT_CODES),
  log: z.string(),
  tail: z.string().default(''),
}) satisfies z.ZodType<SandboxFailure>;

/** Exactly one of `ok`, `error` (issues keep the path into either). */
const resultSchema: z.ZodType<SandboxResult> = z
  .strictObject({ ok: dependenciesSchema.optional(), error: failureSchema.optional() })
  .refine((entry) => (entry.ok === undefined) !== (entry.error === undefined), {
    message: 'expected exactly one of ok, error',
  })
  .transform((entry): SandboxResult => (entry.ok ? { ok: entry.ok } : { error: entry.error! }));

/** Validates `result.json`: one entry per requested Python key, each `{ok}` or `{error}`. */
export function parseSandboxResults(
  value: unknown,
  expected: readonly PythonKey[],
): ParseResult<SandboxResults> {
  const schema = z.strictObject(Object.fromEntries(expected.map((key) => [key, resultSchema])));
  const parsed = schema.safeParse(value);
  if (parsed.success) return { success: true, data: parsed.data as SandboxResults };
  const issue = parsed.error.issues[0]!;
  const where = issue.path
    .map((p, i) =>
      i === 0 || typeof p === 'number'
        ? `[${String(p)}]`
        : /^[A-Za-z_]\w*$/.test(String(p))
          ? `.${String(p)}`
          : `[${JSON.stringify(String(p))}]`,
    )
    .join('');
  return { success: false, issue: `result${where}: ${issue.message}` };
}

/**
 * The results in the text of a `result.json`; a typed `sandbox-output-invalid` failure (recorded
 * against the sdist, like any result of its own) when it is not JSON or not of the schema.
 * `where` names the file in the message.
 */
export function sandboxResultsFrom(
  text: string,
  expected: readonly PythonKey[],
  where: string,
): SandboxResults {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw sandboxOutputInvalid(`cannot read ${where}`, err);
  }
  const parsed = parseSandboxResults(raw, expected);
  if (!parsed.success) throw sandboxOutputInvalid(`${where}: ${parsed.issue}`);
  return parsed.data;
}

function sandboxOutputInvalid(message: string, cause?: unknown): CrawlError {
  return sandboxError('sandbox-output-invalid', message, { cause });
}
