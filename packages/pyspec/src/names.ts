import { createHash } from 'node:crypto';

// https://peps.python.org/pep-0503/#normalized-names
/** PEP 503 normalized project name: runs of `-`, `_`, `.` become one `-`, lower case. */
export function pep503Name(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

// https://peps.python.org/pep-0685/
/**
 * PEP 685 extra name normalization, as packaging applies it when comparing extras
 * (`canonicalize_name`): lower case, runs of `-`, `_`, `.` become one `-`. `Foo_Bar` → `foo-bar`.
 */
export function normalizeExtra(extra: string): string {
  return pep503Name(extra);
}

/**
 * mach-nix's key for a project (docs/formats.md §0): lower case and `_` → `-`, nothing else.
 * Dots stay and runs are not collapsed, unlike PEP 503.
 */
export function machNixName(name: string): string {
  return name.replace(/_/g, '-').toLowerCase();
}

/** The bucket file a mach-nix key lives in: first two hex chars of sha256(key). */
export function bucketOf(machNixKey: string): string {
  return createHash('sha256').update(machNixKey, 'utf8').digest('hex').slice(0, 2);
}

// https://packaging.python.org/en/latest/specifications/name-normalization/#name-format
const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** Whether a project name is valid per the core metadata spec. */
export function isValidProjectName(name: string): boolean {
  return VALID_NAME.test(name);
}

/** All 256 bucket names, `00` … `ff`. */
export const ALL_BUCKETS: readonly string[] = Object.freeze(
  Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')),
);
