// The failure codes are a contract (issue 13 §5): one list (packages/core/src/errors.ts) gives each
// code its stage, meaning and default hint, and docs/failure-codes.md is that list as a table.
// Every code of the list is documented, every documented code exists, and every `--code C` a doc
// tells a person to type names a code that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FAILURE_CODES, FAILURE_STAGES, isFailureCode } from '@pypi-graph/core';
import { describe, expect, it } from 'vitest';
import { FAILURE_CODES_DOC, renderFailureCodes } from '../../scripts/failure-codes';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The codes in the tables of a failure-codes document: the first cell of each row. */
function documentedCodes(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

/** README.md, docs/*.md and the packages' readmes. */
function docs(): string[] {
  const out = [path.join(ROOT, 'README.md')];
  for (const n of readdirSync(path.join(ROOT, 'docs')))
    if (n.endsWith('.md')) out.push(path.join(ROOT, 'docs', n));
  for (const p of readdirSync(path.join(ROOT, 'packages'))) {
    for (const n of ['readme.md', 'README.md']) {
      const file = path.join(ROOT, 'packages', p, n);
      if (existsSync(file)) out.push(file);
    }
  }
  return out;
}

describe('failure codes', () => {
  it('docs/failure-codes.md is the list (regenerate with: tsx scripts/failure-codes.ts)', () => {
    expect(readFileSync(FAILURE_CODES_DOC, 'utf8')).toBe(renderFailureCodes());
  });

  it('documents every code of the list, once, and no code that does not exist', () => {
    const documented = documentedCodes(readFileSync(FAILURE_CODES_DOC, 'utf8'));
    expect(documented.filter((c) => !isFailureCode(c))).toEqual([]);
    expect([...documented].sort()).toEqual(Object.keys(FAILURE_CODES).sort());
  });

  it('reads the table the way the check relies on', () => {
    expect(
      documentedCodes('| code | retry |\n| `a-b` | no | x | y |\n`c-d` in prose\n| `e` | yes |'),
    ).toEqual(['a-b', 'e']);
  });

  it('gives every code a stage, a one-line meaning and a default hint', () => {
    for (const [code, info] of Object.entries(FAILURE_CODES)) {
      expect(FAILURE_STAGES, code).toContain(info.stage);
      expect(info.meaning, code).toMatch(/^\S.*\S$/);
      expect(info.meaning, code).not.toContain('\n');
      expect(info.hint, code).toMatch(/^\S.*\S$/);
      expect(code, code).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
  });

  it('names only existing codes where the docs say --code', () => {
    const wrong: string[] = [];
    let seen = 0;
    for (const file of docs()) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/--code[ =]([a-z0-9][a-z0-9-]*)/g)) {
        seen++;
        if (!isFailureCode(m[1]!)) wrong.push(`${path.relative(ROOT, file)}: --code ${m[1]}`);
      }
    }
    expect(seen).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });
});
