import { type CrawlError, metadataError } from '@pypi-graph/core';
import { boundedMemo } from './memo';
import { compareCodePoints, PY_WS, pyStrip } from './python-str';

// https://peps.python.org/pep-0440/ — behaviour follows packaging 26 (`packaging.version`,
// `packaging.specifiers`), the implementation pip and PyPI use.
//
// Why not @renovatebot/pep440: its grammar is right, but cross-checked against packaging its
// comparisons are not: `>=1.0` rejects `2.0a1` (packaging 26 accepts pre-releases in `contains`),
// `>1.0a1` rejects `1.0`, `>1.0.post1` rejects `1.0.post2`, `<1.0.post1` rejects `1.0`, `>1.0`
// rejects `1!1.0`, a version with surrounding whitespace crashes it, numbers above 2^53 lose
// precision, and the local label `1e5` is read as the number 100000. Versions here keep exact
// integers (bigint) and port packaging's operators one to one.

/** A parsed PEP 440 version. Integers are exact (bigint); `local` segments are lower-cased. */
export interface Version {
  readonly epoch: bigint;
  readonly release: readonly bigint[];
  readonly pre: readonly ['a' | 'b' | 'rc', bigint] | null;
  readonly post: bigint | null;
  readonly dev: bigint | null;
  readonly local: readonly (string | bigint)[] | null;
}

// packaging.version.VERSION_PATTERN, with Python's `\s*` around it (Version() uses fullmatch).
// The pattern has no nested quantifiers over the same characters, so it matches in linear time.
const VERSION_RE = new RegExp(
  `^[${PY_WS}]*v?(?:(?:([0-9]+)!)?([0-9]+(?:\\.[0-9]+)*)` +
    '(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?' +
    '(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?' +
    '(?:[-_.]?(dev)[-_.]?([0-9]+)?)?)' +
    `(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?[${PY_WS}]*$`,
  'i',
);

const PRE_LETTER: Record<string, 'a' | 'b' | 'rc'> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  pre: 'rc',
  preview: 'rc',
  rc: 'rc',
};

/** Parses a version like `packaging.version.Version`, or returns null when it is not PEP 440. */
export function tryParseVersion(input: string): Version | null {
  const m = VERSION_RE.exec(input);
  if (!m) return null;
  const [, epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local] = m;
  return {
    epoch: epoch ? BigInt(epoch) : 0n,
    release: release!.split('.').map((n) => BigInt(n)),
    pre: preL ? [PRE_LETTER[preL.toLowerCase()]!, BigInt(preN ?? 0)] : null,
    post: postN1 !== undefined ? BigInt(postN1) : postL ? BigInt(postN2 ?? 0) : null,
    dev: devL ? BigInt(devN ?? 0) : null,
    local: local
      ? local
          .toLowerCase()
          .split(/[-_.]/)
          .map((p) => (/^[0-9]+$/.test(p) ? BigInt(p) : p))
      : null,
  };
}

// A sort compares each version with several others: parse each once (a snapshot sorts the
// versions of every project it renders). The parsed values are never changed.
const parsedForSort = boundedMemo(tryParseVersion, 50_000);

/** Parses a PEP 440 version; throws `version-invalid` otherwise. */
export function parseVersion(input: string): Version {
  const v = tryParseVersion(input);
  if (!v)
    throw metadataError('version-invalid', `not a PEP 440 version: ${JSON.stringify(input.slice(0, 200))}`);
  return v;
}

export function isValidVersion(input: string): boolean {
  return VERSION_RE.test(input);
}

export function isPrerelease(v: Version): boolean {
  return v.pre !== null || v.dev !== null;
}

/** `str(Version(v))`: the normalized form (`1.0-RC.1` → `1.0rc1`, `v1_0` is invalid). */
export function formatVersion(v: Version): string {
  let s = v.release.join('.');
  if (v.epoch !== 0n) s = `${v.epoch}!${s}`;
  if (v.pre) s += `${v.pre[0]}${v.pre[1]}`;
  if (v.post !== null) s += `.post${v.post}`;
  if (v.dev !== null) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

/** The normalized form of a version string; throws `version-invalid`. */
export function normalizeVersion(input: string): string {
  return formatVersion(parseVersion(input));
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function trimmedRelease(release: readonly bigint[]): readonly bigint[] {
  let i = release.length;
  while (i > 0 && release[i - 1] === 0n) i--;
  return i === release.length ? release : release.slice(0, i);
}

// packaging.version._cmpkey's suffix: (pre_rank, pre_n, post_rank, post_n, dev_rank, dev_n)
function suffixKey(v: Version): bigint[] {
  const preRank = v.pre ? { a: 0n, b: 1n, rc: 2n }[v.pre[0]] : v.post === null && v.dev !== null ? -1n : 3n;
  return [
    preRank,
    v.pre ? v.pre[1] : 0n,
    v.post === null ? 0n : 1n,
    v.post ?? 0n,
    v.dev === null ? 1n : 0n,
    v.dev ?? 0n,
  ];
}

/** PEP 440 ordering of two parsed versions (`1.0 == 1.0.0`, `1.0.dev0 < 1.0a0 < 1.0 < 1.0+x < 1.0.post0`). */
export function comparePep440(a: Version, b: Version): number {
  const e = cmpBig(a.epoch, b.epoch);
  if (e) return e;
  const ra = trimmedRelease(a.release);
  const rb = trimmedRelease(b.release);
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const c = cmpBig(ra[i]!, rb[i]!);
    if (c) return c;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  const sa = suffixKey(a);
  const sb = suffixKey(b);
  for (let i = 0; i < sa.length; i++) {
    const c = cmpBig(sa[i]!, sb[i]!);
    if (c) return c;
  }
  if (!a.local || !b.local) return (a.local ? 1 : 0) - (b.local ? 1 : 0);
  // Local segments: strings sort before numbers, strings by code point, numbers numerically.
  for (let i = 0; i < Math.min(a.local.length, b.local.length); i++) {
    const x = a.local[i]!;
    const y = b.local[i]!;
    if (typeof x === 'string' && typeof y === 'string') {
      const c = compareCodePoints(x, y);
      if (c) return Math.sign(c);
    } else if (typeof x === 'bigint' && typeof y === 'bigint') {
      const c = cmpBig(x, y);
      if (c) return c;
    } else {
      return typeof x === 'string' ? -1 : 1;
    }
  }
  return Math.sign(a.local.length - b.local.length);
}

/**
 * A total order on version strings, for sorting (docs/formats.md §0: "versions in PEP 440 order,
 * unparsable versions last, by string"). Versions PEP 440 considers equal (`1.0`, `1.0.0`) are
 * ordered by string so that the order never depends on input order.
 */
export function compareVersions(a: string, b: string): number {
  const va = parsedForSort(a);
  const vb = parsedForSort(b);
  if (va && vb) {
    const c = comparePep440(va, vb);
    if (c) return c;
  } else if (va || vb) {
    return va ? -1 : 1;
  }
  return Math.sign(compareCodePoints(a, b));
}

// ---------------------------------------------------------------------------------------------
// Specifiers
// https://packaging.python.org/en/latest/specifications/version-specifiers/#version-specifiers

export type SpecifierOperator = '~=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '===';

/** One clause of a specifier set, as packaging keeps it: the version is the stripped text. */
export interface Specifier {
  readonly operator: SpecifierOperator;
  readonly version: string;
}

const W = `[${PY_WS}]*`;
const PRE = '(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?';
const POST = '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?';
const DEV = '(?:[-_.]?dev[-_.]?[0-9]*)?';

/** packaging.specifiers.Specifier._specifier_regex_str (used verbose and case-insensitive). */
export const SPECIFIER_PATTERN =
  '(?:' +
  `===${W}[^${PY_WS};)]*` +
  `|(?:==|!=)${W}v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*(?:\\.\\*|${PRE}${POST}${DEV}(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?)?` +
  `|~=${W}v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)+${PRE}${POST}${DEV}` +
  `|(?:<=|>=|<|>)${W}v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*${PRE}${POST}${DEV}` +
  ')';

const SPECIFIER_RE = new RegExp(`^${W}${SPECIFIER_PATTERN}${W}$`, 'i');

function specifierInvalid(text: string): CrawlError {
  return metadataError('specifier-invalid', `not a version specifier: ${JSON.stringify(text.slice(0, 200))}`);
}

/** `Specifier(text)`: one clause such as `>=1.0`; throws `specifier-invalid`. */
export function parseSpecifier(text: string): Specifier {
  if (!SPECIFIER_RE.test(text)) throw specifierInvalid(text);
  const s = pyStrip(text);
  const opLen = s.startsWith('===') ? 3 : /^(~=|==|!=|<=|>=)/.test(s) ? 2 : 1;
  return { operator: s.slice(0, opLen) as SpecifierOperator, version: pyStrip(s.slice(opLen)) };
}

/** `SpecifierSet(text)`: comma-separated clauses, empty ones skipped; throws `specifier-invalid`. */
export function parseSpecifierSet(text: string): Specifier[] {
  return text
    .split(',')
    .map(pyStrip)
    .filter((s) => s !== '')
    .map(parseSpecifier);
}

function specVersion(spec: Specifier): Version {
  const v = tryParseVersion(spec.version);
  // The specifier grammar only admits PEP 440 versions for these operators.
  if (!v) throw specifierInvalid(`${spec.operator}${spec.version}`);
  return v;
}

function canonicalKey(spec: Specifier): string {
  if (spec.operator === '===' || spec.version.endsWith('.*')) return `${spec.operator}\0${spec.version}`;
  const v = specVersion(spec);
  if (spec.operator === '~=') return `~=\0${formatVersion(v)}`;
  let release = trimmedRelease(v.release);
  if (release.length === 0) release = [0n];
  return `${spec.operator}\0${formatVersion({ ...v, release })}`;
}

/**
 * `str(SpecifierSet(...))`: clauses sorted by text, duplicates (by canonical version: `>=1.0` and
 * `>=1.0.0` are one) dropped, joined by `,`. `>=1.0, <2` → `<2,>=1.0`.
 */
export function formatSpecifierSet(specs: readonly Specifier[]): string {
  const sorted = specs.map((s) => `${s.operator}${s.version}`).sort(compareCodePoints);
  if (specs.length <= 1) return sorted.join(',');
  const seen = new Set<string>();
  const out: string[] = [];
  for (const text of sorted) {
    const key = canonicalKey(parseSpecifier(text));
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(text);
  }
  return out.join(',');
}

/** The normalized text of a specifier set; throws `specifier-invalid`. */
export function normalizeSpecifier(text: string): string {
  return formatSpecifierSet(parseSpecifierSet(text));
}

const publicOf = (v: Version): Version => (v.local ? { ...v, local: null } : v);
const eq = (a: Version, b: Version) => comparePep440(a, b) === 0;

// packaging.specifiers._version_split / _version_join / _is_not_suffix
function versionSplit(version: string): string[] {
  const bang = version.lastIndexOf('!');
  const result = [bang >= 0 ? version.slice(0, bang) || '0' : '0'];
  for (const item of version.slice(bang + 1).split('.')) {
    const m = /^([0-9]+)((?:a|b|c|rc)[0-9]+)$/.exec(item);
    if (m) result.push(m[1]!, m[2]!);
    else result.push(item);
  }
  return result;
}

const isNotSuffix = (s: string) => !['dev', 'a', 'b', 'rc', 'post'].some((p) => s.startsWith(p));

function canonicalizeNoStrip(text: string): string {
  const v = tryParseVersion(text);
  return v ? formatVersion(v) : text;
}

function numericPrefixLen(split: string[]): number {
  let n = 0;
  while (n < split.length && /^[0-9]+$/.test(split[n]!)) n++;
  return n;
}

function compareEqual(prospective: Version, spec: string): boolean {
  if (spec.endsWith('.*')) {
    const splitSpec = versionSplit(canonicalizeNoStrip(spec.slice(0, -2)));
    const specNumeric = numericPrefixLen(splitSpec);
    let split = versionSplit(formatVersion(publicOf(prospective)));
    const numeric = numericPrefixLen(split);
    if (numeric < specNumeric) {
      split = [
        ...split.slice(0, numeric),
        ...Array(specNumeric - numeric).fill('0'),
        ...split.slice(numeric),
      ];
    }
    const short = split.slice(0, splitSpec.length);
    return short.length === splitSpec.length && short.every((s, i) => s === splitSpec[i]);
  }
  const sv = tryParseVersion(spec);
  if (!sv) return false;
  return eq(sv.local ? prospective : publicOf(prospective), sv);
}

function matchesOperator(spec: Specifier, prospective: Version): boolean {
  const { operator, version } = spec;
  switch (operator) {
    case '~=': {
      const parts = versionSplit(version);
      const kept: string[] = [];
      for (const p of parts) {
        if (!isNotSuffix(p)) break;
        kept.push(p);
      }
      const [epoch, ...rest] = kept.slice(0, -1);
      const prefix = `${epoch ?? ''}!${rest.join('.')}.*`;
      return (
        comparePep440(publicOf(prospective), specVersion(spec)) >= 0 && compareEqual(prospective, prefix)
      );
    }
    case '==':
      return compareEqual(prospective, version);
    case '!=':
      return !compareEqual(prospective, version);
    case '<=':
      return comparePep440(publicOf(prospective), specVersion(spec)) <= 0;
    case '>=':
      return comparePep440(publicOf(prospective), specVersion(spec)) >= 0;
    case '<': {
      const sv = specVersion(spec);
      if (comparePep440(prospective, sv) >= 0) return false;
      // "<V MUST NOT allow a pre-release of the specified version unless V is itself a pre-release"
      const earliest: Version = { ...sv, dev: 0n, local: null };
      return !(!isPrerelease(sv) && isPrerelease(prospective) && comparePep440(prospective, earliest) >= 0);
    }
    case '>': {
      const sv = specVersion(spec);
      if (comparePep440(prospective, sv) <= 0) return false;
      // ">V MUST NOT allow a post-release of V unless V is itself a post-release", nor V+local.
      if (sv.post === null && prospective.post !== null) {
        if (eq({ ...prospective, post: null, dev: null, local: null }, sv)) return false;
      }
      return !(prospective.local && eq(publicOf(prospective), sv));
    }
    case '===':
      return false; // handled on the raw string by the caller
  }
}

/** `Specifier.prereleases` as packaging derives it when not set explicitly. */
function impliesPrereleases(spec: Specifier): boolean | null {
  if (spec.operator === '!=') return false;
  if (spec.operator === '==' && spec.version.endsWith('.*')) return false;
  const v = tryParseVersion(spec.version);
  return v ? isPrerelease(v) : null;
}

export interface SatisfiesOptions {
  /**
   * Whether pre-releases may match. Default (undefined) as packaging 26's `SpecifierSet.contains`:
   * a single version that matches is accepted even if it is a pre-release.
   */
  prereleases?: boolean;
}

/** `SpecifierSet.contains(version)` for parsed clauses. A string that is not PEP 440 only matches `===`. */
export function specifierSetContains(
  specs: readonly Specifier[],
  version: string,
  options: SatisfiesOptions = {},
): boolean {
  const parsed = tryParseVersion(version);
  let pre = options.prereleases;
  if (pre === undefined && specs.some((s) => impliesPrereleases(s))) pre = true;
  const include = pre ?? true;
  if (specs.length === 0) return include || !parsed || !isPrerelease(parsed);
  if (!parsed) {
    return specs.every((s) => s.operator === '===' && version.toLowerCase() === s.version.toLowerCase());
  }
  if (!include && isPrerelease(parsed)) return false;
  return specs.every((s) =>
    s.operator === '===' ? version.toLowerCase() === s.version.toLowerCase() : matchesOperator(s, parsed),
  );
}

/** Whether `version` satisfies the specifier set text (`>=1.0,<2`); throws `specifier-invalid`. */
export function satisfies(version: string, specifier: string, options: SatisfiesOptions = {}): boolean {
  return specifierSetContains(parseSpecifierSet(specifier), version, options);
}

/** `Specifier(text).contains(version, prereleases=True)`, used by marker evaluation; null if `text` is no specifier. */
export function specifierMatchesForMarker(text: string, version: string): boolean | null {
  if (!SPECIFIER_RE.test(text)) return null;
  const spec = parseSpecifier(text);
  const parsed = tryParseVersion(version);
  if (spec.operator === '===') return version.toLowerCase() === spec.version.toLowerCase();
  if (!parsed) return false;
  return matchesOperator(spec, parsed);
}
