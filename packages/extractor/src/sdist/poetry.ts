import { type CrawlError, metadataError } from '@pypi-graph/core';
import {
  type MarkerExpression,
  type MarkerTerm,
  normalizeExtra,
  parseMarker,
  pep503Name,
} from '@pypi-graph/pyspec';
import {
  dnfToString,
  type MarkerDnf,
  parsePoetryConstraint,
  poetryConstraintToPep440,
  poetryPythonMarker,
  poetryRequiresPython,
} from './poetry-constraint';
import { printMarkerTerm } from './requirement-text';

// [tool.poetry] dependencies → the Requires-Dist lines poetry-core writes when it builds the
// wheel (Factory.create_dependency, Dependency.to_pep_508, Metadata.from_package): main group
// only (`group.*` and `dev-dependencies` are never metadata), in file order, `python`/`platform`/
// `markers` turned into one marker in disjunctive normal form, the extra condition added last.
// Checked line for line against poetry-core 1.4 (Debian's python3-poetry-core) on the fixtures.

/** One line of the result, before and after its extra condition. */
export interface PoetryRequirement {
  /** Normalized name (the sort key). */
  name: string;
  /** The line as poetry-core writes it into Requires-Dist. */
  line: string;
  /** The same without the extra condition (what an `extras_require[extra]` holds). */
  lineWithoutExtra: string;
  /** PEP 685-normalized extras that pull it in; empty for a base requirement. */
  inExtras: string[];
}

export interface PoetryDependencies {
  requirements: PoetryRequirement[];
  /** Requires-Python (from `python = "…"`), or null. */
  requiresPython: string | null;
  /** Normalized extra names, sorted (Provides-Extra). */
  providesExtra: string[];
  /** Dependencies left out, with why (path dependencies have no meaning outside the author's tree). */
  skipped: string[];
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(message: string): CrawlError {
  return metadataError('metadata-invalid', `pyproject [tool.poetry]: ${message}`);
}

function termDnf(t: MarkerTerm): MarkerDnf {
  if (t.kind === 'comparison') return [[printMarkerTerm(t)]];
  return expressionDnf(t);
}

/** A marker expression in DNF: `and` binds tighter than `or`; `and` distributes over `or`. */
function expressionDnf(e: MarkerExpression): MarkerDnf {
  const out: MarkerDnf = [];
  let conj: MarkerDnf = termDnf(e.terms[0]!);
  for (let i = 1; i < e.terms.length; i++) {
    const next = termDnf(e.terms[i]!);
    if (e.joins[i - 1] === 'or') {
      out.push(...conj);
      conj = next;
    } else conj = conj.flatMap((a) => next.map((b) => [...a, ...b]));
  }
  out.push(...conj);
  return out;
}

/**
 * poetry-core's intersection of two markers, as its printed order shows (checked against 1.4):
 * with a union on one side, each of its members meets the other side; a single atom meeting a
 * conjunction of several comes after it; otherwise the left side comes first.
 */
function intersectDnf(x: MarkerDnf, y: MarkerDnf): MarkerDnf {
  const meet = (member: string[], other: string[]) =>
    member.length === 1 && other.length > 1 ? [...other, ...member] : [...member, ...other];
  if (x.length === 1 && y.length > 1) return y.map((b) => meet(b, x[0]!));
  if (y.length === 1) return x.map((a) => meet(a, y[0]!));
  return x.flatMap((a) => y.map((b) => meet(a, b)));
}

function platformMarker(platform: string): MarkerDnf {
  return platform
    .split(/\s*\|\|?\s*/)
    .filter((p) => p !== '')
    .map((p) => [`sys_platform == "${p}"`]);
}

interface Parsed {
  name: string;
  prettyName: string;
  base: string;
  marker: string | null;
  optional: boolean;
}

function parseOne(prettyName: string, spec: unknown, skipped: string[]): Parsed | null {
  const name = pep503Name(prettyName);
  if (typeof spec === 'string') {
    const c = poetryConstraintToPep440(parsePoetryConstraint(spec));
    return {
      name,
      prettyName,
      base: c === '' ? prettyName : `${prettyName} (${c})`,
      marker: null,
      optional: false,
    };
  }
  if (!isTable(spec)) throw invalid(`dependency ${prettyName} is neither a string nor a table`);
  const extras = Array.isArray(spec.extras)
    ? [...new Set(spec.extras.map(String).map(normalizeExtra))].sort()
    : [];
  const complete = extras.length > 0 ? `${prettyName}[${extras.join(',')}]` : prettyName;
  let base: string;
  if (typeof spec.git === 'string') {
    const ref = [spec.rev, spec.tag, spec.branch].find((r) => typeof r === 'string');
    const sub = typeof spec.subdirectory === 'string' ? `#subdirectory=${spec.subdirectory}` : '';
    base = `${complete} @ git+${spec.git}${ref ? `@${ref}` : ''}${sub}`;
  } else if (typeof spec.url === 'string') {
    const sub = typeof spec.subdirectory === 'string' ? `#subdirectory=${spec.subdirectory}` : '';
    base = `${complete} @ ${spec.url}${sub}`;
  } else if (typeof spec.path === 'string' || typeof spec.file === 'string') {
    skipped.push(`${prettyName}: path dependency ${String(spec.path ?? spec.file)}`);
    return null;
  } else {
    const c = poetryConstraintToPep440(
      parsePoetryConstraint(typeof spec.version === 'string' ? spec.version : '*'),
    );
    base = c === '' ? complete : `${complete} (${c})`;
  }
  // Factory.create_dependency: the markers, then python, then platform, intersected.
  const parts: MarkerDnf[] = [];
  if (typeof spec.markers === 'string' && spec.markers.trim() !== '') {
    parts.push(expressionDnf(parseMarker(spec.markers)));
  }
  if (typeof spec.python === 'string') {
    const p = poetryPythonMarker(parsePoetryConstraint(spec.python));
    if (p) parts.push(p);
  }
  if (typeof spec.platform === 'string' && spec.platform.trim() !== '')
    parts.push(platformMarker(spec.platform));
  const marker = parts.length === 0 ? null : dnfToString(parts.reduce(intersectDnf));
  return { name, prettyName, base, marker, optional: spec.optional === true };
}

/** Reads `[tool.poetry]` (a parsed TOML table) into Requires-Dist lines as poetry-core writes them. */
export function readPoetryDependencies(poetry: Table): PoetryDependencies {
  const deps = poetry.dependencies ?? {};
  if (!isTable(deps)) throw invalid('dependencies is not a table');
  const skipped: string[] = [];
  let requiresPython: string | null = null;
  const parsed: Parsed[] = [];
  for (const [prettyName, spec] of Object.entries(deps)) {
    if (prettyName.toLowerCase() === 'python') {
      if (typeof spec === 'string') requiresPython = poetryRequiresPython(spec);
      continue;
    }
    // A list holds several constraints of one dependency, each with its own python/markers.
    for (const one of Array.isArray(spec) ? spec : [spec]) {
      const p = parseOne(prettyName, one, skipped);
      if (p) parsed.push(p);
    }
  }
  const extrasTable = poetry.extras ?? {};
  if (!isTable(extrasTable)) throw invalid('extras is not a table');
  const inExtras = new Map<string, string[]>();
  const providesExtra = new Set<string>();
  for (const [extra, members] of Object.entries(extrasTable)) {
    const e = normalizeExtra(extra);
    providesExtra.add(e);
    if (!Array.isArray(members)) throw invalid(`extra ${extra} is not a list`);
    for (const m of members) {
      const n = pep503Name(String(m));
      const list = inExtras.get(n) ?? [];
      if (!list.includes(e)) list.push(e);
      inExtras.set(n, list);
    }
  }
  const requirements: PoetryRequirement[] = [];
  // In file order; an optional dependency that no extra names is written without condition —
  // both as Metadata.from_package does (checked against poetry-core 1.4).
  for (const p of parsed) {
    const extras = inExtras.get(p.name) ?? [];
    const markers = p.marker === null ? [] : [p.marker];
    const lineWithoutExtra = markers.length ? `${p.base} ; ${markers[0]}` : p.base;
    if (extras.length > 0) markers.push(extras.map((e) => `extra == "${e}"`).join(' or '));
    const markerText = markers.length > 1 ? markers.map((m) => `(${m})`).join(' and ') : markers[0];
    requirements.push({
      name: p.name,
      line: markerText === undefined ? p.base : `${p.base} ; ${markerText}`,
      lineWithoutExtra,
      inExtras: extras,
    });
  }
  return { requirements, requiresPython, providesExtra: [...providesExtra].sort(), skipped };
}
