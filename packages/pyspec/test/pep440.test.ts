import { beforeAll, describe, expect, it } from 'vitest';
import {
  compareVersions,
  isPrerelease,
  isValidVersion,
  normalizeSpecifier,
  normalizeVersion,
  parseVersion,
  satisfies,
  tryParseVersion,
} from '../src/index';
import { genSpecifierSet, genVersion } from './generators';
import { installedMetadataFiles, installedRequirements, rng, runOracle } from './helpers';

// Cross-check against packaging 26: `Version` validity, normalization and order, and
// `SpecifierSet(...)`: validity, `str()` and `contains(v, prereleases=None|True|False)`.

type OracleVersions = { normalized: (string | null)[]; prerelease: (boolean | null)[]; sorted: string[] };
type OracleSpecifier =
  | { ok: true; normalized: string; contains: boolean | 'error' }
  | { ok: false; error: string };

function realVersions(): string[] {
  const out = new Set<string>();
  for (const file of installedMetadataFiles()) {
    const dir = file.split('/').at(-2)!;
    const m = /^[^-]+-(.+)\.(dist|egg)-info$/.exec(dir);
    if (m) out.add(m[1]!);
  }
  // versions inside real specifiers: `foo (>=1.2.3)`, `bar<4,>=2.0rc1`
  for (const req of installedRequirements()) {
    for (const m of req.matchAll(/(?:===|==|!=|~=|<=|>=|<|>)\s*([^\s,;)'"]+)/g))
      out.add(m[1]!.replace(/\.\*$/, ''));
  }
  return [...out];
}

const SPECIAL = [
  '1.0',
  '1.0.0',
  '1',
  '1.0a1',
  '1.0.dev0',
  '1.0a1.dev0',
  '1.0.post0.dev0',
  '1.0.post0',
  '1.0+0',
  '1.0+a',
  '1.0+A.1',
  '1.0+1e5',
  '1.0+0x10',
  '1.0+Infinity',
  '1.0+1.a',
  '1.0+1.a.2',
  '1!0.1',
  '0!1.0',
  'v1.0',
  ' 1.0\n',
  '\u00a01.0\u3000',
  '\ufeff1.0',
  '1.0\u2028',
  '9007199254740993',
  '9007199254740992',
  '1.9007199254740993',
  '1.0-1',
  '1.0_post_1',
  '1.0.rc.1',
  '1.0-r',
  '1.0a-',
  'foo',
  '',
  '1..0',
  '1.0.',
  '.1',
  '1.0+',
  '1.0+a..b',
  '١.٠',
  'ſ1.0',
];

describe('versions against packaging.version', () => {
  let inputs: string[];
  let oracle: { versions: OracleVersions };

  beforeAll(() => {
    const r = rng(440);
    const real = realVersions();
    inputs = [...new Set([...SPECIAL, ...real, ...Array.from({ length: 4000 }, () => genVersion(r))])];
    oracle = runOracle({ versions: inputs });
  });

  it('has thousands of versions, most of them valid', () => {
    expect(inputs.length).toBeGreaterThan(2500);
    expect(oracle.versions.normalized.filter((v) => v !== null).length).toBeGreaterThan(inputs.length * 0.7);
  });

  it('agrees on validity, normalization and pre-release', () => {
    const got = inputs.map((v) => {
      const p = tryParseVersion(v);
      return [p ? normalizeVersion(v) : null, p ? isPrerelease(p) : null, isValidVersion(v)];
    });
    const want = inputs.map((_, i) => [
      oracle.versions.normalized[i],
      oracle.versions.prerelease[i],
      oracle.versions.normalized[i] !== null,
    ]);
    const mismatches = inputs.flatMap((v, i) =>
      JSON.stringify(got[i]) === JSON.stringify(want[i]) ? [] : [{ v, got: got[i], want: want[i] }],
    );
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it('sorts like sorted(key=(Version, str)), invalid versions last by string', () => {
    const sorted = [...inputs].sort(compareVersions);
    const firstDiff = sorted.findIndex((v, i) => v !== oracle.versions.sorted[i]);
    expect(firstDiff === -1 ? null : sorted.slice(Math.max(0, firstDiff - 2), firstDiff + 3)).toEqual(
      firstDiff === -1 ? null : oracle.versions.sorted.slice(Math.max(0, firstDiff - 2), firstDiff + 3),
    );
  });
});

describe('specifiers against packaging.specifiers', () => {
  let cases: [string, string, boolean | null][];
  let oracle: { specifiers: OracleSpecifier[] };

  beforeAll(() => {
    const r = rng(4400);
    const realSpecs = installedRequirements().flatMap((req) => {
      const m = /^[A-Za-z0-9._-]+\s*(?:\[[^\]]*\])?\s*\(?([^;@)]*)/.exec(req);
      return m?.[1]?.trim() ? [m[1].trim()] : [];
    });
    const fixed: [string, string][] = [
      ['2.0a1', '>=1.0'],
      ['1.0', '>1.0a1'],
      ['1.0.post2', '>1.0.post1'],
      ['1.0.post1', '>1.0'],
      ['1.0+local', '>1.0'],
      ['1.0a2+local', '>1.0a1'],
      ['1.0', '<1.0.post1'],
      ['1.0a1', '<1.0'],
      ['0.9a1', '<1.0'],
      ['1.0+1e5', '==1.0'],
      ['1.0+1e5', '==1.0+1e5'],
      ['1!1.0', '>1.0'],
      ['2.0', '!=1.*'],
      ['1.5', '~=1.4.5'],
      ['1.4.9', '~=1.4.5'],
      ['1.4.5a1', '~=1.4.5a1'],
      ['1.4.9', '~=1.4.5c1'],
      ['1.4.9', '~=v1.4.5'],
      ['1.0.0', '===1.0'],
      ['1.0', '===1.0'],
      ['not-a-version', '===Not-A-Version'],
      ['not-a-version', ''],
      ['1.0a1', ''],
      [' 1.0', '>=1.0'],
      ['1.0', '>=1.0,,<2'],
      ['1.0', ', >=1.0'],
      ['1.0', '>= 1.0, >=1.0.0, ~=1.0, ~=1.0.0, ==1.0.*, == 1.0.*'],
      ['1.0', '>=1.0,>=1.0.0'],
      ['1.0.dev1', '<1.0'],
      ['1.0.dev1', '<1.0.dev2'],
      ['1.0.post1.dev1', '>1.0.post0'],
      ['1.0', '==1.0.0.0.0'],
      ['1.0.1', '==1.0.*'],
      ['1.0a1', '==1.0.*'],
      ['1.1a1', '==1.*'],
      ['1!1.0', '==1.*'],
      ['1.0+x', '!=1.0'],
      ['1.0+x', '!=1.0+x'],
      ['9007199254740993', '>9007199254740992'],
      ['1.0', '>=1.0a1'],
      ['1.0', 'lolwat'],
      ['1.0', '>=1.0.*'],
      ['1.0', '==1.0+local.*'],
      ['1.0', '~=1'],
      ['1.0', '<=1.0+local'],
    ];
    const pre = [null, true, false] as const;
    cases = fixed.flatMap(([v, s]) => pre.map((p): [string, string, boolean | null] => [v, s, p]));
    for (let i = 0; i < 5000; i++) {
      const spec = r.chance(0.3) && realSpecs.length ? r.pick(realSpecs) : genSpecifierSet(r);
      cases.push([genVersion(r), spec, r.pick(pre)]);
    }
    oracle = runOracle({ specifiers: cases });
  });

  it('covers matches and misses', () => {
    const ok = oracle.specifiers.filter((o) => o.ok);
    expect(ok.length).toBeGreaterThan(cases.length * 0.4);
    expect(ok.filter((o) => o.contains === true).length).toBeGreaterThan(300);
    expect(ok.filter((o) => o.contains === false).length).toBeGreaterThan(300);
  });

  it('agrees on validity, str(SpecifierSet) and contains', () => {
    const mismatches: unknown[] = [];
    cases.forEach(([version, spec, pre], i) => {
      const want = oracle.specifiers[i]!;
      let got: OracleSpecifier;
      try {
        const normalized = normalizeSpecifier(spec);
        got = {
          ok: true,
          normalized,
          contains: satisfies(version, spec, pre === null ? {} : { prereleases: pre }),
        };
      } catch (err) {
        if ((err as { code?: string }).code !== 'specifier-invalid') throw err;
        got = { ok: false, error: want.ok ? 'specifier-invalid' : want.error };
      }
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ version, spec, pre, got, want });
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});

describe('pep440 API', () => {
  it('parses exactly, beyond 2^53', () => {
    expect(parseVersion('1!2.0rc1.post3.dev4+Ubuntu-1').release).toEqual([2n, 0n]);
    expect(parseVersion('20240101000000000001').release[0]).toBe(20240101000000000001n);
    expect(compareVersions('9007199254740993', '9007199254740992')).toBe(1);
  });

  it('throws version-invalid', () => {
    expect(() => parseVersion('1.0-SNAPSHOT')).toThrow(expect.objectContaining({ code: 'version-invalid' }));
  });

  it('orders equal versions by string, so the order is total', () => {
    expect(['1.0.0', '1.0', '1', 'b', 'a', '0.1'].sort(compareVersions)).toEqual([
      '0.1',
      '1',
      '1.0',
      '1.0.0',
      'a',
      'b',
    ]);
  });

  it('throws specifier-invalid', () => {
    expect(() => satisfies('1.0', '>=1.0.*')).toThrow(expect.objectContaining({ code: 'specifier-invalid' }));
  });
});
