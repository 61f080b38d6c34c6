import { CrawlError, metadataError } from '@pypi-graph/core';
import {
  type MarkerNode,
  type MarkerTerm,
  markerToString,
  normalizeExtraValues,
  parseMarkerExpression,
} from './markers';
import { normalizeSpecifier } from './pep440';
import { compareCodePoints } from './python-str';
import { ParserSyntaxError, Tokenizer } from './tokenizer';

// https://peps.python.org/pep-0508/ — the grammar as packaging 26 implements it
// (`packaging.requirements.Requirement`, `packaging._parser.parse_requirement`), which is what pip
// accepts. It takes both `name>=1.0` and the old `name (>=1.0)` form.

/** A parsed dependency specifier. */
export interface Requirement {
  /** The distribution name as written (normalize with pep503Name to compare). */
  name: string;
  /** Extras, de-duplicated and sorted (as `str(Requirement)` writes them), not normalized. */
  extras: string[];
  /** The specifier set as `str(SpecifierSet)` writes it (`>=1.0, <2` → `<2,>=1.0`); "" for none. */
  specifier: string;
  /** The URL of a direct reference (`name @ url`), verbatim. */
  url: string | null;
  marker: MarkerNode | null;
  /** `str(marker)`: the normalized marker text. */
  markerText: string | null;
}

function parseExtrasList(t: Tokenizer): string[] {
  const extras: string[] = [];
  if (!t.check('IDENTIFIER')) return extras;
  extras.push(t.read().text);
  for (;;) {
    t.consume('WS');
    if (t.check('IDENTIFIER', true)) t.raise('Expected comma between extra names');
    else if (!t.check('COMMA')) break;
    t.read();
    t.consume('WS');
    extras.push(t.expect('IDENTIFIER', 'extra name after comma').text);
  }
  return extras;
}

function parseExtras(t: Tokenizer): string[] {
  if (!t.check('LEFT_BRACKET', true)) return [];
  return t.enclosing('LEFT_BRACKET', 'RIGHT_BRACKET', 'extras', () => {
    t.consume('WS');
    const extras = parseExtrasList(t);
    t.consume('WS');
    return extras;
  });
}

function parseVersionMany(t: Tokenizer): string {
  let specifiers = '';
  while (t.check('SPECIFIER')) {
    const spanStart = t.position;
    specifiers += t.read().text;
    if (t.check('VERSION_PREFIX_TRAIL', true)) {
      t.raise('.* suffix can only be used with `==` or `!=` operators', spanStart, t.position + 1);
    }
    if (t.check('VERSION_LOCAL_LABEL_TRAIL', true)) {
      t.raise('Local version label can only be used with `==` or `!=` operators', spanStart, t.position);
    }
    t.consume('WS');
    if (!t.check('COMMA')) break;
    specifiers += t.read().text;
    t.consume('WS');
  }
  return specifiers;
}

function parseSpecifier(t: Tokenizer): string {
  return t.enclosing('LEFT_PARENTHESIS', 'RIGHT_PARENTHESIS', 'version specifier', () => {
    t.consume('WS');
    const specifiers = parseVersionMany(t);
    t.consume('WS');
    return specifiers;
  });
}

function parseRequirementMarker(t: Tokenizer, spanStart: number, expected: string): MarkerNode {
  if (!t.check('SEMICOLON')) t.raise(`Expected ${expected} or end`, spanStart);
  t.read();
  const marker = parseMarkerExpression(t);
  t.consume('WS');
  return marker;
}

function parseDetails(t: Tokenizer): { url: string; specifier: string; marker: MarkerNode | null } {
  if (t.check('AT')) {
    t.read();
    t.consume('WS');
    const urlStart = t.position;
    const url = t.expect('URL', 'URL after @').text;
    if (t.check('END', true)) return { url, specifier: '', marker: null };
    t.expect('WS', 'whitespace after URL');
    if (t.check('END', true)) return { url, specifier: '', marker: null };
    return {
      url,
      specifier: '',
      marker: parseRequirementMarker(t, urlStart, 'semicolon (after URL and whitespace)'),
    };
  }
  const specifierStart = t.position;
  const specifier = parseSpecifier(t);
  t.consume('WS');
  if (t.check('END', true)) return { url: '', specifier, marker: null };
  const expected = specifier
    ? 'comma (within version specifier), semicolon (after version specifier)'
    : 'semicolon (after name with no version specifier)';
  return { url: '', specifier, marker: parseRequirementMarker(t, specifierStart, expected) };
}

/** Parses a PEP 508 dependency specifier (`name[extra] (>=1.0) ; marker`); throws `requirement-invalid`. */
export function parseRequirement(text: string): Requirement {
  try {
    const t = new Tokenizer(text);
    t.consume('WS');
    const name = t.expect('IDENTIFIER', 'package name at the start of dependency specifier').text;
    t.consume('WS');
    const extras = parseExtras(t);
    t.consume('WS');
    const details = parseDetails(t);
    t.expect('END', 'end of dependency specifier');
    const marker = details.marker ? normalizeExtraValues(details.marker) : null;
    return {
      name,
      extras: [...new Set(extras)].sort(compareCodePoints),
      // packaging builds SpecifierSet(...) from the concatenated clauses; an `===` clause may have
      // swallowed a comma and something that is no clause, which SpecifierSet then rejects.
      specifier: normalizeSpecifier(details.specifier),
      url: details.url || null,
      marker,
      markerText: marker ? markerToString(marker) : null,
    };
  } catch (err) {
    if (err instanceof ParserSyntaxError || (err instanceof CrawlError && err.code === 'specifier-invalid')) {
      throw metadataError(
        'requirement-invalid',
        `invalid requirement ${JSON.stringify(text.slice(0, 200))}: ${err.message}`,
      );
    }
    throw err;
  }
}

/**
 * `str(Requirement(text))` as packaging 26 writes it, from a parsed requirement: the name as
 * written, `[extras]` sorted, the specifier set sorted (`<2,>=1.0`), ` @ url`, `; marker` (after
 * a URL with the blank PEP 508 needs before `;`).
 */
export function formatRequirement(r: Requirement): string {
  let out = r.name;
  if (r.extras.length > 0) out += `[${r.extras.join(',')}]`;
  out += r.specifier;
  if (r.url !== null) out += r.markerText === null ? ` @ ${r.url}` : ` @ ${r.url} `;
  if (r.markerText !== null) out += `; ${r.markerText}`;
  return out;
}

/**
 * A group that holds nothing but another group, `((a or b))`, is that group: packaging's `str()`
 * prints such a double group without any parentheses, which changes its meaning next to another
 * term (`((a or b)) and c` → `a or b and c`); printed after this, it keeps its one pair.
 */
function collapseGroups(term: MarkerTerm): MarkerTerm {
  if (term.kind === 'comparison') return term;
  let e = term;
  while (e.terms.length === 1 && e.terms[0]!.kind === 'expression') e = e.terms[0] as MarkerNode;
  return { ...e, terms: e.terms.map(collapseGroups) };
}

function formatCollapsed(r: Requirement): string {
  const marker = r.marker === null ? null : (collapseGroups(r.marker) as MarkerNode);
  return formatRequirement({ ...r, marker, markerText: marker === null ? null : markerToString(marker) });
}

/**
 * The canonical PEP 508 spelling of a requirement: the text packaging 26 prints for it
 * (`str(Requirement(text))`) and prints unchanged when it reads it again (a fixed point: a text
 * that is already canonical is returned as it is). Two corrections make it a fixed point with the
 * same meaning: a double group keeps one pair of parentheses (see `collapseGroups`), and `str()`
 * is applied until it no longer changes (an `extra` compared inside a group that lost its
 * parentheses is then normalized, PEP 685, as packaging does at the top level).
 *
 * Null when the text is no requirement, or has no canonical spelling: a marker string holding a
 * `"`, which packaging prints between double quotes, unreadably.
 */
export function canonicalRequirement(text: string): string | null {
  let out: string;
  try {
    out = formatCollapsed(parseRequirement(text));
    // Printed as it was written: reading it again gives the same, a fixed point already.
    if (out === text) return out;
    for (let i = 0; i < 4; i++) {
      const next = formatCollapsed(parseRequirement(out));
      if (next === out) return out;
      out = next;
    }
  } catch (err) {
    if (err instanceof CrawlError && err.code === 'requirement-invalid') return null;
    throw err;
  }
  return null;
}
