import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublishedSdistDeps, SdistProject, SdistResult } from '@pypi-graph/model';
import { bucketOf, dumpPython, machNixName, type PyObject } from '@pypi-graph/pyspec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildSdistBucket,
  buildSdistBucketValue,
  type PypiProject,
  publishSnapshot,
  type SnapshotSource,
} from '../src/index';
import { oracleScript, prng, runPython, tempDir } from './helpers';

const ok = (fields: PublishedSdistDeps = {}): SdistResult => ({ ok: fields });
const err = (error: string): SdistResult => ({ error });
/** The same result for each Python key. */
const all = (result: SdistResult, keys = ['27', '36', '37', '38', '39', '310']) =>
  new Map(keys.map((k) => [k, result]));

const A = ok({ install_requires: ['beautifulsoup4', 'geopandas'] });
const B = ok({ install_requires: ['beautifulsoup4>=4.7.0'] });
const C = ok({ install_requires: ['requests'], python_requires: ['>=3.6'] });

// Hand-written cases (docs/formats.md §B1, §B3), one rule each; given out of order on purpose.
const PROJECTS: SdistProject[] = [
  {
    name: 'Foo_Bar', // key foo-bar
    releases: [
      // integer-like versions in PEP 440 order: 1 < 2 < 10 < 2048; a non-PEP 440 one last
      { version: 'not a version', results: all(ok()) },
      { version: '2048', results: all(ok(), ['313', '27']) },
      {
        version: '10',
        // Python keys in interpreter order whatever the input order; 311-313 included
        results: new Map([
          ['313', ok({ setup_requires: ['setuptools_scm'] })],
          ['27', err('SyntaxError: invalid syntax')],
          ['310', ok({ setup_requires: ['setuptools_scm'] })],
          ['311', ok({ install_requires: ['x'] })],
          ['36', err("ModuleNotFoundError: No module named 'aiohttp'")],
          ['312', err("ModuleNotFoundError: No module named 'aiohttp'")],
          ['37', ok({ install_requires: ['x'] })],
        ]),
      },
      // every field, in pkg_to_dict order whatever the input order; extras keep their order,
      // `:marker` keys and an extra without requirements ([]) included; requirement strings in
      // their canonical spelling (`PySocks>=1.5.6, !=1.5.7` → `PySocks!=1.5.7,>=1.5.6`), an
      // invalid one (`café`) and python_requires as given
      {
        version: '2',
        results: new Map([
          [
            '38',
            ok({
              python_requires: ['>=2.7', '!=3.0.*'],
              tests_require: ['pytest'],
              extras_require: [
                ['socks', ['PySocks>=1.5.6, !=1.5.7']],
                [':python_version < "3"', ['enum34']],
                ['', ['idna']],
                ['empty', []],
                ['security:sys_platform == "win32"', ['pywin32']],
              ],
              setup_requires: [],
              install_requires: ['six', 'caf\u00e9'],
            }),
          ],
          // the same dict with extras in another order is equal (Python ==): a reference
          [
            '39',
            ok({
              install_requires: ['six', 'caf\u00e9'],
              tests_require: ['pytest'],
              python_requires: ['>=2.7', '!=3.0.*'],
              extras_require: [
                ['', ['idna']],
                ['empty', []],
                [':python_version < "3"', ['enum34']],
                ['security:sys_platform == "win32"', ['pywin32']],
                ['socks', ['PySocks>=1.5.6, !=1.5.7']],
              ],
            }),
          ],
          // an empty extras_require and empty lists are left out: {}
          ['27', ok({ extras_require: [], install_requires: [], tests_require: [] })],
        ]),
      },
      // " 1 " strips to "1"; "1 " after it has the same key and is dropped
      { version: ' 1 ', results: all(ok(), ['313', '27']) },
      { version: '1 ', results: all(err('dropped')) },
      // errors only
      {
        version: '1.0',
        results: new Map([
          ['36', err('E')],
          ['310', err('E')],
        ]),
      },
    ],
  },
  { name: 'nothing', releases: [{ version: '1', results: new Map() }] }, // omitted from both
  {
    name: 'AfricanElephantDatabaseDataDownloader',
    releases: [
      { version: '1.1', results: all(C) },
      { version: '1.0.dev0', results: all(C) },
      { version: '0.10', results: all(B) },
      { version: '0.0.6', results: all(B) },
      { version: '0.0.5', results: all(B) },
      { version: '0.0.4', results: all(A, ['27', '36', '37', '38', '39', '310', '311', '312', '313']) },
    ],
  },
  {
    name: 'aioimdb', // errors only: absent from sdist/
    releases: [
      {
        version: '1.0.2',
        results: new Map([
          ['27', err('SyntaxError: invalid syntax')],
          ...['36', '37', '38', '39', '310'].map(
            (k) => [k, err("ModuleNotFoundError: No module named 'aiohttp'")] as const,
          ),
        ]),
      },
      { version: '1.0.3', results: all(err('SyntaxError: invalid syntax'), ['27']) },
      { version: '1.0.10', results: all(err('SyntaxError: invalid syntax'), ['27']) },
      // refers forwards to the shorter key
      { version: '0.9.99', results: all(err('SyntaxError: invalid syntax'), ['27']) },
    ],
  },
];

const EXPECTED_SDIST = [
  '{',
  '  "africanelephantdatabasedatadownloader": {',
  '    "0.0.4": {',
  '      "27": {',
  '        "install_requires": [',
  '          "beautifulsoup4",',
  '          "geopandas"',
  '        ]',
  '      },',
  '      "36": "27",',
  '      "37": "27",',
  '      "38": "27",',
  '      "39": "27",',
  '      "310": "27",',
  '      "311": "27",',
  '      "312": "27",',
  '      "313": "27"',
  '    },',
  '    "0.0.5": "0.10",',
  '    "0.0.6": "0.10",',
  '    "0.10": {',
  '      "27": {',
  '        "install_requires": [',
  '          "beautifulsoup4>=4.7.0"',
  '        ]',
  '      },',
  '      "36": "27",',
  '      "37": "27",',
  '      "38": "27",',
  '      "39": "27",',
  '      "310": "27"',
  '    },',
  '    "1.0.dev0": "1.1",',
  '    "1.1": {',
  '      "27": {',
  '        "install_requires": [',
  '          "requests"',
  '        ],',
  '        "python_requires": [',
  '          ">=3.6"',
  '        ]',
  '      },',
  '      "36": "27",',
  '      "37": "27",',
  '      "38": "27",',
  '      "39": "27",',
  '      "310": "27"',
  '    }',
  '  },',
  '  "foo-bar": {',
  '    "1": {',
  '      "27": {},',
  '      "313": "27"',
  '    },',
  '    "2": {',
  '      "27": {},',
  '      "38": {',
  '        "install_requires": [',
  '          "six",',
  '          "caf\\u00e9"',
  '        ],',
  '        "extras_require": {',
  '          "socks": [',
  '            "PySocks!=1.5.7,>=1.5.6"',
  '          ],',
  '          ":python_version < \\"3\\"": [',
  '            "enum34"',
  '          ],',
  '          "": [',
  '            "idna"',
  '          ],',
  '          "empty": [],',
  '          "security:sys_platform == \\"win32\\"": [',
  '            "pywin32"',
  '          ]',
  '        },',
  '        "tests_require": [',
  '          "pytest"',
  '        ],',
  '        "python_requires": [',
  '          ">=2.7",',
  '          "!=3.0.*"',
  '        ]',
  '      },',
  '      "39": "38"',
  '    },',
  '    "10": {',
  '      "37": {',
  '        "install_requires": [',
  '          "x"',
  '        ]',
  '      },',
  '      "310": {',
  '        "setup_requires": [',
  '          "setuptools_scm"',
  '        ]',
  '      },',
  '      "311": "37",',
  '      "313": "310"',
  '    },',
  '    "2048": "1",',
  '    "not a version": {',
  '      "27": {},',
  '      "36": "27",',
  '      "37": "27",',
  '      "38": "27",',
  '      "39": "27",',
  '      "310": "27"',
  '    }',
  '  }',
  '}',
].join('\n');

const EXPECTED_ERRORS = [
  '{',
  '  "aioimdb": {',
  '    "0.9.99": "1.0.3",',
  '    "1.0.2": {',
  '      "27": "SyntaxError: invalid syntax",',
  '      "36": "ModuleNotFoundError: No module named \'aiohttp\'",',
  '      "37": "36",',
  '      "38": "36",',
  '      "39": "36",',
  '      "310": "36"',
  '    },',
  '    "1.0.3": {',
  '      "27": "SyntaxError: invalid syntax"',
  '    },',
  '    "1.0.10": "1.0.3"',
  '  },',
  '  "foo-bar": {',
  '    "1.0": {',
  '      "36": "E",',
  '      "310": "36"',
  '    },',
  '    "10": {',
  '      "27": "SyntaxError: invalid syntax",',
  '      "36": "ModuleNotFoundError: No module named \'aiohttp\'",',
  '      "312": "36"',
  '    }',
  '  }',
  '}',
].join('\n');

async function* yieldAll<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('buildSdistBucket', () => {
  it('writes the pypi-deps-db sdist/ and sdist-errors/ layouts', async () => {
    const sdist = await buildSdistBucket(yieldAll(PROJECTS), 'sdist');
    expect(sdist.json).toBe(EXPECTED_SDIST);
    expect(sdist.counts).toEqual({ projects: 2, releases: 11, files: 56 });
    const errors = await buildSdistBucket(yieldAll(PROJECTS), 'sdist-errors');
    expect(errors.json).toBe(EXPECTED_ERRORS);
    expect(errors.counts).toEqual({ projects: 2, releases: 6, files: 14 });
  });

  it('does not depend on the order projects, releases and results arrive in', async () => {
    const reversed = [...PROJECTS].reverse().map((p) => ({
      ...p,
      // " 1 " must stay before "1 " (the first raw version of a key keeps it)
      releases: [...p.releases]
        .reverse()
        .sort((a, b) => Number(b.version === ' 1 ') - Number(a.version === ' 1 ')),
    }));
    const shuffled = reversed.map((p) => ({
      ...p,
      releases: p.releases.map((r) => ({ ...r, results: new Map([...r.results].reverse()) })),
    }));
    expect((await buildSdistBucket(shuffled, 'sdist')).json).toBe(EXPECTED_SDIST);
    expect((await buildSdistBucket(shuffled, 'sdist-errors')).json).toBe(EXPECTED_ERRORS);
  });

  it("keeps compress_dict's handling of an error text that is a key of its version", async () => {
    // "36" and "37" hold the text "27": not equal to the kept "X", and a string naming a kept key
    // is not kept itself, so "37" is not turned into a reference to "36" (the reader would
    // dereference both; the original writes them so too).
    const p: SdistProject = {
      name: 'p',
      releases: [
        {
          version: '1',
          results: new Map([
            ['27', err('X')],
            ['36', err('27')],
            ['37', err('27')],
          ]),
        },
      ],
    };
    const expected =
      '{\n  "p": {\n    "1": {\n      "27": "X",\n      "36": "27",\n      "37": "27"\n    }\n  }\n}';
    expect((await buildSdistBucket([p], 'sdist-errors')).json).toBe(expected);
    const oracle = oracleScript('crawl-sdist-deps-oracle.py');
    const fromPython = JSON.parse(runPython(oracle, JSON.stringify([{ projects: toOracle([p]) }])));
    expect(fromPython).toEqual([['{}', expected]]);
  });

  it('writes an empty bucket as {}', async () => {
    const none = { projects: 0, releases: 0, files: 0 };
    expect(await buildSdistBucket([], 'sdist')).toEqual({ json: '{}', counts: none });
    expect(await buildSdistBucket([{ name: 'a', releases: [] }], 'sdist-errors')).toEqual({
      json: '{}',
      counts: none,
    });
  });

  it('settles two projects with the same key by display name, whatever the order', async () => {
    const a: SdistProject = { name: 'Foo_Bar', releases: [{ version: '1', results: all(ok(), ['27']) }] };
    const b: SdistProject = { name: 'foo-bar', releases: [{ version: '2', results: all(ok(), ['27']) }] };
    const one = await buildSdistBucket([a, b], 'sdist');
    expect(await buildSdistBucket([b, a], 'sdist')).toEqual(one);
    expect(JSON.parse(one.json)).toEqual({ 'foo-bar': { '1': { '27': {} } } });
    // one with nothing to write does not hide the other
    expect(JSON.parse((await buildSdistBucket([a, b], 'sdist-errors')).json)).toEqual({});
  });

  it('refuses a project in the wrong bucket, unknown Python keys and fields of the wrong type', async () => {
    const p: SdistProject = { name: 'requests', releases: [{ version: '1', results: all(ok(), ['27']) }] };
    const right = bucketOf(machNixName(p.name));
    const wrong = right === '00' ? '01' : '00';
    await expect(buildSdistBucket([p], 'sdist', right)).resolves.toMatchObject({ counts: { projects: 1 } });
    await expect(buildSdistBucket([p], 'sdist', wrong)).rejects.toMatchObject({ code: 'snapshot-failed' });
    const bad = (results: Map<string, unknown>) =>
      ({ name: 'p', releases: [{ version: '1', results }] }) as unknown as SdistProject;
    for (const results of [
      new Map([['35', ok()]]), // not a key we write
      new Map([['3.10', ok()]]),
      new Map([['27', { ok: { python_requires: '>=3' } }]]), // a string is joined char by char (docs/formats.md §D)
      new Map([['27', { ok: { install_requires: [1] } }]]),
      new Map([['27', { ok: { extras_require: { a: ['x'] } } }]]),
      new Map([['27', { ok: { extras_require: [['a', 'x']] } }]]),
      new Map([['27', { ok: { requires_dist: ['x'] } }]]),
      new Map([['27', { error: 1 }]]),
      new Map([['27', { ok: {}, error: 'x' }]]),
      new Map([['27', null]]),
    ]) {
      await expect(buildSdistBucket([bad(results)], 'sdist')).rejects.toMatchObject({
        code: 'snapshot-failed',
      });
    }
    await expect(
      buildSdistBucket(
        [{ name: 'p', releases: [{ version: '1', results: { '27': ok() } }] } as never],
        'sdist',
      ),
    ).rejects.toMatchObject({ code: 'snapshot-failed' });
  });
});

const PY_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'];

/** Random projects in one bucket (one per key, as on PyPI), with many equal results. */
function randomBucket(rand: () => number, projects: number): SdistProject[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const nameChars = ['a', 'B', 'z', '0', '7', '.', '_', '-', 'é', '😀'];
  const versions = [
    '1',
    '2',
    '10',
    '2048',
    '1.0',
    '1.0.0',
    ' 1.0',
    '0.10',
    '0.0.5',
    '0.9',
    '1.0.dev0',
    '1.0rc1',
    '1.0.post1',
    '1!0.1',
    '1.0+local',
    'v1.1',
    'foo',
    'latest',
    '2.0-beta',
    '\u00a03.1',
    '3.1 ',
    '😀',
    'é1',
  ];
  const lists = [
    [],
    [],
    ['six'],
    ['six', 'requests>=2'],
    ['requests>=2', 'six'],
    ['café'],
    ['a "q" \\ b'],
    [''],
    // non-canonical spellings, equal to canonical ones once published
    ['requests >= 2, < 3', 'six'],
    ['requests<3,>=2', 'six'],
    ["pywin32 ; sys_platform=='win32'", 'y @ https://h/y-1.tgz'],
    ['pywin32; sys_platform == "win32"', 'y@ https://h/y-1.tgz'],
  ];
  const extras: Array<Array<[string, string[]]>> = [
    [],
    [],
    [['', ['idna']]],
    [
      ['socks', ['PySocks']],
      [':python_version < "3"', ['enum34']],
    ],
    [
      [':python_version < "3"', ['enum34']],
      ['socks', ['PySocks']],
    ],
    [['empty', []]],
  ];
  const errors = ['SyntaxError: invalid syntax', "ModuleNotFoundError: No module named 'x'", 'E\n\u00e9', ''];
  const byKey = new Map<string, SdistProject>();
  for (let p = 0; p < projects; p++) {
    const name = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(nameChars)).join('');
    // A few variants per project, so that many results (and whole versions) are equal.
    const variants: SdistResult[] = Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
      rand() < 0.3
        ? err(pick(errors))
        : ok({
            install_requires: pick(lists),
            setup_requires: rand() < 0.3 ? pick(lists) : undefined,
            extras_require: pick(extras),
            tests_require: rand() < 0.2 ? pick(lists) : undefined,
            python_requires: rand() < 0.3 ? pick([['>=3.6'], ['>=2.7', '!=3.0.*']]) : undefined,
          }),
    );
    const pyvers = PY_KEYS.filter(() => rand() < 0.7);
    const releases = Array.from({ length: Math.floor(rand() * 8) }, () => ({
      version: pick(versions),
      results: new Map(pyvers.filter(() => rand() < 0.8).map((k) => [k, pick(variants)] as const)),
    }));
    byKey.set(machNixName(name), { name, releases });
  }
  return [...byKey.values()];
}

const toOracle = (projects: SdistProject[]) =>
  projects.map((p) => ({
    name: p.name,
    releases: p.releases.map((r) => ({ version: r.version, results: [...r.results] })),
  }));

/** Checks the reference rules on a built value; returns the number of references. */
function checkReferences(value: PyObject): number {
  let references = 0;
  const check = (level: PyObject) => {
    const keys = [...level.keys()];
    for (const [key, entry] of level) {
      if (typeof entry !== 'string' || !level.has(entry)) continue;
      references += 1;
      const target = level.get(entry)!;
      // never chained (an error leaf is a string too, but not a key)
      expect(typeof target === 'string' && level.has(target)).toBe(false);
      // the target is the shortest, then string-smallest, of the equal keys
      const len = (s: string) => [...s].length;
      expect(len(entry) < len(key) || (len(entry) === len(key) && entry < key)).toBe(true);
      expect(keys.includes(entry)).toBe(true);
    }
  };
  for (const versions of value.values() as Iterable<PyObject>) {
    check(versions);
    for (const pyvers of versions.values()) if (pyvers instanceof Map) check(pyvers);
  }
  return references;
}

describe('buildSdistBucket against the original compressor', () => {
  it('matches a Python re-implementation of crawl_sdist_deps.py (and survives its decompress + compress)', async () => {
    const rand = prng(11);
    const buckets = [PROJECTS, ...Array.from({ length: 40 }, () => randomBucket(rand, 10))];
    const oracle = oracleScript('crawl-sdist-deps-oracle.py');
    const cases = buckets.map((projects) => ({ projects: toOracle(projects) }));
    const expected = JSON.parse(runPython(oracle, JSON.stringify(cases))) as [string, string][];
    expect(expected[0]).toEqual([EXPECTED_SDIST, EXPECTED_ERRORS]);

    let packages = 0;
    let references = 0;
    for (const [i, projects] of buckets.entries()) {
      for (const [k, kind] of (['sdist', 'sdist-errors'] as const).entries()) {
        const { value, counts } = await buildSdistBucketValue(projects, kind);
        expect(dumpPython(value)).toBe(expected[i]![k]);
        packages += counts.projects;
        references += checkReferences(value);
      }
    }
    expect(packages).toBeGreaterThan(300);
    expect(references).toBeGreaterThan(500);
  });
});

describe('publishSnapshot with sdist/ and sdist-errors/', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  function source(pypi: PypiProject[], sdist: SdistProject[], reverse = false): SnapshotSource {
    const inBucket = <T extends { name: string }>(items: T[], bucket: string) => {
      const mine = items.filter((p) => bucketOf(machNixName(p.name)) === bucket);
      return reverse ? mine.reverse() : mine;
    };
    return {
      meta: async () => ({ serial: 5, unixTimestamp: 1_700_000_000 }),
      async *pypiProjects(bucket) {
        yield* inBucket(pypi, bucket);
      },
      async *sdistProjects(bucket) {
        yield* inBucket(sdist, bucket);
      },
    };
  }

  it('writes all 256 buckets of both layouts, counts them, and is deterministic', async () => {
    const rand = prng(5);
    const sdist = [
      ...new Map(
        Array.from({ length: 12 }, () => randomBucket(rand, 12))
          .flat()
          .map((p) => [machNixName(p.name), p]),
      ).values(),
    ];
    const result = await publishSnapshot({ outDir: join(tmp.path, 'a'), source: source([], sdist) });
    const totals: Record<string, { projects: number; releases: number; files: number }> = {};
    for (const kind of ['sdist', 'sdist-errors'] as const) {
      const names = (await readdir(join(result.dir, kind))).sort();
      expect(names).toHaveLength(256);
      const total = { projects: 0, releases: 0, files: 0 };
      for (const name of names) {
        const bucket = name.slice(0, 2);
        const expected = await buildSdistBucket(
          sdist.filter((p) => bucketOf(machNixName(p.name)) === bucket),
          kind,
          bucket,
        );
        expect(await readFile(join(result.dir, kind, name), 'utf8')).toBe(expected.json);
        total.projects += expected.counts.projects;
        total.releases += expected.counts.releases;
        total.files += expected.counts.files;
      }
      expect(total.projects).toBeGreaterThan(40);
      totals[kind] = total;
    }
    const none = { projects: 0, releases: 0, files: 0 };
    expect(result.counts).toEqual({ pypi: none, ...totals });
    const manifest = JSON.parse(await readFile(join(result.dir, 'manifest.json'), 'utf8'));
    expect(manifest.layouts).toEqual(result.counts);
    expect(Object.keys(manifest.files)).toHaveLength(3 * 256 + 1);

    const again = await publishSnapshot({ outDir: join(tmp.path, 'b'), source: source([], sdist, true) });
    expect(again.id).toBe(result.id);
    expect(again.tarballSha256).toBe(result.tarballSha256);
    expect(again.manifestSha256).toBe(result.manifestSha256);

    // other data, another id
    const other = await publishSnapshot({ outDir: join(tmp.path, 'c'), source: source([], sdist.slice(1)) });
    expect(other.id).not.toBe(result.id);
  });
});
