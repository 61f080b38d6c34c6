import { type CrawlError, metadataError } from '@pypi-graph/core';
import { comparePep440, tryParseVersion, type Version } from '@pypi-graph/pyspec';

// Poetry's version constraints (`^1.2`, `~1.2`, `~=1.2`, `>=1,<2 || >=3`) translated to PEP 440 the
// way poetry-core writes them into METADATA when it builds a wheel. The rules are learnt from
// poetry-core (src/poetry/core/constraints/version/parser.py: caret, tilde, tilde-PEP 440, wildcard,
// basic; Version.next_major/next_minor/next_patch keep the written precision;
// VersionRange.__str__ is `>=min,<max`) and from the documented table in poetry's
// "Dependency specification" (docs/dependency-specification.md). Intervals only: enough for
// intersections and unions of ranges; an `!=` clause is carried through as written.

/** A version as written, with the numbers poetry uses for the precision rules. */
export interface PoetryVersion {
  /** As written (without a leading `v`), what poetry prints for a bound read from the text. */
  text: string;
  parsed: Version;
  /** Release numbers as written (`1.2` → [1, 2]): its length is poetry's precision. */
  release: number[];
}

/** One interval; a missing bound is unbounded. */
export interface PoetryRange {
  min: PoetryVersion | null;
  includeMin: boolean;
  max: PoetryVersion | null;
  includeMax: boolean;
}

/** A constraint: a union of ranges (none: matches nothing), plus `!=` clauses kept verbatim. */
export interface PoetryConstraint {
  any: boolean;
  ranges: PoetryRange[];
  excluded: string[];
}

const ANY: PoetryConstraint = { any: true, ranges: [], excluded: [] };

function invalid(text: string): CrawlError {
  return metadataError('specifier-invalid', `not a poetry version constraint: ${JSON.stringify(text)}`);
}

export function poetryVersion(raw: string): PoetryVersion {
  const text = raw.trim().replace(/^v/i, '');
  const parsed = tryParseVersion(text);
  const m = /^(?:\d+!)?(\d+(?:\.\d+)*)/.exec(text);
  if (!parsed || !m) throw invalid(raw);
  return { text, parsed, release: m[1]!.split('.').map(Number) };
}

function fromRelease(release: number[]): PoetryVersion {
  return poetryVersion(release.join('.'));
}

/** The release without pre/post/dev parts (poetry's `Version.stable` for a pre-release). */
function stableRelease(v: PoetryVersion): number[] {
  return v.release;
}

/** `1.2.3` → `2.0.0`, `1.2` → `2.0`, `1` → `2`: the precision is kept. */
export function nextMajor(v: PoetryVersion): PoetryVersion {
  const r = stableRelease(v);
  return fromRelease([r[0]! + 1, ...r.slice(1).map(() => 0)]);
}

/** `1.2.3` → `1.3.0`, `1` → `1.1`. */
export function nextMinor(v: PoetryVersion): PoetryVersion {
  const r = stableRelease(v);
  if (r.length === 1) return fromRelease([r[0]!, 1]);
  return fromRelease([r[0]!, r[1]! + 1, ...r.slice(2).map(() => 0)]);
}

/** `1.2.3` → `1.2.4`, `1.2` → `1.2.1`. */
export function nextPatch(v: PoetryVersion): PoetryVersion {
  const r = stableRelease(v);
  if (r.length === 1) return fromRelease([r[0]!, 0, 1]);
  if (r.length === 2) return fromRelease([r[0]!, r[1]!, 1]);
  return fromRelease([r[0]!, r[1]!, r[2]! + 1, ...r.slice(3).map(() => 0)]);
}

/** poetry's `next_breaking`: the first non-zero of major, minor, patch decides (`^0.2` → `<0.3`). */
function nextBreaking(v: PoetryVersion): PoetryVersion {
  const r = v.release;
  if (r[0]! > 0 || r.length === 1) return nextMajor(v);
  if (r[1]! > 0 || r.length === 2) return nextMinor(v);
  return nextPatch(v);
}

const cmp = (a: PoetryVersion, b: PoetryVersion) => comparePep440(a.parsed, b.parsed);

function range(
  min: PoetryVersion | null,
  includeMin: boolean,
  max: PoetryVersion | null,
  includeMax: boolean,
) {
  return {
    any: false,
    ranges: [{ min, includeMin, max, includeMax }],
    excluded: [],
  } satisfies PoetryConstraint;
}

function parseSingle(raw: string): PoetryConstraint {
  const c = raw.trim();
  if (/^(?:v?\*|[xX]|\*\.\*)$/.test(c) || c === '') return ANY;
  // ~= before ~ and ^: PEP 440 compatible release, poetry's own bounds.
  const m1 = /^~=\s*(.+)$/.exec(c);
  if (m1) {
    const m = m1;
    const v = poetryVersion(m[1]!);
    if (v.release.length < 2) throw invalid(raw);
    return range(v, true, v.release.length === 2 ? nextMajor(v) : nextMinor(v), false);
  }
  const m2 = /^~(?!=)\s*(.+)$/.exec(c);
  if (m2) {
    const m = m2;
    const v = poetryVersion(m[1]!);
    return range(v, true, v.release.length === 1 ? nextMajor(v) : nextMinor(v), false);
  }
  const m3 = /^\^\s*(.+)$/.exec(c);
  if (m3) {
    const m = m3;
    const v = poetryVersion(m[1]!);
    return range(v, true, nextBreaking(v), false);
  }
  // Wildcards: `1.2.*`, `==1.2.*`, `!=1.2.*`.
  const m4 = /^(==|!=)?\s*v?(\d+(?:\.\d+)*)\.[*xX]$/.exec(c);
  if (m4) {
    const m = m4;
    if (m[1] === '!=') return { any: true, ranges: [], excluded: [`!=${m[2]}.*`] };
    // poetry-core (checked against 1.4) writes wildcard bounds with three numbers, from major and
    // minor only: `1.*` → `>=1.0.0,<2.0.0`, `1.2.*` and `1.2.3.*` → `>=1.2.0,<1.3.0`.
    const r = poetryVersion(m[2]!).release;
    const low = fromRelease([r[0]!, r[1] ?? 0, 0]);
    return range(low, true, r.length === 1 ? nextMajor(low) : nextMinor(low), false);
  }
  const m5 = /^(<=|>=|<|>|===|==|!=|=)?\s*(.+)$/.exec(c);
  if (m5) {
    const m = m5;
    const op = m[1] ?? '==';
    const v = poetryVersion(m[2]!);
    switch (op) {
      case '<':
        return range(null, false, v, false);
      case '<=':
        return range(null, false, v, true);
      case '>':
        return range(v, false, null, false);
      case '>=':
        return range(v, true, null, false);
      case '!=':
        return { any: true, ranges: [], excluded: [`!=${v.text}`] };
      default:
        return range(v, true, v, true);
    }
  }
  throw invalid(raw);
}

function fullRanges(c: PoetryConstraint): PoetryRange[] {
  return c.any ? [{ min: null, includeMin: false, max: null, includeMax: false }] : c.ranges;
}

function intersectRange(a: PoetryRange, b: PoetryRange): PoetryRange | null {
  let { min, includeMin } = a;
  if (b.min && (!min || cmp(b.min, min) > 0 || (cmp(b.min, min) === 0 && !b.includeMin))) {
    min = b.min;
    includeMin = b.includeMin;
  }
  let { max, includeMax } = a;
  if (b.max && (!max || cmp(b.max, max) < 0 || (cmp(b.max, max) === 0 && !b.includeMax))) {
    max = b.max;
    includeMax = b.includeMax;
  }
  if (min && max) {
    const d = cmp(min, max);
    if (d > 0 || (d === 0 && !(includeMin && includeMax))) return null;
  }
  return { min, includeMin, max, includeMax };
}

function intersect(a: PoetryConstraint, b: PoetryConstraint): PoetryConstraint {
  const excluded = [...a.excluded, ...b.excluded];
  if (a.any && b.any) return { any: true, ranges: [], excluded };
  const ranges: PoetryRange[] = [];
  for (const x of fullRanges(a)) {
    for (const y of fullRanges(b)) {
      const r = intersectRange(x, y);
      if (r) ranges.push(r);
    }
  }
  return { any: false, ranges: mergeRanges(ranges), excluded };
}

/** Sorted by lower bound, overlapping or touching ranges merged (`^1 || ^2` is `>=1,<3`). */
function mergeRanges(ranges: PoetryRange[]): PoetryRange[] {
  const sorted = [...ranges].sort((x, y) => {
    if (!x.min) return y.min ? -1 : 0;
    if (!y.min) return 1;
    return cmp(x.min, y.min) || (x.includeMin === y.includeMin ? 0 : x.includeMin ? -1 : 1);
  });
  const out: PoetryRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last) {
      const touches =
        !last.max ||
        !r.min ||
        cmp(r.min, last.max) < 0 ||
        (cmp(r.min, last.max) === 0 && (last.includeMax || r.includeMin));
      if (touches) {
        if (!last.max || (r.max && cmp(r.max, last.max) < 0)) continue;
        if (!r.max) {
          last.max = null;
          last.includeMax = false;
        } else if (cmp(r.max, last.max) > 0 || (cmp(r.max, last.max) === 0 && r.includeMax)) {
          last.max = r.max;
          last.includeMax = r.includeMax;
        }
        continue;
      }
    }
    out.push({ ...r });
  }
  return out;
}

/**
 * Parses a poetry constraint: `||` (or a single `|`) between alternatives, `,` or blanks between
 * the constraints that must all hold (`>= 1.2, < 2` or `>=1.2 <2`).
 */
export function parsePoetryConstraint(text: string): PoetryConstraint {
  const alternatives = text.split(/\s*\|\|?\s*/);
  let result: PoetryConstraint | null = null;
  for (const alt of alternatives) {
    let acc: PoetryConstraint = ANY;
    // Split on commas and on blanks that separate whole constraints (not `>= 1.2`).
    const tokens = alt
      .split(',')
      .flatMap((p) => p.trim().split(/\s+/))
      .filter((t) => t !== '');
    const parts: string[] = [];
    for (const t of tokens) {
      const prev = parts.at(-1);
      if (prev !== undefined && /^(?:<=|>=|<|>|===|==|!=|=|~=|~|\^)$/.test(prev))
        parts[parts.length - 1] = prev + t;
      else parts.push(t);
    }
    for (const p of parts) acc = intersect(acc, parseSingle(p));
    if (result === null) result = acc;
    else if (result.any && result.excluded.length === 0) continue;
    else if (acc.any && acc.excluded.length === 0) result = acc;
    else
      result = {
        any: false,
        ranges: mergeRanges([...fullRanges(result), ...fullRanges(acc)]),
        excluded: [...result.excluded, ...acc.excluded],
      };
  }
  if (result === null) return ANY;
  if (!result.any && result.ranges.length === 1) {
    const r = result.ranges[0]!;
    if (!r.min && !r.max) return { any: true, ranges: [], excluded: result.excluded };
  }
  return result;
}

function isExact(r: PoetryRange): boolean {
  return r.min !== null && r.max !== null && r.includeMin && r.includeMax && cmp(r.min, r.max) === 0;
}

function rangeToString(r: PoetryRange): string {
  if (isExact(r)) return `==${r.min!.text}`;
  const parts: string[] = [];
  if (r.min) parts.push(`${r.includeMin ? '>=' : '>'}${r.min.text}`);
  if (r.max) parts.push(`${r.includeMax ? '<=' : '<'}${r.max.text}`);
  return parts.join(',');
}

/**
 * The specifier poetry-core puts in Requires-Dist (`base_pep_508_name`): a range as `>=a,<b`, a
 * single version as `==v`, nothing for `*`. A union of disjoint ranges is written with ` || `, which
 * is what poetry-core writes too, and which no PEP 440 parser reads: such lines fail later as
 * `requirement-invalid`, as the wheel's METADATA would.
 */
export function poetryConstraintToPep440(c: PoetryConstraint): string {
  const excluded = c.excluded.join(',');
  if (c.any) return excluded;
  if (c.ranges.length === 0) return '<0';
  const ranges = c.ranges.map(rangeToString).join(' || ');
  return excluded ? `${ranges},${excluded}` : ranges;
}

/**
 * A marker in disjunctive normal form, as poetry-core keeps and prints it: conjunctions of atoms
 * (`python_version >= "3.8"`), joined by `or`.
 */
export type MarkerDnf = string[][];

/** `a and b or c`: poetry-core's printing of a union of conjunctions. */
export function dnfToString(dnf: MarkerDnf): string {
  return dnf.map((c) => c.join(' and ')).join(' or ');
}

/** poetry-core's `create_nested_marker('python_version', constraint)` for one range. */
function pythonRangeMarker(r: PoetryRange): string[] {
  if (isExact(r)) {
    const v = r.min!;
    return [`${v.release.length >= 3 ? 'python_full_version' : 'python_version'} == "${v.text}"`];
  }
  const parts: string[] = [];
  if (r.min) {
    const v = r.min;
    if (v.release.length >= 3) parts.push(`python_full_version ${r.includeMin ? '>=' : '>'} "${v.text}"`);
    else if (!r.includeMin)
      parts.push(`python_full_version > "${v.text}${'.0'.repeat(3 - v.release.length)}"`);
    else parts.push(`python_version >= "${v.text}"`);
  }
  if (r.max) {
    const v = r.max;
    if (v.release.length >= 3) parts.push(`python_full_version ${r.includeMax ? '<=' : '<'} "${v.text}"`);
    else if (r.includeMax)
      parts.push(`python_full_version <= "${v.text}${'.0'.repeat(3 - v.release.length)}"`);
    else parts.push(`python_version < "${v.text}"`);
  }
  return parts;
}

/** The marker for a dependency's `python = "…"`, as poetry-core writes it; null for `*`. */
export function poetryPythonMarker(c: PoetryConstraint): MarkerDnf | null {
  const exclusions = c.excluded.map((e) => {
    const v = e.slice(2);
    return v.endsWith('.*') || v.split('.').length >= 3
      ? `python_full_version != "${v}"`
      : `python_version != "${v}"`;
  });
  if (c.any) return exclusions.length ? [exclusions] : null;
  if (c.ranges.length === 0) return [['python_version < "0"']];
  return c.ranges.map((r) => [...pythonRangeMarker(r), ...exclusions]);
}

// poetry-core's list of Python series for `format_python_constraint` (helpers.py, PYTHON_VERSION).
const PYTHON_SERIES = ['2.7', ...Array.from({ length: 14 }, (_, i) => `3.${i}`)];

/**
 * Requires-Python as poetry-core writes it from `python = "…"` (`format_python_constraint`): a
 * single version `3.8` means `~3.8`, a bare `3` means `^3.0`; a range is `>=a,<b`; a union is
 * rewritten as `>=low, !=3.0.*, !=3.1.*…` over the known Python series. Null for `*`.
 */
export function poetryRequiresPython(text: string): string | null {
  let c = parsePoetryConstraint(text);
  if (c.any && c.excluded.length === 0) return null;
  if (!c.any && c.ranges.length === 1 && isExact(c.ranges[0]!) && c.excluded.length === 0) {
    const v = c.ranges[0]!.min!;
    if (v.release.length >= 3) return `==${v.text}`;
    c = parsePoetryConstraint(
      v.release.length === 2 ? `~${v.release[0]}.${v.release[1]}` : `^${v.release[0]}.0`,
    );
  }
  if (c.any || c.ranges.length <= 1) return poetryConstraintToPep440(c);
  const formatted: string[] = [];
  const accepted: string[] = [];
  for (const series of PYTHON_SERIES) {
    const s = poetryVersion(series);
    const seriesRange: PoetryRange = { min: s, includeMin: true, max: nextMinor(s), includeMax: false };
    if (c.ranges.some((r) => intersectRange(r, seriesRange) !== null)) accepted.push(series);
    else formatted.push(`!=${series}.*`);
  }
  if (accepted.length === 0) return poetryConstraintToPep440(c);
  // Exclusions below the lowest accepted series say nothing.
  const low = accepted[0]!;
  const lowIndex = PYTHON_SERIES.indexOf(low);
  const kept = formatted.filter((f) => PYTHON_SERIES.indexOf(f.slice(2, -2)) > lowIndex);
  return [`>=${low}`, ...kept].join(', ');
}
