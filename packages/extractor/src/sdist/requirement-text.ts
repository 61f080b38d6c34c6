import {
  type MarkerExpression,
  type MarkerOperand,
  type MarkerTerm,
  normalizeExtra,
  parseMarker,
  parseRequirement,
} from '@pypi-graph/pyspec';

/** A requirement line cut at its marker: `requests>=2 ; python_version < "3"` → the two halves. */
export interface SplitRequirement {
  /** The requirement without its marker, trimmed, as written. */
  requirement: string;
  /** The marker text as written (trimmed), or null. */
  marker: string | null;
  parsedMarker: MarkerExpression | null;
}

/** Splits a PEP 508 line at the `;` that starts its marker; throws `requirement-invalid` if it is no requirement. */
export function splitRequirement(line: string): SplitRequirement {
  const req = parseRequirement(line);
  if (req.marker === null) return { requirement: line.trim(), marker: null, parsedMarker: null };
  for (let i = line.indexOf(';'); i >= 0; i = line.indexOf(';', i + 1)) {
    try {
      if (parseRequirement(line.slice(0, i)).marker !== null) continue;
      const marker = line.slice(i + 1).trim();
      return { requirement: line.slice(0, i).trim(), marker, parsedMarker: parseMarker(marker) };
    } catch {}
  }
  return { requirement: line.trim(), marker: null, parsedMarker: null };
}

function operand(o: MarkerOperand): string {
  if (o.kind === 'variable') return o.name;
  return o.value.includes('"') ? `'${o.value}'` : `"${o.value}"`;
}

/** Prints a marker term with every nested expression parenthesized (unlike `markerToString`). */
export function printMarkerTerm(t: MarkerTerm): string {
  if (t.kind === 'comparison') return `${operand(t.left)} ${t.op} ${operand(t.right)}`;
  return `(${printMarkerExpression(t)})`;
}

export function printMarkerExpression(e: MarkerExpression): string {
  let out = printMarkerTerm(e.terms[0]!);
  for (let i = 1; i < e.terms.length; i++) out += ` ${e.joins[i - 1]} ${printMarkerTerm(e.terms[i]!)}`;
  return out;
}

/** `(((x)))` → `x`: a single parenthesized term is its content. */
function unwrap(e: MarkerExpression): MarkerExpression {
  let cur = e;
  while (cur.terms.length === 1 && cur.terms[0]!.kind === 'expression')
    cur = cur.terms[0] as MarkerExpression;
  return cur;
}

function mentionsExtra(t: MarkerTerm): boolean {
  if (t.kind === 'comparison') {
    return (
      (t.left.kind === 'variable' && t.left.name === 'extra') ||
      (t.right.kind === 'variable' && t.right.name === 'extra')
    );
  }
  return t.terms.some(mentionsExtra);
}

function extraEquals(t: MarkerTerm): string | null {
  if (t.kind !== 'comparison' || t.op !== '==') return null;
  if (t.left.kind === 'variable' && t.left.name === 'extra' && t.right.kind === 'string')
    return t.right.value;
  if (t.right.kind === 'variable' && t.right.name === 'extra' && t.left.kind === 'string')
    return t.left.value;
  return null;
}

/**
 * The extras a term selects when it is `extra == "a"`, or a group of such comparisons joined by
 * `or` (`extra == "a" or extra == "b"`, as poetry-core writes an optional dependency that several
 * extras list); null for anything else.
 */
function extraAlternatives(t: MarkerTerm): string[] | null {
  const one = extraEquals(t);
  if (one !== null) return [one];
  if (t.kind !== 'expression') return null;
  const e = unwrap(t);
  if (!e.joins.every((j) => j === 'or')) return null;
  const names: string[] = [];
  for (const term of e.terms) {
    const inner = extraAlternatives(term);
    if (inner === null) return null;
    names.push(...inner);
  }
  return names;
}

/**
 * Requires-Dist lines grouped as setuptools' `extras_require`: a line whose marker is
 * `extra == "x"` — or `extra == "x" or extra == "y" …` —, alone or joined by `and` to conditions
 * without `extra`, goes to each of those extras (PEP 685-normalized) with the other conditions as
 * its marker; a line without `extra` is a base requirement; anything else (`extra` beside other
 * conditions under an `or`, `extra != …`) cannot be grouped and is returned apart.
 */
export function groupRequiresDist(lines: readonly string[]): {
  base: string[];
  extras: Record<string, string[]>;
  ungrouped: string[];
} {
  const base: string[] = [];
  const extras: Record<string, string[]> = {};
  const ungrouped: string[] = [];
  for (const line of lines) {
    const split = splitRequirement(line);
    if (split.parsedMarker === null || !mentionsExtra(split.parsedMarker)) {
      base.push(line);
      continue;
    }
    const e = unwrap(split.parsedMarker);
    // The whole marker selects extras, or one `and`-ed term does and the others never mention extra.
    let names = extraAlternatives(e);
    let others: MarkerTerm[] = [];
    if (names === null && e.joins.every((j) => j === 'and')) {
      const at = e.terms.findIndex(mentionsExtra);
      others = e.terms.filter((_, i) => i !== at);
      names = others.some(mentionsExtra) ? null : extraAlternatives(e.terms[at]!);
    }
    if (names === null) {
      ungrouped.push(line);
      continue;
    }
    const only = others.length === 1 ? others[0]! : null;
    const rest =
      only?.kind === 'expression'
        ? printMarkerExpression(unwrap(only))
        : others.map(printMarkerTerm).join(' and ');
    const value = rest === '' ? split.requirement : joinMarker(split.requirement, rest);
    for (const key of new Set(names.map(normalizeExtra))) {
      const group = extras[key] ?? [];
      extras[key] = group;
      group.push(value);
    }
  }
  return { base, extras, ungrouped };
}

/** `requirement; marker`, with the blank PEP 508 needs after a URL. */
export function joinMarker(requirement: string, marker: string): string {
  return `${requirement}${parseRequirement(requirement).url !== null ? ' ' : ''}; ${marker}`;
}

/** A requirement of extra `extra`, written as a build backend writes it into Requires-Dist. */
export function withExtraMarker(line: string, extra: string): string {
  const split = splitRequirement(line);
  const name = normalizeExtra(extra);
  if (split.marker === null) return joinMarker(split.requirement, `extra == "${name}"`);
  return joinMarker(split.requirement, `(${split.marker}) and extra == "${name}"`);
}
