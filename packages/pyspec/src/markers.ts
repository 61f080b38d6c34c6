import { type CrawlError, metadataError } from '@pypi-graph/core';
import { normalizeExtra } from './names';
import { specifierMatchesForMarker } from './pep440';
import { decodePythonStringLiteral } from './python-str';
import { ParserSyntaxError, Tokenizer } from './tokenizer';

// https://packaging.python.org/en/latest/specifications/dependency-specifiers/#environment-markers
// Parsing, evaluation and formatting follow packaging 26 (`packaging.markers`, `packaging._parser`)
// exactly, quirks included (see readme.md), so that a marker means here what it means to pip.

export type MarkerOperator = '===' | '==' | '~=' | '!=' | '<=' | '>=' | '<' | '>' | 'in' | 'not in';

/** A variable (its canonical name: `os.name` is `os_name`) or a quoted string (its decoded value). */
export type MarkerOperand =
  | { readonly kind: 'variable'; readonly name: string }
  | { readonly kind: 'string'; readonly value: string };

export interface MarkerComparison {
  readonly kind: 'comparison';
  readonly left: MarkerOperand;
  readonly op: MarkerOperator;
  readonly right: MarkerOperand;
}

/**
 * `term (join term)*`, unreduced: `and` binds tighter than `or` at evaluation. Parentheses are kept
 * as nested expressions, as packaging keeps them (its `str()` depends on that shape).
 */
export interface MarkerExpression {
  readonly kind: 'expression';
  readonly terms: readonly MarkerTerm[];
  /** `joins[i]` stands between `terms[i]` and `terms[i + 1]`. */
  readonly joins: readonly ('and' | 'or')[];
}

export type MarkerTerm = MarkerComparison | MarkerExpression;

/** A parsed marker. */
export type MarkerNode = MarkerExpression;

/** The values a marker is evaluated against (PEP 508 names). */
export interface MarkerEnvironment {
  implementation_name: string;
  implementation_version: string;
  os_name: string;
  platform_machine: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  python_full_version: string;
  platform_python_implementation: string;
  python_version: string;
  sys_platform: string;
  /** The extra being installed; empty, null or absent for none. Normalized per PEP 685. */
  extra?: string | null;
  /** PEP 751 lock-file variables; a marker that uses them fails to evaluate without them. */
  extras?: readonly string[];
  dependency_groups?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Parsing (packaging._parser)

function parseMarkerVar(t: Tokenizer): MarkerOperand {
  if (t.check('VARIABLE')) {
    const name = t.read().text.replaceAll('.', '_');
    return {
      kind: 'variable',
      name: name === 'python_implementation' ? 'platform_python_implementation' : name,
    };
  }
  if (t.check('QUOTED_STRING')) {
    const token = t.read();
    const value = decodePythonStringLiteral(token.text);
    // ast.literal_eval raises on these; packaging lets that escape, so the marker is invalid
    if (value === null) t.raise('Invalid string literal', token.position, t.position);
    return { kind: 'string', value };
  }
  return t.raise('Expected a marker variable or quoted string');
}

function parseMarkerOp(t: Tokenizer): MarkerOperator {
  if (t.check('IN')) {
    t.read();
    return 'in';
  }
  if (t.check('NOT')) {
    t.read();
    t.expect('WS', "whitespace after 'not'");
    t.expect('IN', "'in' after 'not'");
    return 'not in';
  }
  if (t.check('OP')) return t.read().text as MarkerOperator;
  return t.raise('Expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in');
}

function parseMarkerItem(t: Tokenizer): MarkerComparison {
  t.consume('WS');
  const left = parseMarkerVar(t);
  t.consume('WS');
  const op = parseMarkerOp(t);
  t.consume('WS');
  const right = parseMarkerVar(t);
  t.consume('WS');
  return { kind: 'comparison', left, op, right };
}

// packaging recurses too and hits Python's recursion limit at about 250 levels; we stop earlier,
// well before JavaScript's stack could overflow.
const MAX_NESTING = 100;

function parseMarkerAtom(t: Tokenizer, depth: number): MarkerTerm {
  t.consume('WS');
  let term: MarkerTerm;
  if (t.check('LEFT_PARENTHESIS', true)) {
    if (depth >= MAX_NESTING) t.raise(`Marker nested more than ${MAX_NESTING} parentheses deep`);
    term = t.enclosing('LEFT_PARENTHESIS', 'RIGHT_PARENTHESIS', 'marker expression', () => {
      t.consume('WS');
      const inner = parseMarkerExpression(t, depth + 1);
      t.consume('WS');
      return inner;
    });
  } else {
    term = parseMarkerItem(t);
  }
  t.consume('WS');
  return term;
}

/** `marker = marker_atom (BOOLOP marker_atom)*` — used by the requirement parser too. */
export function parseMarkerExpression(t: Tokenizer, depth = 0): MarkerExpression {
  const terms = [parseMarkerAtom(t, depth)];
  const joins: ('and' | 'or')[] = [];
  while (t.check('BOOLOP')) {
    joins.push(t.read().text as 'and' | 'or');
    terms.push(parseMarkerAtom(t, depth));
  }
  return { kind: 'expression', terms, joins };
}

const operandText = (o: MarkerOperand) => (o.kind === 'variable' ? o.name : o.value);

/**
 * packaging's `_normalize_extra_values`: the string compared with `extra` is normalized (PEP 685).
 * Like packaging, only comparisons at the top level are touched, not those inside parentheses.
 */
export function normalizeExtraValues(expr: MarkerExpression): MarkerExpression {
  const terms = expr.terms.map((term): MarkerTerm => {
    if (term.kind !== 'comparison') return term;
    if (term.left.kind === 'variable' && term.left.name === 'extra') {
      return { ...term, right: { kind: 'string', value: normalizeExtra(operandText(term.right)) } };
    }
    if (term.right.kind === 'variable' && term.right.name === 'extra') {
      return { ...term, left: { kind: 'string', value: normalizeExtra(operandText(term.left)) } };
    }
    return term;
  });
  return { ...expr, terms };
}

/** `Marker(text)`; throws `marker-invalid`. */
export function parseMarker(text: string): MarkerNode {
  try {
    const t = new Tokenizer(text);
    const expr = parseMarkerExpression(t);
    t.expect('END', 'end of marker expression');
    return normalizeExtraValues(expr);
  } catch (err) {
    if (err instanceof ParserSyntaxError) {
      throw metadataError(
        'marker-invalid',
        `invalid marker ${JSON.stringify(text.slice(0, 200))}: ${err.message}`,
      );
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

function formatTerm(term: MarkerTerm, first: boolean): string {
  if (term.kind === 'comparison') {
    const side = (o: MarkerOperand) => (o.kind === 'variable' ? o.name : `"${o.value}"`);
    return `${side(term.left)} ${term.op} ${side(term.right)}`;
  }
  // A single-item group loses its parentheses, however deeply nested (packaging's _format_marker).
  if (term.terms.length === 1) return formatTerm(term.terms[0]!, true);
  const parts = [formatTerm(term.terms[0]!, false)];
  term.joins.forEach((join, i) => {
    parts.push(join, formatTerm(term.terms[i + 1]!, false));
  });
  const inner = parts.join(' ');
  return first ? inner : `(${inner})`;
}

/** `str(Marker(...))`: `python_version<'3'` → `python_version < "3"`. */
export function markerToString(node: MarkerNode): string {
  return formatTerm(node, true);
}

// ---------------------------------------------------------------------------------------------
// Evaluation (Marker.evaluate in the default "metadata" context)

const VERSION_KEYS = new Set([
  'implementation_version',
  'platform_release',
  'python_full_version',
  'python_version',
]);
const SET_KEYS = new Set(['extras', 'dependency_groups']);

type EnvValue = string | ReadonlySet<string>;

function undefinedComparison(lhs: string, op: string, rhs: EnvValue): CrawlError {
  const r = typeof rhs === 'string' ? rhs : `{${[...rhs].join(', ')}}`;
  return metadataError(
    'marker-invalid',
    `undefined comparison ${JSON.stringify(lhs)} ${op} ${JSON.stringify(r)}`,
  );
}

function evalOp(lhs: string, op: MarkerOperator, rhs: EnvValue, key: string): boolean {
  if (VERSION_KEYS.has(key) && typeof rhs === 'string') {
    const asVersion = specifierMatchesForMarker(`${op}${rhs}`, lhs);
    if (asVersion !== null) return asVersion;
  }
  switch (op) {
    case 'in':
      return typeof rhs === 'string' ? rhs.includes(lhs) : rhs.has(lhs);
    case 'not in':
      return typeof rhs === 'string' ? !rhs.includes(lhs) : !rhs.has(lhs);
    case '<':
    case '>':
      return false;
    case '<=':
    case '==':
    case '>=':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    default:
      throw undefinedComparison(lhs, op, rhs);
  }
}

function lookup(env: ReadonlyMap<string, EnvValue>, key: string): EnvValue {
  const value = env.get(key);
  if (value === undefined)
    throw metadataError('marker-invalid', `marker uses ${JSON.stringify(key)}, which the environment lacks`);
  return value;
}

function evaluateComparison(c: MarkerComparison, env: ReadonlyMap<string, EnvValue>): boolean {
  let key: string;
  let lhs: EnvValue;
  let rhs: EnvValue;
  if (c.left.kind === 'variable') {
    key = c.left.name;
    lhs = lookup(env, key);
    rhs = operandText(c.right);
  } else {
    // As packaging: with a string on the left, the right side's text names the environment key.
    lhs = c.left.value;
    key = operandText(c.right);
    rhs = lookup(env, key);
  }
  if (typeof lhs !== 'string') {
    throw metadataError('marker-invalid', `${JSON.stringify(key)} is a set and must be on the right of "in"`);
  }
  if (SET_KEYS.has(key)) {
    lhs = normalizeExtra(lhs);
    rhs = typeof rhs === 'string' ? normalizeExtra(rhs) : new Set([...rhs].map(normalizeExtra));
  }
  return evalOp(lhs, c.op, rhs, key);
}

function evaluateExpression(expr: MarkerExpression, env: ReadonlyMap<string, EnvValue>): boolean {
  // Every comparison is evaluated (no short-circuit), so an undefined comparison always throws.
  const groups: boolean[][] = [[]];
  expr.terms.forEach((term, i) => {
    if (i > 0 && expr.joins[i - 1] === 'or') groups.push([]);
    const value = term.kind === 'comparison' ? evaluateComparison(term, env) : evaluateExpression(term, env);
    groups.at(-1)!.push(value);
  });
  return groups.some((g) => g.every(Boolean));
}

/**
 * `Marker.evaluate(env)`: true if the marker holds. `extra` defaults to "" and is normalized (PEP 685);
 * throws `marker-invalid` for an undefined comparison (`os_name ~= "x"`) or a missing variable.
 */
export function evaluateMarker(node: MarkerNode, environment: MarkerEnvironment): boolean {
  const env = new Map<string, EnvValue>();
  for (const [key, value] of Object.entries(environment)) {
    if (typeof value === 'string') env.set(key, value);
    else if (Array.isArray(value)) env.set(key, new Set(value as string[]));
  }
  env.set('extra', environment.extra ? normalizeExtra(environment.extra) : '');
  const full = env.get('python_full_version');
  if (typeof full === 'string' && full.endsWith('+')) env.set('python_full_version', `${full}local`);
  return evaluateExpression(node, env);
}

/**
 * A CPython environment for a Python version (`2.7.18`, `3.13.0`) on a platform, for evaluating
 * markers the way a resolver on that machine would. Python 2 has no `sys.implementation`, and
 * reports `linux2`, as the interpreter itself did.
 */
export function markerEnvironment(
  pythonFullVersion: string,
  platform: 'linux' | 'darwin' | 'win32',
  extra?: string,
): MarkerEnvironment {
  const [major = '3', minor = '0'] = pythonFullVersion.split('.');
  const py2 = major === '2';
  const os = {
    linux: {
      os_name: 'posix',
      sys_platform: py2 ? 'linux2' : 'linux',
      platform_system: 'Linux',
      platform_machine: 'x86_64',
    },
    darwin: {
      os_name: 'posix',
      sys_platform: 'darwin',
      platform_system: 'Darwin',
      platform_machine: 'arm64',
    },
    win32: { os_name: 'nt', sys_platform: 'win32', platform_system: 'Windows', platform_machine: 'AMD64' },
  }[platform];
  return {
    implementation_name: py2 ? '' : 'cpython',
    implementation_version: py2 ? '0' : pythonFullVersion,
    ...os,
    platform_release: '',
    platform_version: '',
    python_full_version: pythonFullVersion,
    platform_python_implementation: 'CPython',
    python_version: `${major}.${minor}`,
    ...(extra === undefined ? {} : { extra }),
  };
}
