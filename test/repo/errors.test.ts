// Errors are a contract (issue 13 §5, docs/architecture.md "Errors"): the sources of the packages
// throw no bare `new Error(`. A failure is a CrawlError made by its stage's factory
// (`archiveError(…)`, `sandboxError(…)`), a broken invariant of the code itself is
// `invariantError(…)`; and `new CrawlError(` appears only in packages/core/src/errors.ts, where
// the factories are.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const ERRORS_TS = 'packages/core/src/errors.ts';

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(sourceFiles(p));
    else if (/\.(ts|mts|js|mjs|cjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** The product's packages: test-support is test code (its failures are a test's, not a stored code). */
const TEST_ONLY = new Set(['test-support']);

function packageSources(): string[] {
  const packages = path.join(ROOT, 'packages');
  return readdirSync(packages)
    .filter((p) => !TEST_ONLY.has(p))
    .map((p) => path.join(packages, p, 'src'))
    .filter((src) => statSync(src, { throwIfNoEntry: false })?.isDirectory())
    .flatMap(sourceFiles);
}

/** `file:line: text` of each line of `source` that constructs `Error` itself (with or without `new`). */
function bareErrors(source: string, file: string): string[] {
  const out: string[] = [];
  source.split('\n').forEach((line, i) => {
    if (/(?<![\w$.])(?:new\s+)?Error\s*\(/.test(line.replace(/\/\/.*$/, '')))
      out.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return out;
}

/** Lines that construct a CrawlError directly instead of through a factory. */
function directCrawlErrors(source: string, file: string): string[] {
  const out: string[] = [];
  source.split('\n').forEach((line, i) => {
    if (/\bnew\s+CrawlError\s*\(/.test(line.replace(/\/\/.*$/, '')))
      out.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return out;
}

describe('errors of the packages', () => {
  it('finds what it must and only that', () => {
    expect(bareErrors("throw new Error('x');", 'f')).toEqual(["f:1: throw new Error('x');"]);
    expect(bareErrors('reject(Error(`y`))', 'f')).toHaveLength(1);
    expect(bareErrors('abort(new  Error ("z"))', 'f')).toHaveLength(1);
    expect(
      bareErrors("throw new TypeError('x'); throw invariantError('x'); new CrawlError('a', 'b')", 'f'),
    ).toEqual([]);
    expect(bareErrors("throw archiveError('archive-corrupt', 'x'); // not new Error('x')", 'f')).toEqual([]);
    expect(bareErrors('class XmlRpcSyntaxError extends Error {}', 'f')).toEqual([]);
  });

  it('no source under packages/*/src throws a bare new Error(', () => {
    const files = packageSources();
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((f) => bareErrors(readFileSync(f, 'utf8'), path.relative(ROOT, f)));
    expect(found).toEqual([]);
  });

  it(`creates CrawlErrors only through the factories of ${ERRORS_TS}`, () => {
    const found = packageSources()
      .filter((f) => path.relative(ROOT, f) !== ERRORS_TS)
      .flatMap((f) => directCrawlErrors(readFileSync(f, 'utf8'), path.relative(ROOT, f)));
    expect(found).toEqual([]);
  });
});
