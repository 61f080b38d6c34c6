// Our own check of the requirement strings mach-nix can read, and the readers of a snapshot's
// requirement strings, for the end-to-end tests (issue 11 §5).
//
// mach-nix (DavHau/mach-nix, mach_nix/requirements.py, `parse_reqs` / `parse_reqs_line`) does not
// use a PEP 508 parser: it cuts and cleans each line, then matches it against one regular
// expression, and raises on a line that does not match (which loses the whole release for its
// user). What we learnt from reading it, and what this check demands of a published string:
//
//  1. Everything from the first `#` on is dropped as a comment. A `#` before any `@` would silently
//     cut the requirement, so it is refused.
//  2. Everything from the first `@` on is dropped: a direct reference is read as its bare name
//     (URL and marker lost, mach-nix's choice). What stays must match the name-and-extras form
//     exactly; a blank before the `@` is left at the end and fails, which is why the snapshot
//     publishes `name@ url` (packages/snapshot/src/published-requirement.ts).
//  3. The rest is split at `;` into exactly two parts; a second `;` (inside a marker string)
//     makes the split fail with an exception. Refused.
//  4. The requirement part must be: a name of letters, digits, `.`, `_`, `-`; optional extras in
//     brackets, names of the same characters separated by commas alone (a blank after a comma,
//     `[a, b]`, does not match: the Flask-Session line of the issue); then optional version
//     clauses, optionally in one pair of parentheses, separated by commas, each an operator
//     (`==`, `!=`, `>=`, `<=`, `>`, `<`, `~=`; never `===`, which it has no alternative for) and a
//     version starting with a digit (after at most one letter or `-`), blanks allowed before
//     the operator and before the version but not between a version and the next comma.
//  5. After `;` the marker is taken as it is (distlib evaluates it later); it must not be empty.
//
// Forms it also accepts that PEP 508 does not have (conda-style `name 1.0 build`, a bare
// version, `:` for `;`, a trailing comma) are not accepted here: a published string never needs
// them. This is a check of our output, not a re-implementation of mach-nix.

import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export type MachNixVerdict = { ok: true } | { ok: false; why: string };

const NAME = /^[A-Za-z0-9._-]+/;
const OPERATORS = ['==', '!=', '>=', '<=', '~=', '>', '<'] as const;
const VERSION = /^-?[A-Za-z0-9_]?[0-9][A-Za-z0-9_.*|!+-]*/;

function refuse(why: string): MachNixVerdict {
  return { ok: false, why };
}

/** Name and optional `[extras]` at the start of `text`; the rest, or a reason. */
function nameAndExtras(text: string): { rest: string } | { why: string } {
  const name = NAME.exec(text);
  if (!name) return { why: 'no name at the start' };
  let rest = text.slice(name[0].length);
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return { why: 'extras without a closing bracket' };
    const extras = rest.slice(1, close).split(',');
    if (extras.some((e) => !/^[A-Za-z0-9._-]+$/.test(e)))
      return { why: `extras must be names separated by commas alone: ${rest.slice(0, close + 1)}` };
    rest = rest.slice(close + 1);
  }
  return { rest };
}

/** Version clauses, `>=1.0,<2` or `(>=1.0,<2)`, possibly with blanks before operators and versions. */
function clauses(text: string): string | null {
  let rest = text.replace(/^ */, '');
  if (rest === '') return null;
  const paren = rest.startsWith('(');
  if (paren) rest = rest.slice(1);
  for (;;) {
    rest = rest.replace(/^ */, '');
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op === undefined) return `a version clause must start with one of ${OPERATORS.join(' ')}: ${text}`;
    if (op === '==' && rest.startsWith('===')) return `=== has no form in mach-nix: ${text}`;
    rest = rest.slice(op.length).replace(/^ */, '');
    const version = VERSION.exec(rest);
    if (!version) return `no version after ${op}: ${text}`;
    rest = rest.slice(version[0].length);
    if (!rest.startsWith(',')) break;
    rest = rest.slice(1);
  }
  if (paren) {
    if (!rest.startsWith(')')) return `unclosed parenthesis: ${text}`;
    rest = rest.slice(1);
  }
  return rest.replace(/ *$/, '') === ''
    ? null
    : `unexpected ${JSON.stringify(rest)} after the version clauses`;
}

/** Whether mach-nix's requirement parser reads `line` as we mean it (see the forms above). */
export function machNixAccepts(line: string): MachNixVerdict {
  const at = line.indexOf('@');
  const head = at < 0 ? line : line.slice(0, at);
  if (head.includes('#')) return refuse('a # would cut the line (mach-nix drops comments)');
  if (at >= 0) {
    const r = nameAndExtras(head);
    if ('why' in r) return refuse(r.why);
    if (r.rest !== '') return refuse(`${JSON.stringify(r.rest)} between the name and the @`);
    return { ok: true };
  }
  const parts = line.split(';');
  if (parts.length > 2) return refuse('more than one ; (mach-nix splits the line into two at ;)');
  const [requirement, marker] = [parts[0]!.replace(/['"]/g, ''), parts[1]];
  if (marker !== undefined && marker.trim() === '') return refuse('an empty marker after ;');
  const r = nameAndExtras(requirement);
  if ('why' in r) return refuse(r.why);
  const problem = clauses(r.rest);
  return problem === null ? { ok: true } : refuse(problem);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: Json | undefined): v is { [key: string]: Json } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: Json | undefined): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Every requirement string of one parsed `wheel/XX.json`: `requires_dist` of each entry. */
export function wheelBucketRequirements(bucket: Json): string[] {
  const out: string[] = [];
  if (!isObject(bucket)) return out;
  for (const pyvers of Object.values(bucket))
    for (const versions of Object.values(isObject(pyvers) ? pyvers : {}))
      for (const files of Object.values(isObject(versions) ? versions : {}))
        for (const entry of Object.values(isObject(files) ? files : {}))
          if (isObject(entry)) out.push(...strings(entry.requires_dist));
  return out;
}

/** Every requirement string of one parsed `sdist/XX.json` (install, setup, tests, extras' values). */
export function sdistBucketRequirements(bucket: Json): string[] {
  const out: string[] = [];
  if (!isObject(bucket)) return out;
  for (const versions of Object.values(bucket))
    for (const pyvers of Object.values(isObject(versions) ? versions : {}))
      for (const fields of Object.values(isObject(pyvers) ? pyvers : {})) {
        if (!isObject(fields)) continue;
        out.push(
          ...strings(fields.install_requires),
          ...strings(fields.setup_requires),
          ...strings(fields.tests_require),
        );
        if (isObject(fields.extras_require))
          for (const reqs of Object.values(fields.extras_require)) out.push(...strings(reqs));
      }
  return out;
}

export type PackagingReading = { ok: true; str: string; url: boolean } | { ok: false; error: string };

/**
 * How Python's packaging (>= 26, in `python3`) reads each string (test/oracle/requirements_packaging.py).
 * Fails loudly without it: a skipped check would prove nothing.
 */
export function packagingReads(lines: readonly string[]): PackagingReading[] {
  const r = spawnSync('python3', [path.resolve('test/oracle/requirements_packaging.py')], {
    input: JSON.stringify(lines),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error || r.status !== 0)
    throw new Error(`python3 with packaging >= 26 is needed: ${r.error ?? r.stderr}`);
  return JSON.parse(r.stdout) as PackagingReading[];
}

/**
 * Every requirement string of the `wheel/` and `sdist/` layouts of a published snapshot, and
 * what is wrong with each: packaging must read it and print it unchanged (a direct reference,
 * published `name@ url`, only the same requirement), and mach-nix must read it (`machNixAccepts`).
 */
export async function checkSnapshotRequirements(
  snapshotDir: string,
): Promise<{ strings: string[]; problems: Array<{ line: string; problem: string }> }> {
  const strings: string[] = [];
  for (const [layout, read] of [
    ['wheel', wheelBucketRequirements],
    ['sdist', sdistBucketRequirements],
  ] as const) {
    const dir = path.join(snapshotDir, layout);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.json')))
      strings.push(...read(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Json));
  }
  const unique = [...new Set(strings)];
  const readings = packagingReads(unique);
  const problems: Array<{ line: string; problem: string }> = [];
  unique.forEach((line, i) => {
    const p = readings[i]!;
    if (!p.ok) problems.push({ line, problem: `packaging: ${p.error}` });
    else if (!p.url && p.str !== line)
      problems.push({ line, problem: `not canonical: packaging prints ${p.str}` });
    const m = machNixAccepts(line);
    if (!m.ok) problems.push({ line, problem: `mach-nix: ${m.why}` });
  });
  return { strings, problems };
}
