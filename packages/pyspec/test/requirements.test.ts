import { CrawlError } from '@pypi-graph/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalRequirement,
  evaluateMarker,
  formatRequirement,
  type MarkerNode,
  markerEnvironment,
  markerToString,
  normalizeExtra,
  parseMarker,
  parseRequirement,
} from '../src/index';
import { genMarker, genRequirement, mutate } from './generators';
import { ENVIRONMENTS, EXTRAS, installedRequirements, rng, runOracle } from './helpers';

// Cross-check against packaging 26 (`Requirement`, `Marker`, `Marker.evaluate`): accept/reject must
// agree, and for accepted input the name, extras, normalized specifier, URL, `str(marker)` and the
// marker's value in every environment with every extra.
//
// Deliberate deviations, excluded below and listed in readme.md:
// - `\N{NAME}` escapes in quoted marker strings are rejected (resolving Unicode names needs a
//   database); packaging decodes them.
// - More than 100 nested parentheses are rejected; packaging recurses until Python's recursion
//   limit (about 250 levels) and then fails with RecursionError.
// - Where packaging's regexes are not ASCII-scoped, Python's Unicode case folding lets `ſ` match `s`
//   and `K` (Kelvin) match `k`, and packaging then crashes on the version it accepted; we do not
//   fold non-ASCII letters. Inputs with those characters are left out.
// The old `name (>=1.0)` form needs no deviation: packaging 26 accepts it (checked below).

type Evaluation = (boolean | 'error')[][];
type OracleRequirement =
  | {
      ok: true;
      name: string;
      extras: string[];
      specifier: string;
      url: string | null;
      marker: string | null;
      str: string;
      eval: Evaluation | null;
    }
  | { ok: false; error: string };
type OracleMarker = { ok: true; marker: string; eval: Evaluation } | { ok: false; error: string };

const envs = Object.values(ENVIRONMENTS);

function evaluations(node: MarkerNode): Evaluation {
  return envs.map((env) =>
    EXTRAS.map((extra) => {
      try {
        return evaluateMarker(node, { ...env, extra });
      } catch (err) {
        if (err instanceof CrawlError && err.code === 'marker-invalid') return 'error';
        throw err;
      }
    }),
  );
}

const deviates = (s: string) => /\\N|[ſK]/.test(s);

function corpus() {
  const r = rng(508);
  const real = installedRequirements();
  const generated = Array.from({ length: 3500 }, () => genRequirement(r));
  const mutated = Array.from({ length: 2500 }, () =>
    mutate(r, r.chance(0.5) ? r.pick(real) : r.pick(generated)),
  );
  const fixed = [
    'foo (>=1.0)',
    'foo(>=1.0,<2.0)',
    'foo ( >= 1.0 , < 2.0 )',
    'foo>=1.0;python_version<"3"',
    'foo >=1.0 ; python_version < "3"',
    'foo @ https://x/y.whl ; python_version < "3"',
    'foo @ https://x/y.whl;python_version<"3"',
    'foo@https://x/y.whl',
    'foo @ ',
    'foo[]',
    'foo[ ]',
    'foo[a,]',
    'foo[a b]',
    'foo===anything-goes',
    'foo===',
    'foo===1.0,bar',
    'foo==1.0.*',
    'foo>=1.0.*',
    'foo==1.0+local',
    'foo>=1.0+local',
    'foo~=1',
    'foo\n',
    'foo\n\n',
    '',
    ' ',
    'foo; ((python_version < "3"))',
    'foo; ((os_name == "nt" or os_name == "posix")) and extra == "x"',
    "foo; extra == 'Foo_Bar' or (extra == 'Foo_Bar')",
    'foo; "3.6" < python_version',
    'foo; "a" == "b"',
    'foo; "2.7" == "python_version"',
    'foo; python_version ~= "3"',
    'foo; os_name ~= "nt"',
    'foo; "test" in extras',
    'foo; extras == "x"',
    'foo; python_version in "2.7 3.6"',
    'foo; python_version not in "2.7 3.6"',
    "foo; os_name == 'a\"b'",
    'foo; python_version=="3"and os_name=="nt"',
    'foo; python_version=="3"andos_name=="nt"',
    `foo; ${'('.repeat(90)}python_version < "3"${')'.repeat(90)}`,
  ];
  return [...new Set([...fixed, ...real, ...generated, ...mutated])].filter((s) => !deviates(s));
}

function markerCorpus() {
  const r = rng(685);
  const generated = Array.from({ length: 1500 }, () => genMarker(r));
  const mutated = Array.from({ length: 800 }, () => mutate(r, r.pick(generated)));
  return [...new Set([...generated, ...mutated])].filter((s) => !deviates(s));
}

describe('parseRequirement and markers against packaging', () => {
  let inputs: string[];
  let markerInputs: string[];
  let oracle: { requirements: OracleRequirement[]; markers: OracleMarker[]; names: string[] };
  let real: string[];
  const nameInputs = [
    'Foo_Bar',
    'foo.bar',
    'FOO--bar__baz',
    'a',
    '',
    'Ä_.-x',
    'ZOPE.Interface',
    '-x-',
    'x...y',
  ];

  beforeAll(() => {
    real = installedRequirements();
    inputs = corpus();
    markerInputs = markerCorpus();
    oracle = runOracle({
      requirements: { inputs, envs, extras: EXTRAS },
      markers: { inputs: markerInputs, envs, extras: EXTRAS },
      names: nameInputs,
    });
  });

  it('has a corpus with thousands of inputs, real ones among them', () => {
    expect(real.length).toBeGreaterThan(100);
    expect(inputs.length).toBeGreaterThan(5000);
    const accepted = oracle.requirements.filter((o) => o.ok).length;
    // both outcomes well represented, or the comparison proves little
    expect(accepted).toBeGreaterThan(inputs.length * 0.3);
    expect(inputs.length - accepted).toBeGreaterThan(inputs.length * 0.2);
    expect(oracle.requirements.filter((o) => o.ok && o.marker).length).toBeGreaterThan(1200);
  });

  it('agrees on every requirement', () => {
    const mismatches: unknown[] = [];
    inputs.forEach((input, i) => {
      const want = oracle.requirements[i]!;
      let got: OracleRequirement;
      try {
        const r = parseRequirement(input);
        got = {
          ok: true,
          name: r.name,
          extras: r.extras,
          specifier: r.specifier,
          url: r.url,
          marker: r.markerText,
          str: formatRequirement(r),
          eval: r.marker ? evaluations(r.marker) : null,
        };
      } catch (err) {
        if (!(err instanceof CrawlError) || err.code !== 'requirement-invalid') throw err;
        got = { ok: false, error: want.ok ? 'requirement-invalid' : want.error };
      }
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ input, got, want });
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  // The spelling the snapshot publishes (packages/snapshot): packaging's str(), made a fixed
  // point of it with the same meaning. Checked by packaging itself: it prints each canonical text
  // unchanged, reads the same name, extras, specifier and URL from it, and its marker decides
  // alike in every environment with every extra. Without a double group `((…))` (whose meaning
  // str() loses), it is exactly what applying str() until it no longer changes gives.
  it('canonicalRequirement: a fixed point of str(Requirement) that means the same', () => {
    const accepted = inputs.filter((_, i) => oracle.requirements[i]!.ok);
    const wants = inputs
      .map((_, i) => oracle.requirements[i]!)
      .filter((o): o is Extract<OracleRequirement, { ok: true }> => o.ok);
    const canonical = accepted.map((input) => canonicalRequirement(input));
    const again = runOracle<{
      requirements: OracleRequirement[];
      requirementStrs: (string | null)[];
      requirementFixedPoints: (string | null)[];
    }>({
      requirements: { inputs: canonical.map((c) => c ?? ''), envs, extras: EXTRAS },
      requirementStrs: canonical.map((c) => c ?? ''),
      requirementFixedPoints: accepted,
    });
    const doubleGroup = /\(\s*\(/;
    const mismatches: unknown[] = [];
    let unchanged = 0;
    let notStr = 0;
    accepted.forEach((input, j) => {
      const want = wants[j]!;
      const c = canonical[j];
      // No canonical spelling only for a marker string that str() cannot print back: one
      // holding a backslash, a quote or a control character.
      if (c === null) {
        if (!/\\|'[^']*"/.test(input)) mismatches.push({ input, c });
        return;
      }
      const reread = again.requirements[j]!;
      if (again.requirementStrs[j] !== c) mismatches.push({ input, c, str: again.requirementStrs[j] });
      if (
        !reread.ok ||
        reread.name !== want.name ||
        JSON.stringify([reread.extras, reread.specifier, reread.url, reread.eval]) !==
          JSON.stringify([want.extras, want.specifier, want.url, want.eval])
      ) {
        mismatches.push({ input, c, want, reread });
      }
      if (!doubleGroup.test(input) && c !== again.requirementFixedPoints[j]) {
        mismatches.push({ input, c, fixedPoint: again.requirementFixedPoints[j] });
      }
      if (c === input) unchanged++;
      if (c !== want.str) notStr++;
      // Already canonical: kept byte for byte.
      if (want.str === input && c !== input) mismatches.push({ input, c, kept: false });
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(unchanged).toBeGreaterThan(100);
    expect(accepted.length - unchanged).toBeGreaterThan(1000);
    expect(notStr).toBeGreaterThan(0);
  });

  it('agrees on every marker', () => {
    const mismatches: unknown[] = [];
    markerInputs.forEach((input, i) => {
      const want = oracle.markers[i]!;
      let got: OracleMarker;
      try {
        const m = parseMarker(input);
        got = { ok: true, marker: markerToString(m), eval: evaluations(m) };
      } catch (err) {
        if (!(err instanceof CrawlError) || err.code !== 'marker-invalid') throw err;
        got = { ok: false, error: want.ok ? 'marker-invalid' : want.error };
      }
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ input, got, want });
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(oracle.markers.filter((o) => o.ok).length).toBeGreaterThan(markerInputs.length * 0.5);
  });

  it('normalizes extras like packaging.utils.canonicalize_name (PEP 685)', () => {
    expect(nameInputs.map(normalizeExtra)).toEqual(oracle.names);
  });
});

describe('parseRequirement', () => {
  it('reads both specifier forms', () => {
    expect(parseRequirement('acos-client (>=1.4.6)')).toMatchObject({
      name: 'acos-client',
      specifier: '>=1.4.6',
    });
    expect(parseRequirement('acos-client>=1.4.6,<2')).toMatchObject({ specifier: '<2,>=1.4.6' });
  });

  it('reads URLs, extras and markers', () => {
    expect(parseRequirement('Pkg[b, a,a] @ git+https://h/r.git ; os_name=="nt"')).toEqual({
      name: 'Pkg',
      extras: ['a', 'b'],
      specifier: '',
      url: 'git+https://h/r.git',
      marker: expect.anything(),
      markerText: 'os_name == "nt"',
    });
  });

  it('throws requirement-invalid', () => {
    for (const bad of ['', 'foo (>=1.0', 'foo>=1.0.*', 'foo; os_name', 'foo bar', '-foo', 'foo @']) {
      expect(() => parseRequirement(bad), bad).toThrow(
        expect.objectContaining({ code: 'requirement-invalid' }),
      );
    }
  });
});

describe('canonicalRequirement', () => {
  it('spells requirements as packaging prints them, keeping what is already canonical', () => {
    expect(
      canonicalRequirement('Flask-Session[cachelib, memcached, mongodb, redis, sqlalchemy] ; extra == "all"'),
    ).toBe('Flask-Session[cachelib,memcached,mongodb,redis,sqlalchemy]; extra == "all"');
    expect(canonicalRequirement("sphinx (>=3.5) ; extra == 'docs'")).toBe('sphinx>=3.5; extra == "docs"');
    expect(canonicalRequirement('requests>=2.20,<3')).toBe('requests<3,>=2.20');
    expect(canonicalRequirement('requests<3,>=2.20')).toBe('requests<3,>=2.20');
    expect(canonicalRequirement('x@https://h/x.tgz ;os_name=="nt"')).toBe(
      'x @ https://h/x.tgz ; os_name == "nt"',
    );
    expect(canonicalRequirement('a (')).toBeNull();
    expect(canonicalRequirement(`a; os_name == 'x"y'`)).toBeNull();
  });

  it('keeps the meaning of a double group, which str() loses, and normalizes its extras', () => {
    expect(canonicalRequirement('a; ((os_name == "a" or os_name == "b")) and python_version == "3"')).toBe(
      'a; (os_name == "a" or os_name == "b") and python_version == "3"',
    );
    expect(canonicalRequirement('a; ((extra == "Foo_Bar" or extra == "x"))')).toBe(
      'a; extra == "foo-bar" or extra == "x"',
    );
  });
});

describe('markers', () => {
  it('normalizes legacy names and formats like str(Marker)', () => {
    expect(
      markerToString(
        parseMarker("os.name=='nt' and (python_implementation=='PyPy' or sys.platform=='win32')"),
      ),
    ).toBe('os_name == "nt" and (platform_python_implementation == "PyPy" or sys_platform == "win32")');
  });

  it('formats like packaging even where its str() loses a grouping (evaluate the node, not the text)', () => {
    const m = parseMarker('((os_name == "a" or os_name == "b")) and python_version == "3"');
    expect(markerToString(m)).toBe('os_name == "a" or os_name == "b" and python_version == "3"');
    const env = { ...markerEnvironment('2.7.18', 'linux'), os_name: 'a' };
    expect(evaluateMarker(m, env)).toBe(false);
    expect(evaluateMarker(parseMarker(markerToString(m)), env)).toBe(true);
  });

  it('evaluates extras with PEP 685 normalization', () => {
    const m = parseMarker('extra == "Foo.Bar"');
    expect(evaluateMarker(m, markerEnvironment('3.8.10', 'linux', 'foo_bar'))).toBe(true);
    expect(evaluateMarker(m, markerEnvironment('3.8.10', 'linux'))).toBe(false);
  });

  it('compares versions as versions and the rest as strings', () => {
    const env = markerEnvironment('3.10.2', 'linux');
    expect(evaluateMarker(parseMarker('python_version > "3.9"'), env)).toBe(true); // "3.10" > "3.9" as strings is false
    expect(evaluateMarker(parseMarker('python_full_version >= "3.10.2"'), env)).toBe(true);
    expect(evaluateMarker(parseMarker('sys_platform > "a"'), env)).toBe(false);
    expect(evaluateMarker(parseMarker('"linux" in sys_platform'), env)).toBe(true);
  });

  it('throws marker-invalid for undefined comparisons and bad input', () => {
    const env = markerEnvironment('3.10.2', 'linux');
    expect(() => evaluateMarker(parseMarker('os_name ~= "posix"'), env)).toThrow(
      expect.objectContaining({ code: 'marker-invalid' }),
    );
    expect(() => parseMarker('os_name = "posix"')).toThrow(
      expect.objectContaining({ code: 'marker-invalid' }),
    );
    expect(() => parseMarker(`${'('.repeat(150)}os_name == "x"${')'.repeat(150)}`)).toThrow(
      expect.objectContaining({ code: 'marker-invalid' }),
    );
  });
});
