// How warehouse orders and matches release versions:
// - `_pypi_ordering` and the Simple API's file order sort with `packaging_legacy.version.parse`:
//   PEP 440 versions in PEP 440 order, anything else as a LegacyVersion that sorts before them.
// - the "latest" release (JSON API `info.version`) is the first by
//   (yanked, is_prerelease NULLS LAST, _pypi_ordering DESC) (warehouse/legacy/api/json.py).
// - `/pypi/<name>/<version>/json` matches `canonicalize_version(version)` (packaging.utils).
// https://packaging.python.org/en/latest/specifications/version-specifiers/
// PEP 440 itself (parsing, order) is pyspec's; what is Warehouse's own is here: the legacy order.
import { comparePep440, tryParseVersion, type Version } from '@pypi-graph/pyspec';

/** packaging's `Version.is_prerelease`; undefined for versions that are not PEP 440. */
export function isPrerelease(version: string): boolean | undefined {
  const v = tryParseVersion(version);
  if (!v) return undefined;
  return v.pre !== null || v.dev !== null;
}

/** packaging.utils.canonicalize_version: normalized, trailing `.0`s dropped; other strings unchanged. */
export function canonicalizeVersion(version: string): string {
  const v = tryParseVersion(version);
  if (!v) return version;
  let s = v.epoch !== 0n ? `${v.epoch}!` : '';
  s += v.release.join('.').replace(/(\.0)+$/, '');
  if (v.pre) s += `${v.pre[0]}${v.pre[1]}`;
  if (v.post !== null) s += `.post${v.post}`;
  if (v.dev !== null) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

type Key = { kind: 'pep440'; v: Version } | { kind: 'legacy'; parts: string[] };

const keyCache = new Map<string, Key>();

function keyOf(version: string): Key {
  let key = keyCache.get(version);
  if (!key) {
    const v = tryParseVersion(version);
    key = v ? { kind: 'pep440', v } : { kind: 'legacy', parts: legacyParts(version) };
    if (keyCache.size > 100_000) keyCache.clear();
    keyCache.set(version, key);
  }
  return key;
}

// packaging_legacy.version._legacy_cmpkey
function legacyParts(version: string): string[] {
  const replace: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };
  const parts: string[] = [];
  const pieces = version
    .toLowerCase()
    .split(/(\d+|[a-z]+|\.|-)/)
    .map((p) => replace[p] ?? p)
    .filter((p) => p !== '' && p !== '.')
    .map((p) => (/^[0-9]/.test(p) ? p.padStart(8, '0') : `*${p}`));
  pieces.push('*final');
  for (const part of pieces) {
    if (part.startsWith('*')) {
      if (part < '*final') {
        while (parts.length > 0 && parts.at(-1) === '*final-') parts.pop();
      }
      while (parts.length > 0 && parts.at(-1) === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares like `packaging_legacy.version.parse(a) < parse(b)`; legacy versions sort first. */
export function compareVersions(a: string, b: string): number {
  const ka = keyOf(a);
  const kb = keyOf(b);
  if (ka.kind !== kb.kind) return ka.kind === 'legacy' ? -1 : 1;
  if (ka.kind === 'pep440' && kb.kind === 'pep440') return comparePep440(ka.v, kb.v);
  const pa = (ka as { parts: string[] }).parts;
  const pb = (kb as { parts: string[] }).parts;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (i >= pa.length) return -1;
    if (i >= pb.length) return 1;
    const c = cmp(pa[i]!, pb[i]!);
    if (c) return c;
  }
  return 0;
}
