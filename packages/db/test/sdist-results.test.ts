import { describe, expect, it } from 'vitest';
import { type SdistExtractionRows, type SdistProjectRows, sdistResults } from '../src/index';

// Which stored result each Python key of an sdist publishes (docs/architecture.md §7): the rows
// are shaped as `sdistBucket` gives them (its extractions ordered by Python key, method, id).

type Req = SdistExtractionRows['requirements'][number];
const install = (requirement: string): Req => ({ kind: 'install', extra: null, requirement });
const python = (requirement: string): Req => ({ kind: 'python', extra: null, requirement });
const extra = (name: string, requirement: string): Req => ({ kind: 'extra', extra: name, requirement });

const ok = (pythonKey: string, method: string, requirements: Req[] = []): SdistExtractionRows => ({
  pythonKey,
  method,
  status: 'ok',
  failureCode: null,
  log: null,
  requirements,
});
const failed = (
  pythonKey: string,
  method: string,
  failureCode: string,
  log: string | null,
): SdistExtractionRows => ({
  pythonKey,
  method,
  status: 'failed',
  failureCode,
  log,
  requirements: [],
});

/** The results of one release whose sdist has these extractions, as a plain object. */
function resultsOf(...extractions: SdistExtractionRows[]): Record<string, unknown> {
  const project: SdistProjectRows = {
    name: 'Demo',
    releases: [{ version: '1.0', filename: 'demo-1.0.tar.gz', extractions }],
  };
  const out = sdistResults(project);
  expect(out.name).toBe('Demo');
  expect(out.releases.map((r) => r.version)).toEqual(['1.0']);
  return Object.fromEntries(out.releases[0]!.results);
}

const ALL = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

describe('sdistResults: the result each Python key publishes', () => {
  it('static metadata wins over every setup.py run, for each key its Requires-Python allows', () => {
    const r = resultsOf(
      ok('any', 'pkg-info', [install('requests>=2'), python('>=3.8')]),
      ok('27', 'setup.py', [install('from-setup-py')]),
      ok('311', 'setup.py', [install('from-setup-py')]),
      failed('312', 'setup.py', 'setup-py-error', 'boom'),
    );
    // 2.7, 3.6 and 3.7 are excluded by Requires-Python: no entry at all, not the setup.py run's
    expect(Object.keys(r)).toEqual(['38', '39', '310', '311', '312', '313']);
    for (const key of Object.keys(r)) {
      expect(r[key]).toEqual({ ok: { install_requires: ['requests>=2'], python_requires: ['>=3.8'] } });
    }
  });

  it('reads Requires-Python per interpreter line: any patch release of the key may satisfy it', () => {
    const keysFor = (spec: string) => Object.keys(resultsOf(ok('any', 'pyproject', [python(spec)])));
    expect(keysFor('<3')).toEqual(['27']);
    expect(keysFor('>=3.8.5')).toEqual(['38', '39', '310', '311', '312', '313']); // 3.8.99 satisfies it
    expect(keysFor('>=3.6,<3.9')).toEqual(['36', '37', '38']);
    expect(keysFor('!=3.7.*')).toEqual(ALL.filter((k) => k !== '37'));
    // unreadable: filters nothing, as pip ignores it
    expect(keysFor('>=three')).toEqual(ALL);
  });

  it('without static metadata, each key gets its own run: ok as fields, a failure as its log', () => {
    const r = resultsOf(
      ok('27', 'setup.py', [install('six')]),
      ok('36', 'pep517', [install('attrs')]),
      failed('37', 'setup.py', 'setup-py-error', "ModuleNotFoundError: No module named 'numpy'"),
      failed('38', 'setup.py', 'sandbox-timeout', ''), // no log: the failure code
      // a run of another method at a key is not a result of that key
      ok('39', 'wheel', [install('not-this')]),
    );
    expect(r).toEqual({
      '27': { ok: { install_requires: ['six'] } },
      '36': { ok: { install_requires: ['attrs'] } },
      '37': { error: "ModuleNotFoundError: No module named 'numpy'" },
      '38': { error: 'sandbox-timeout' },
    });
  });

  it("a failed static read gives its failure to the keys that have no run, and a run's result beats it", () => {
    const r = resultsOf(
      failed('any', 'sdist', 'archive-bomb', 'too many entries'),
      ok('311', 'setup.py', [install('six')]),
      failed('312', 'setup.py', 'setup-py-error', 'boom'),
    );
    expect(r['311']).toEqual({ ok: { install_requires: ['six'] } });
    expect(r['312']).toEqual({ error: 'boom' });
    for (const key of ALL.filter((k) => k !== '311' && k !== '312'))
      expect(r[key]).toEqual({ error: 'too many entries' });
  });

  it('a static result beats a static failure, whichever comes first', () => {
    const fine = ok('any', 'pkg-info', [install('six')]);
    const broken = failed('any', 'sdist', 'metadata-invalid', 'bad');
    for (const order of [
      [broken, fine],
      [fine, broken],
    ]) {
      const r = resultsOf(...order);
      expect(Object.keys(r)).toEqual(ALL);
      expect(r['27']).toEqual({ ok: { install_requires: ['six'] } });
    }
  });

  it('ties: of two results for one key, the first in the query order wins', () => {
    // sdistBucket orders by (python key, method, id): `pep517` before `setup.py`
    const r = resultsOf(
      failed('311', 'pep517', 'missing-build-dependency', 'no hatchling'),
      ok('311', 'setup.py', [install('six')]),
      ok('any', 'flit', [install('first')]),
      ok('any', 'pkg-info', [install('second')]),
    );
    expect(r['311']).toEqual({ ok: { install_requires: ['first'] } }); // static wins anyway
    const runs = resultsOf(
      failed('311', 'pep517', 'missing-build-dependency', 'no hatchling'),
      ok('311', 'setup.py', [install('six')]),
    );
    expect(runs).toEqual({ '311': { error: 'no hatchling' } });
  });

  it('no result and no failure (a file waiting for a sandbox has no rows): no key at all', () => {
    expect(resultsOf()).toEqual({});
  });

  it('fields: empty ones left out, extras in first-seen order, an extra without requirements kept', () => {
    const r = resultsOf(
      ok('27', 'setup.py', [
        install('a'),
        { kind: 'setup', extra: null, requirement: 'pbr' },
        extra('test', 'pytest'),
        extra('docs', ''), // an extra that exists with no requirement
        extra('test', 'mock'),
        { kind: 'test', extra: null, requirement: 'nose' },
        python('>=2.7'),
      ]),
      ok('36', 'setup.py'),
    );
    expect(r['27']).toEqual({
      ok: {
        install_requires: ['a'],
        setup_requires: ['pbr'],
        extras_require: [
          ['test', ['pytest', 'mock']],
          ['docs', []],
        ],
        tests_require: ['nose'],
        python_requires: ['>=2.7'],
      },
    });
    expect(r['36']).toEqual({ ok: {} }); // crawled, no dependencies
  });

  it('keeps releases and their order, each decided on its own', () => {
    const out = sdistResults({
      name: 'demo',
      releases: [
        { version: '2.0', filename: 'demo-2.0.tar.gz', extractions: [ok('any', 'pkg-info')] },
        {
          version: '1.0',
          filename: 'demo-1.0.zip',
          extractions: [failed('27', 'setup.py', 'setup-py-error', 'x')],
        },
      ],
    });
    expect(out.releases.map((r) => [r.version, [...r.results.keys()]])).toEqual([
      ['2.0', ALL],
      ['1.0', ['27']],
    ]);
  });
});
