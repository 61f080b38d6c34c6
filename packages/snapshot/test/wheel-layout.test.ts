import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bucketOf, dumpPython, machNixName, type PyObject, type PyValue } from '@pypi-graph/pyspec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildPypiBucket,
  buildWheelBucket,
  buildWheelBucketValue,
  type PypiProject,
  publishSnapshot,
  type SnapshotSource,
  snapshotId,
  type WheelFile,
  type WheelProject,
} from '../src/index';
import { oracleScript, prng, runPython, tempDir } from './helpers';

/** A wheel with no metadata fields unless given. */
const wheel = (
  version: string,
  filename: string,
  pythonVersion: string,
  fields: Partial<
    Pick<WheelFile, 'requiresDist' | 'requiresPython' | 'providesExtras' | 'requiresExternal'>
  > = {},
): WheelFile => ({
  version,
  filename,
  pythonVersion,
  requiresDist: [],
  requiresPython: null,
  providesExtras: [],
  requiresExternal: [],
  ...fields,
});

const FULL = {
  // old style: published in the canonical spelling (published-requirement.ts)
  requiresDist: ['six (>=1.0)', "requests[security] (>=2.0) ; extra == 'sec'"],
  requiresPython: '>=2.7, !=3.0.*',
  providesExtras: ['sec'],
  requiresExternal: ['libfoo (>=1)'],
};

// Hand-written cases (docs/formats.md §B2), one rule each; given in a shuffled order on purpose.
const PROJECTS: WheelProject[] = [
  {
    name: 'Foo_Bar', // key foo-bar
    wheels: [
      // "2" refers back to "1.0" in the same python_version group (any version counts)
      wheel('2', 'foo_bar-2-py2.py3-none-any.whl', 'py2.py3', FULL),
      wheel('1.0', 'foo_bar-1.0-py2.py3-none-any.whl', 'py2.py3', FULL),
      // the same metadata in another group is written in full: references stay in their group
      wheel('2', 'foo_bar-2-cp38-cp38-manylinux1_x86_64.whl', 'cp38', FULL),
      // an empty entry is {} and later empty entries refer to the first one; integer-like
      // versions are sorted as strings: "1" < "1.0" < "10" < "2" < "2048"
      wheel('2048', 'foo_bar-2048-py2.py3-none-any.whl', 'py2.py3'),
      wheel('10', 'foo_bar-10-py2.py3-none-any.whl', 'py2.py3'),
      wheel('1', 'foo_bar-1-py2.py3-none-any.whl', 'py2.py3', { requiresDist: ['b', 'a'] }),
      // a list keeps its order, and another order is another entry
      wheel('10', 'foo_bar-10-py3-none-any.whl', 'py3', { requiresDist: ['a', 'b'] }),
      wheel('2048', 'foo_bar-2048-py3-none-any.whl', 'py3', { requiresDist: ['b', 'a'] }),
      // a reference within one version; the version key is stripped
      wheel(' 3.0 ', 'foo_bar-3.0-cp38-cp38-manylinux2014_x86_64.whl', 'cp38', {
        requiresDist: ['numpy>=1.0'],
      }),
      wheel(' 3.0 ', 'foo_bar-3.0-cp38-cp38-manylinux1_x86_64.whl', 'cp38', { requiresDist: ['numpy>=1.0'] }),
      // non-ASCII in a requirement is written as \uXXXX; requires_python is verbatim (spaces,
      // trailing comma); an empty requires_python is left out
      wheel('3.2', 'foo_bar-3.2-py3-none-any.whl', 'py3', {
        requiresDist: ['café-lib (>=1) ; python_version < "3"', '😀'],
        requiresPython: ' >=3.6, ',
      }),
      wheel('3.1', 'foo_bar-3.1-py3-none-any.whl', 'py3', { requiresPython: '', providesExtras: ['x', 'a'] }),
      // code-point order: U+FF41 before U+1F600 (UTF-16 order would put the emoji first)
      wheel('3.3', 'foo_bar-3.3-\u{1F600}-py3-none-any.whl', 'py3', { requiresPython: '<4' }),
      wheel('3.3', 'foo_bar-3.3-\uFF41-py3-none-any.whl', 'py3', { requiresPython: '<4' }),
    ],
  },
  { name: 'no-wheels', wheels: [] }, // omitted
  {
    name: '2048', // an integer-like project key, first in string order
    wheels: [wheel('0.1', '2048-0.1-py3-none-any.whl', 'py3', { requiresPython: '>=3' })],
  },
  {
    name: 'Ｚed', // U+FF3A, key "ｚed": after the ASCII names
    wheels: [wheel('1', 'zed-1-py3-none-any.whl', 'py3', { requiresExternal: ['x'] })],
  },
];

const EXPECTED = [
  '{',
  '  "2048": {',
  '    "py3": {',
  '      "0.1": {',
  '        "2048-0.1-py3-none-any.whl": {',
  '          "requires_python": ">=3"',
  '        }',
  '      }',
  '    }',
  '  },',
  '  "foo-bar": {',
  '    "cp38": {',
  '      "2": {',
  '        "foo_bar-2-cp38-cp38-manylinux1_x86_64.whl": {',
  '          "provides_extras": [',
  '            "sec"',
  '          ],',
  '          "requires_dist": [',
  '            "six>=1.0",',
  '            "requests[security]>=2.0; extra == \\"sec\\""',
  '          ],',
  '          "requires_external": [',
  '            "libfoo (>=1)"',
  '          ],',
  '          "requires_python": ">=2.7, !=3.0.*"',
  '        }',
  '      },',
  '      "3.0": {',
  '        "foo_bar-3.0-cp38-cp38-manylinux1_x86_64.whl": {',
  '          "requires_dist": [',
  '            "numpy>=1.0"',
  '          ]',
  '        },',
  '        "foo_bar-3.0-cp38-cp38-manylinux2014_x86_64.whl": "3.0@foo_bar-3.0-cp38-cp38-manylinux1_x86_64.whl"',
  '      }',
  '    },',
  '    "py2.py3": {',
  '      "1": {',
  '        "foo_bar-1-py2.py3-none-any.whl": {',
  '          "requires_dist": [',
  '            "b",',
  '            "a"',
  '          ]',
  '        }',
  '      },',
  '      "1.0": {',
  '        "foo_bar-1.0-py2.py3-none-any.whl": {',
  '          "provides_extras": [',
  '            "sec"',
  '          ],',
  '          "requires_dist": [',
  '            "six>=1.0",',
  '            "requests[security]>=2.0; extra == \\"sec\\""',
  '          ],',
  '          "requires_external": [',
  '            "libfoo (>=1)"',
  '          ],',
  '          "requires_python": ">=2.7, !=3.0.*"',
  '        }',
  '      },',
  '      "10": {',
  '        "foo_bar-10-py2.py3-none-any.whl": {}',
  '      },',
  '      "2": {',
  '        "foo_bar-2-py2.py3-none-any.whl": "1.0@foo_bar-1.0-py2.py3-none-any.whl"',
  '      },',
  '      "2048": {',
  '        "foo_bar-2048-py2.py3-none-any.whl": "10@foo_bar-10-py2.py3-none-any.whl"',
  '      }',
  '    },',
  '    "py3": {',
  '      "10": {',
  '        "foo_bar-10-py3-none-any.whl": {',
  '          "requires_dist": [',
  '            "a",',
  '            "b"',
  '          ]',
  '        }',
  '      },',
  '      "2048": {',
  '        "foo_bar-2048-py3-none-any.whl": {',
  '          "requires_dist": [',
  '            "b",',
  '            "a"',
  '          ]',
  '        }',
  '      },',
  '      "3.1": {',
  '        "foo_bar-3.1-py3-none-any.whl": {',
  '          "provides_extras": [',
  '            "x",',
  '            "a"',
  '          ]',
  '        }',
  '      },',
  '      "3.2": {',
  '        "foo_bar-3.2-py3-none-any.whl": {',
  '          "requires_dist": [',
  '            "caf\\u00e9-lib (>=1) ; python_version < \\"3\\"",',
  '            "\\ud83d\\ude00"',
  '          ],',
  '          "requires_python": " >=3.6, "',
  '        }',
  '      },',
  '      "3.3": {',
  '        "foo_bar-3.3-\\uff41-py3-none-any.whl": {',
  '          "requires_python": "<4"',
  '        },',
  '        "foo_bar-3.3-\\ud83d\\ude00-py3-none-any.whl": "3.3@foo_bar-3.3-\\uff41-py3-none-any.whl"',
  '      }',
  '    }',
  '  },',
  '  "\\uff5aed": {',
  '    "py3": {',
  '      "1": {',
  '        "zed-1-py3-none-any.whl": {',
  '          "requires_external": [',
  '            "x"',
  '          ]',
  '        }',
  '      }',
  '    }',
  '  }',
  '}',
].join('\n');

async function* yieldAll<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('buildWheelBucket', () => {
  it('writes the pypi-deps-db wheel layout', async () => {
    const { json, counts } = await buildWheelBucket(yieldAll(PROJECTS));
    expect(json).toBe(EXPECTED);
    expect(counts).toEqual({ projects: 3, releases: 11, files: 16 });
  });
});

describe('buildWheelBucket rules', () => {
  it('does not depend on the order projects and wheels arrive in', async () => {
    const reversed = [...PROJECTS].reverse().map((p) => ({ ...p, wheels: [...p.wheels].reverse() }));
    expect((await buildWheelBucket(reversed)).json).toBe(EXPECTED);
  });

  it('writes an empty bucket as {}', async () => {
    const none = { projects: 0, releases: 0, files: 0 };
    expect(await buildWheelBucket([])).toEqual({ json: '{}', counts: none });
    expect(await buildWheelBucket([{ name: 'a', wheels: [] }])).toEqual({ json: '{}', counts: none });
  });

  it('keeps the first raw version of a stripped key and the last wheel of a repeated file name', async () => {
    const { value, counts } = await buildWheelBucket([
      {
        name: 'p',
        wheels: [
          wheel('1.0 ', 'p-1.0-py3-none-any.whl', 'py3', { requiresPython: '>=3.8' }),
          wheel('1.0', 'p-1.0-py2-none-any.whl', 'py2'), // same key, other raw version: dropped
          wheel('1.0 ', 'p-1.0-py3-none-any.whl', 'py2.py3', { requiresPython: '>=3.9' }), // replaces the first
          wheel('2', 'p-2-py3-none-any.whl', 'py3'),
        ],
      },
    ]).then(({ json, counts }) => ({ value: JSON.parse(json), counts }));
    expect(value).toEqual({
      p: {
        'py2.py3': { '1.0': { 'p-1.0-py3-none-any.whl': { requires_python: '>=3.9' } } },
        py3: { '2': { 'p-2-py3-none-any.whl': {} } },
      },
    });
    expect(counts).toEqual({ projects: 1, releases: 2, files: 2 });
  });

  it('settles two projects with the same key by display name, whatever the order', async () => {
    const a: WheelProject = { name: 'Foo_Bar', wheels: [wheel('1', 'Foo_Bar-1-py3-none-any.whl', 'py3')] };
    const b: WheelProject = { name: 'foo-bar', wheels: [wheel('2', 'foo_bar-2-py3-none-any.whl', 'py3')] };
    const one = await buildWheelBucket([a, b]);
    expect(await buildWheelBucket([b, a])).toEqual(one);
    expect(one.json).toContain('Foo_Bar-1-py3-none-any.whl');
    expect(one.json).not.toContain('foo_bar-2');
    // one without wheels does not hide the other
    expect((await buildWheelBucket([{ ...a, wheels: [] }, b])).json).toContain('foo_bar-2-py3-none-any.whl');
  });

  it('refuses a project in the wrong bucket and fields of the wrong type', async () => {
    const p: WheelProject = { name: 'requests', wheels: [wheel('1', 'requests-1-py3-none-any.whl', 'py3')] };
    const right = bucketOf(machNixName(p.name));
    const wrong = right === '00' ? '01' : '00';
    await expect(buildWheelBucket([p], right)).resolves.toMatchObject({ counts: { projects: 1 } });
    await expect(buildWheelBucket([p], wrong)).rejects.toMatchObject({ code: 'snapshot-failed' });
    const bad = (fields: Record<string, unknown>) => ({ ...p, wheels: [{ ...p.wheels[0]!, ...fields }] });
    for (const fields of [
      { requiresPython: ['>=3'] }, // a list would crash mach-nix's `.strip(',')` (docs/formats.md §D)
      { requiresDist: 'six' },
      { providesExtras: [1] },
      { requiresExternal: null },
    ]) {
      await expect(buildWheelBucket([bad(fields) as WheelProject])).rejects.toMatchObject({
        code: 'snapshot-failed',
      });
    }
  });
});

/** Random projects in one bucket (one project per key, as on PyPI), with many equal entries. */
function randomBucket(rand: () => number, projects: number): WheelProject[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const nameChars = ['a', 'B', 'z', 'Q', '0', '7', '.', '_', '-', 'é', 'Ａ', '😀'];
  const versions = [
    '1',
    '2048',
    '1.0',
    ' 1.0',
    '1.0 ',
    '10',
    '2',
    '2.0rc1',
    '\u00a01.1',
    '1.1',
    '27',
    '3\u2003',
  ];
  const pyvers = ['py3', 'py2.py3', 'cp38', 'py2', 'cp310', '3', '310', 'py3.py2', 'Py3'];
  const fileChars = ['a', 'Z', '1', '-', '_', '.', ' ', '+', '~', 'é', '中', '😀', '\uff41', '\ue000'];
  const dists: string[][] = [
    [],
    [],
    ['six'],
    ['six', 'requests (>=2.0)'],
    ['requests (>=2.0)', 'six'],
    // the same requirements spelled canonically: equal once published
    ['requests>=2.0', 'six'],
    ['Flask-Session[redis, mongodb] ; extra == "all"', 'x @ https://h/x-1.tgz ; os_name == "nt"'],
    ['Flask-Session[mongodb,redis]; extra == "all"', 'x@ https://h/x-1.tgz ; os_name == "nt"'],
    ["café ; extra == 'x'"],
    ['😀-pkg>=1', ''],
    ['a\\b "quoted"\t'],
  ];
  const pythons = [null, null, '', '>=3.6', ' >=3.6', '>=3.6,', '\u00a0', '>=2.7, !=3.0.*'];
  const extras: string[][] = [[], [], ['x'], ['x', 'y'], ['y', 'x']];
  const externals: string[][] = [[], [], [], ['libc'], ['C (>=1)']];
  const byKey = new Map<string, WheelProject>();
  for (let p = 0; p < projects; p++) {
    const name = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pick(nameChars)).join('');
    // A few metadata variants and python_versions per project, so that many entries are equal.
    const variants = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
      requiresDist: pick(dists),
      requiresPython: pick(pythons),
      providesExtras: pick(extras),
      requiresExternal: pick(externals),
    }));
    const groups = [pick(pyvers), pick(pyvers)];
    const wheels = Array.from({ length: Math.floor(rand() * 14) }, () =>
      wheel(
        pick(versions),
        Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(fileChars)).join('') + '.whl',
        pick(groups),
        pick(variants),
      ),
    );
    byKey.set(machNixName(name), { name, wheels });
  }
  return [...byKey.values()];
}

const toOracle = (projects: WheelProject[]) =>
  projects.map((p) => ({
    name: p.name,
    wheels: p.wheels.map((w) => ({
      version: w.version,
      filename: w.filename,
      python_version: w.pythonVersion,
      requires_dist: w.requiresDist,
      requires_python: w.requiresPython,
      provides_extras: w.providesExtras,
      requires_external: w.requiresExternal,
    })),
  }));

describe('buildWheelBucket against the original crawler', () => {
  it('matches a Python re-implementation of crawl_wheel_deps.py (several runs) on random buckets', async () => {
    const rand = prng(7);
    const buckets = [PROJECTS, ...Array.from({ length: 40 }, () => randomBucket(rand, 10))];
    const cases = buckets.map((projects, i) => ({
      runs: 1 + (i % 4), // the original adds results over several runs; the end state is the same
      seed: i,
      projects: toOracle(projects),
    }));
    const oracle = oracleScript('crawl-wheel-deps-oracle.py');
    const expected = JSON.parse(runPython(oracle, JSON.stringify(cases))) as string[];
    expect(expected[0]).toBe(EXPECTED);

    let packages = 0;
    let references = 0;
    for (const [i, projects] of buckets.entries()) {
      const { value, counts } = await buildWheelBucketValue(projects);
      expect(dumpPython(value)).toBe(expected[i]);
      packages += counts.projects;
      // References point backwards, within their group, to an entry that is not a reference.
      for (const group of value.values() as Iterable<PyObject>) {
        for (const versions of group.values() as Iterable<PyObject>) {
          const seen = new Map<string, PyValue>();
          for (const [version, files] of versions as Iterable<[string, PyObject]>) {
            for (const [filename, entry] of files) {
              if (typeof entry === 'string') {
                references += 1;
                expect(seen.get(entry)).toBeInstanceOf(Map);
              }
              seen.set(`${version}@${filename}`, entry);
            }
          }
        }
      }
    }
    expect(packages).toBeGreaterThan(300);
    expect(references).toBeGreaterThan(500);
  });
});

describe('publishSnapshot with wheel/', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  /** PyPI projects and their wheels' metadata, from the same random wheels. */
  function data(seed: number): { pypi: PypiProject[]; wheels: WheelProject[] } {
    const rand = prng(seed);
    const wheels = Array.from({ length: 12 }, () => randomBucket(rand, 12)).flat();
    const byKey = new Map(wheels.map((p) => [machNixName(p.name), p]));
    const unique = [...byKey.values()];
    const pypi = unique.map((p) => ({
      name: p.name,
      releases: [...new Set(p.wheels.map((w) => w.version))].map((version) => ({
        version,
        files: p.wheels
          .filter((w) => w.version === version)
          .map((w) => ({
            filename: w.filename,
            packagetype: 'bdist_wheel',
            pythonVersion: w.pythonVersion,
            sha256Hex: createHash('sha256').update(w.filename).digest('hex'),
          })),
      })),
    }));
    return { pypi, wheels: unique };
  }

  function source(pypi: PypiProject[], wheels?: WheelProject[], reverse = false): SnapshotSource {
    const inBucket = <T extends { name: string }>(items: T[], bucket: string) => {
      const mine = items.filter((p) => bucketOf(machNixName(p.name)) === bucket);
      return reverse ? mine.reverse() : mine;
    };
    const base: SnapshotSource = {
      meta: async () => ({ serial: 77, unixTimestamp: 1_700_000_000 }),
      async *pypiProjects(bucket) {
        yield* inBucket(pypi, bucket);
      },
    };
    if (wheels === undefined) return base;
    return {
      ...base,
      async *wheelProjects(bucket) {
        yield* inBucket(wheels, bucket);
      },
    };
  }

  it('writes all 256 wheel buckets, counts them in the manifest, and is deterministic', async () => {
    const { pypi, wheels } = data(3);
    const out = join(tmp.path, 'a');
    const result = await publishSnapshot({ outDir: out, source: source(pypi, wheels) });

    const wheelFiles = (await readdir(join(result.dir, 'wheel'))).sort();
    expect(wheelFiles).toEqual((await readdir(join(result.dir, 'pypi'))).sort());
    expect(wheelFiles).toHaveLength(256);
    let total = { projects: 0, releases: 0, files: 0 };
    let empty = 0;
    for (const name of wheelFiles) {
      const bucket = name.slice(0, 2);
      const expected = await buildWheelBucket(
        wheels.filter((p) => bucketOf(machNixName(p.name)) === bucket),
        bucket,
      );
      expect(await readFile(join(result.dir, 'wheel', name), 'utf8')).toBe(expected.json);
      if (expected.json === '{}') empty += 1;
      total = {
        projects: total.projects + expected.counts.projects,
        releases: total.releases + expected.counts.releases,
        files: total.files + expected.counts.files,
      };
    }
    expect(empty).toBeGreaterThan(0);
    expect(total.projects).toBeGreaterThan(80);
    const pypiCounts = { projects: 0, releases: 0, files: 0 };
    for (const p of pypi) {
      const c = (await buildPypiBucket([p])).counts;
      pypiCounts.projects += c.projects;
      pypiCounts.releases += c.releases;
      pypiCounts.files += c.files;
    }
    expect(result.counts).toEqual({ pypi: pypiCounts, wheel: total });
    // Every wheel entry is a file of the index (same keys, same files).
    expect(total.projects).toBe(pypiCounts.projects);

    const manifestText = await readFile(join(result.dir, 'manifest.json'), 'utf8');
    const manifest = JSON.parse(manifestText);
    expect(manifest.layouts).toEqual({ pypi: pypiCounts, wheel: total });
    expect(manifestText.indexOf('"pypi": {')).toBeLessThan(manifestText.indexOf('"wheel": {'));
    expect(Object.keys(manifest.files)).toHaveLength(513);
    expect(manifest.files['wheel/00.json']).toBe(
      createHash('sha256')
        .update(await readFile(join(result.dir, 'wheel', '00.json')))
        .digest('hex'),
    );
    expect(JSON.parse(await readFile(join(out, 'latest.json'), 'utf8')).layouts).toEqual(manifest.layouts);

    // Same data in another order, elsewhere: the same id and bytes.
    const again = await publishSnapshot({ outDir: join(tmp.path, 'b'), source: source(pypi, wheels, true) });
    expect(again.id).toBe(result.id);
    expect(again.tarballSha256).toBe(result.tarballSha256);
    expect(again.manifestSha256).toBe(result.manifestSha256);

    // The wheel files feed the id like every other file; a source without wheelProjects writes no wheel/.
    expect(snapshotId(77, new Map(Object.entries(manifest.files as Record<string, string>)))).toBe(result.id);
    const pypiOnly = await publishSnapshot({ outDir: join(tmp.path, 'd'), source: source(pypi) });
    expect(pypiOnly.counts).toEqual({ pypi: pypiCounts });
    expect(await readdir(pypiOnly.dir)).toEqual(['UNIX_TIMESTAMP', 'manifest.json', 'pypi']);
    expect(pypiOnly.id).not.toBe(result.id);
  });
});
