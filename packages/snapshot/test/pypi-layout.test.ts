import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bucketOf, machNixName } from '@pypi-graph/pyspec';
import { describe, expect, it } from 'vitest';
import { buildPypiBucket, type PypiFile, type PypiProject } from '../src/index';
import { prng, runPython } from './helpers';

const hex = (c: string) => c.repeat(64);
const file = (filename: string, packagetype: string, pythonVersion: string, sha: string): PypiFile => ({
  filename,
  packagetype,
  pythonVersion,
  sha256Hex: hex(sha),
});

// Hand-written cases, one rule each (docs/formats.md §0, §A2).
const PROJECTS: PypiProject[] = [
  {
    name: 'Zope_Interface.Extra', // key: lower case, `_` → `-`, dot kept
    releases: [
      // .tar.gz preferred over .zip even when the .zip comes first
      {
        version: '1',
        files: [
          file('zope_interface.extra-1.zip', 'sdist', 'source', '1'),
          file('zope_interface.extra-1.tar.gz', 'sdist', 'source', '2'),
        ],
      },
      // wheels only; an integer-like version key stays in PyPI order
      {
        version: '2048',
        files: [file('zope_interface.extra-2048-py3-none-any.whl', 'bdist_wheel', 'py3', '3')],
      },
      // surrounding spaces stripped; .tar.xz and .egg ignored
      {
        version: ' 0.9 ',
        files: [
          file('zope_interface.extra-0.9.tar.xz', 'sdist', 'source', '4'),
          file('zope_interface.extra-0.9-py2.7.egg', 'bdist_egg', '2.7', '5'),
          file('Zope_Interface.Extra-0.9.tgz', 'sdist', 'source', '6'),
        ],
      },
      { version: '10', files: [] }, // empty: omitted
      // only ignored suffixes: omitted
      {
        version: '3',
        files: [
          file('zope_interface.extra-3.tar.xz', 'sdist', 'source', '7'),
          file('zope_interface.extra-3.egg', 'bdist_egg', '3.8', '8'),
        ],
      },
    ],
  },
  // non-BMP name: sorts after the BMP U+FF41 below by code point (UTF-16 order would put it first)
  {
    name: '\u{1F600}x',
    releases: [{ version: '1', files: [file('x-1-py3-none-any.whl', 'bdist_wheel', 'py3', '9')] }],
  },
  { name: '\uFF21bc', releases: [{ version: '1', files: [file('abc-1.tar.bz2', 'sdist', 'source', 'a')] }] },
  {
    name: '2048', // an integer-like project key
    releases: [
      {
        version: '1.0',
        files: [
          file('2048-1.0.TAR.GZ', 'sdist', 'source', 'b'), // endswith is case-sensitive: ignored
          file('2048-1.0.zip', 'sdist', 'source', 'c'),
          file('2048-1.0.post-long.tar.gz', 'sdist', 'source', 'd'), // first .tar.gz wins, not the shortest
          file('2048-1.0.tar.gz', 'sdist', 'source', 'e'),
          file('2048-1.0-cp38-cp38-manylinux1_x86_64.whl', 'bdist_wheel', 'cp38', 'f'),
          file('2048-1.0-py2.py3-none-any.whl', 'bdist_wheel', 'py2.py3', 'A'),
        ],
      },
    ],
  },
  {
    name: 'Café',
    releases: [
      // non-ASCII sdist name percent-encoded (space and ~ kept); the wheel name is not encoded
      {
        version: '1.0',
        files: [
          file('café-1.0 final+x~y.tar.gz', 'sdist', 'source', '0'),
          file('café-1.0-py3-none-any.whl', 'bdist_wheel', 'py3', 'B'),
        ],
      },
      // strips to "1.0" as well: the first release keeps the key
      { version: '1.0 ', files: [file('cafe-other.tar.gz', 'sdist', 'source', 'C')] },
    ],
  },
  // no publishable release: the project is omitted
  {
    name: 'Empty.Project',
    releases: [{ version: '1', files: [file('empty-1.exe', 'bdist_wininst', '2.7', 'D')] }],
  },
];

const EXPECTED = [
  '{',
  '  "2048": {',
  '    "1.0": {',
  '      "sdist": [',
  '        "3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d0=",',
  '        "2048-1.0.post-long.tar.gz"',
  '      ],',
  '      "wheels": {',
  '        "2048-1.0-cp38-cp38-manylinux1_x86_64.whl": [',
  '          "//////////////////////////////////////////8=",',
  '          "cp38"',
  '        ],',
  '        "2048-1.0-py2.py3-none-any.whl": [',
  '          "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=",',
  '          "py2.py3"',
  '        ]',
  '      }',
  '    }',
  '  },',
  '  "caf\\u00e9": {',
  '    "1.0": {',
  '      "sdist": [',
  '        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",',
  '        "caf%C3%A9-1.0 final%2Bx~y.tar.gz"',
  '      ],',
  '      "wheels": {',
  '        "caf\\u00e9-1.0-py3-none-any.whl": [',
  '          "u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7s=",',
  '          "py3"',
  '        ]',
  '      }',
  '    }',
  '  },',
  '  "zope-interface.extra": {',
  '    "1": {',
  '      "sdist": [',
  '        "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=",',
  '        "zope_interface.extra-1.tar.gz"',
  '      ]',
  '    },',
  '    "2048": {',
  '      "wheels": {',
  '        "zope_interface.extra-2048-py3-none-any.whl": [',
  '          "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=",',
  '          "py3"',
  '        ]',
  '      }',
  '    },',
  '    "0.9": {',
  '      "sdist": [',
  '        "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=",',
  '        "Zope_Interface.Extra-0.9.tgz"',
  '      ]',
  '    }',
  '  },',
  '  "\\uff41bc": {',
  '    "1": {',
  '      "sdist": [',
  '        "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=",',
  '        "abc-1.tar.bz2"',
  '      ]',
  '    }',
  '  },',
  '  "\\ud83d\\ude00x": {',
  '    "1": {',
  '      "wheels": {',
  '        "x-1-py3-none-any.whl": [',
  '          "mZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZk=",',
  '          "py3"',
  '        ]',
  '      }',
  '    }',
  '  }',
  '}',
].join('\n');

async function* yieldAll<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('buildPypiBucket', () => {
  it('writes the nix-pypi-fetcher-2 layout', async () => {
    const { json, counts } = await buildPypiBucket(yieldAll(PROJECTS));
    expect(json).toBe(EXPECTED);
    expect(counts).toEqual({ projects: 5, releases: 7, files: 10 });
  });

  it('does not depend on the order projects arrive in', async () => {
    const { json } = await buildPypiBucket([...PROJECTS].reverse());
    expect(json).toBe(EXPECTED);
  });

  it('writes an empty bucket as {}', async () => {
    expect(await buildPypiBucket([])).toEqual({ json: '{}', counts: { projects: 0, releases: 0, files: 0 } });
  });

  it('settles two projects with the same key by display name, whatever the order', async () => {
    const a: PypiProject = {
      name: 'Foo_Bar',
      releases: [{ version: '1', files: [file('Foo_Bar-1.tar.gz', 'sdist', 'source', '1')] }],
    };
    const b: PypiProject = {
      name: 'foo-bar',
      releases: [{ version: '2', files: [file('foo-bar-2.tar.gz', 'sdist', 'source', '2')] }],
    };
    const one = await buildPypiBucket([a, b]);
    expect(await buildPypiBucket([b, a])).toEqual(one);
    expect(one.json).toContain('Foo_Bar-1.tar.gz');
    expect(one.counts.projects).toBe(1);
    // one without publishable files does not hide the other
    const emptyA = { ...a, releases: [{ version: '1', files: [] }] };
    expect((await buildPypiBucket([emptyA, b])).json).toContain('foo-bar-2.tar.gz');
  });

  it('refuses a project in the wrong bucket and a bad sha256', async () => {
    const p: PypiProject = {
      name: 'requests',
      releases: [{ version: '1', files: [file('requests-1.tar.gz', 'sdist', 'source', '1')] }],
    };
    const right = bucketOf(machNixName(p.name));
    const wrong = right === '00' ? '01' : '00';
    await expect(buildPypiBucket([p], right)).resolves.toMatchObject({ counts: { projects: 1 } });
    await expect(buildPypiBucket([p], wrong)).rejects.toMatchObject({ code: 'snapshot-failed' });
    const bad = {
      ...p,
      releases: [{ version: '1', files: [{ ...p.releases[0]!.files[0]!, sha256Hex: 'xyz' }] }],
    };
    await expect(buildPypiBucket([bad])).rejects.toMatchObject({ code: 'snapshot-failed' });
  });

  it("matches a Python port of the crawler's save_pkg_meta/save_bucket on random buckets", async () => {
    const rand = prng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const nameChars = ['a', 'B', 'z', 'Q', '0', '7', '.', '_', '-', 'é', 'Ａ', '😀'];
    const versions = [
      '1',
      '2048',
      '1.0',
      ' 1.0',
      '1.0 ',
      '0.9\t',
      '27',
      '10',
      '2.0rc1',
      '\u00a01.1',
      '310',
      '3\u2003',
    ];
    const suffixes = [
      '.tar.gz',
      '.tgz',
      '.zip',
      '.tar.bz2',
      '.tar.xz',
      '.TAR.GZ',
      '.egg',
      '.whl',
      'tar.gz',
      '.exe',
      '.Zip',
    ];
    const types = ['sdist', 'sdist', 'sdist', 'bdist_wheel', 'bdist_wheel', 'bdist_egg', 'bdist_wininst'];
    const fileChars = ['a', 'Z', '1', '-', '_', '.', ' ', '+', '%', '~', '/', 'é', '中', '😀', '!', "'"];
    const buckets: PypiProject[][] = [];
    for (let b = 0; b < 60; b++) {
      const byKey = new Map<string, PypiProject>();
      for (let p = 0; p < 15; p++) {
        const name = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pick(nameChars)).join('');
        const releases = Array.from({ length: Math.floor(rand() * 5) }, () => ({
          version: pick(versions),
          files: Array.from({ length: Math.floor(rand() * 5) }, () => ({
            filename:
              Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(fileChars)).join('') +
              pick(suffixes),
            packagetype: pick(types),
            pythonVersion: pick(['py3', 'cp38', 'py2.py3', 'source']),
            sha256Hex: Array.from({ length: 64 }, () => pick([...'0123456789abcdefABCDEF'])).join(''),
          })),
        }));
        byKey.set(machNixName(name), { name, releases }); // one project per key, as on PyPI
      }
      buckets.push([...byKey.values()]);
    }
    const input = JSON.stringify(
      buckets.map((projects) =>
        projects.map((p) => ({
          name: p.name,
          releases: p.releases.map((r) => ({
            version: r.version,
            files: r.files.map((f) => ({
              filename: f.filename,
              packagetype: f.packagetype,
              python_version: f.pythonVersion,
              sha256: f.sha256Hex,
            })),
          })),
        })),
      ),
    );
    const oracle = readFileSync(join(import.meta.dirname, 'fixtures', 'crawl-urls-oracle.py'), 'utf8');
    const expected = JSON.parse(runPython(oracle, input)) as string[];
    let nonEmpty = 0;
    for (const [i, projects] of buckets.entries()) {
      const { json } = await buildPypiBucket(projects);
      expect(json).toBe(expected[i]);
      if (json !== '{}') nonEmpty += 1;
    }
    expect(nonEmpty).toBeGreaterThan(50);
  });
});
