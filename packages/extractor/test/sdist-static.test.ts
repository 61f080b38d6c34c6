import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { scanSdist } from '@pypi-graph/archive';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import { parseRequirement } from '@pypi-graph/pyspec';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import {
  dnfToString,
  extractStaticMetadata,
  parsePoetryConstraint,
  poetryConstraintToPep440,
  poetryPythonMarker,
  poetryRequiresPython,
  readPoetryDependencies,
  readSdistStaticMetadata,
  type SdistStaticMetadata,
  type SdistStaticResult,
  staticSdistDeps,
  withBuildRequires,
} from '../src';

// Static sdist dependencies on the fixtures of test/fixtures/sdists (scripts/make-sdist-fixtures.py;
// the README there lists the expected outcomes), cross-checked against Python's email.parser,
// tomllib and packaging reading the same archives, and the poetry translation against a table.

const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURES = path.join(REPO, 'test/fixtures/sdists');
const run = promisify(execFile);

async function outcome(file: string): Promise<SdistStaticResult | FailureCode> {
  try {
    return await readSdistStaticMetadata(path.join(FIXTURES, file));
  } catch (err) {
    if (err instanceof CrawlError) return err.code;
    throw err;
  }
}

const POETRY_PYTHON = '/usr/bin/python3';
const HAS_POETRY_CORE = (() => {
  try {
    execFileSync(POETRY_PYTHON, ['-c', 'import poetry.core.factory'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const TABLE_PYPROJECT = `[tool.poetry]
name = "x"
version = "1.0"
description = ""
authors = ["A <a@example.org>"]

[tool.poetry.dependencies]
python = "^3.8"
a = { version = "^1.0", markers = "os_name == 'nt' or os_name == 'posix'", python = ">=3.9" }
b = { version = "*", platform = "linux || darwin" }
c = { version = "^2", optional = true }
d = { version = "^2", optional = true }
e = { git = "https://github.com/x/e.git", tag = "v1" }
f = { url = "https://example.org/f-1.0.tar.gz", extras = ["Y_z", "a"] }
h = { version = "^1", python = "~2.7 || ^3.6", markers = "sys_platform == 'linux'" }
i = { version = "^1", extras = ["s"], optional = true }
j = { version = "^1", optional = true, python = "^3.8", markers = "os_name == 'nt' or os_name == 'posix'" }
k = { version = "1.2.3.*" }
l = { version = "^1", platform = "linux || darwin", markers = "os_name == 'nt' or os_name == 'posix'" }

[tool.poetry.group.dev.dependencies]
pytest = "*"

[tool.poetry.dev-dependencies]
black = "*"

[tool.poetry.extras]
Fast_Stuff = ["c"]
other = ["C", "i", "j"]
`;

const TABLE_LINES = [
  'a (>=1.0,<2.0) ; os_name == "nt" and python_version >= "3.9" or os_name == "posix" and python_version >= "3.9"',
  'b ; sys_platform == "linux" or sys_platform == "darwin"',
  'c (>=2,<3) ; extra == "fast-stuff" or extra == "other"',
  // poetry-core 1.4 writes an optional dependency that no extra names without a condition.
  'd (>=2,<3)',
  'e @ git+https://github.com/x/e.git@v1',
  'f[a,y-z] @ https://example.org/f-1.0.tar.gz',
  'h (>=1,<2) ; python_version >= "2.7" and python_version < "2.8" and sys_platform == "linux" or python_version >= "3.6" and python_version < "4.0" and sys_platform == "linux"',
  'i[s] (>=1,<2) ; extra == "other"',
  'j (>=1,<2) ; (python_version >= "3.8" and python_version < "4.0" and os_name == "nt" or python_version >= "3.8" and python_version < "4.0" and os_name == "posix") and (extra == "other")',
  'k (>=1.2.0,<1.3.0)',
  'l (>=1,<2) ; os_name == "nt" and sys_platform == "linux" or os_name == "nt" and sys_platform == "darwin" or os_name == "posix" and sys_platform == "linux" or os_name == "posix" and sys_platform == "darwin"',
];

/** One dependency per constraint, `d0 = "^1.2.3"`…, for the live poetry-core check. */
function constraintsPyproject(constraints: string[]): string {
  const deps = constraints.map((c, i) => `d${i} = ${JSON.stringify(c)}`).join('\n');
  return `[tool.poetry]\nname = "x"\nversion = "1.0"\ndescription = ""\nauthors = ["A <a@example.org>"]\n\n[tool.poetry.dependencies]\npython = "~2.7 || ^3.5"\n${deps}\n`;
}

async function readTomlFromFixture(file: string): Promise<string> {
  const scan = await scanSdist(path.join(FIXTURES, file), { want: (n) => n.endsWith('/pyproject.toml') });
  return [...scan.entries.values()][0]!.toString('utf8');
}

/** A scan of `x-1.0/` holding these files (their text) and, as names only, `others`. */
function scanOf(texts: Record<string, string>, others: string[] = []) {
  const entries = new Map(Object.entries(texts).map(([n, t]) => [`x-1.0/${n}`, Buffer.from(t)]));
  return { entries, files: new Set([...entries.keys(), ...others.map((n) => `x-1.0/${n}`)]), root: 'x-1.0' };
}

const methodOf = (r: SdistStaticResult | FailureCode) =>
  typeof r === 'string' ? r : r.kind === 'static' ? r.method : r.kind;

describe('fixtures', () => {
  it.each([
    ['pkginfo22-static-1.0.tar.gz', 'pkg-info'],
    ['pkginfo22-dynamic-1.0.tar.gz', 'needs-setup-py'],
    ['pkginfo21-1.0.tar.gz', 'needs-setup-py'],
    ['pep621-static-1.0.tar.gz', 'pyproject'],
    ['pep621-static-1.0.tar.bz2', 'pyproject'],
    ['pep621-static-1.0.tar', 'pyproject'],
    ['pep621-static-1.0.zip', 'pyproject'],
    ['pep621-dynamic-1.0.tar.gz', 'needs-setup-py'],
    // setuptools' backend without setup.py: setuptools runs `setup()`, so does the sandbox
    ['pep621-dynamic-nosetup-1.0.tar.gz', 'needs-setup-py'],
    ['setuptools-cfg-1.0.tar.gz', 'needs-setup-py'],
    ['poetry-demo-1.0.tar.gz', 'poetry'],
    // the declared backend builds the sdist, not the setup.py stub beside it
    ['poetry-setuppy-1.0.tar.gz', 'poetry'],
    ['poetry-shared-1.0.tar.gz', 'poetry'],
    ['flit-old-1.0.tar.gz', 'flit'],
    ['flit-setuppy-1.0.tar.gz', 'flit'],
    // hatchling computes the dependencies: only its PEP 517 hook tells (issue 11 §2)
    ['hatch-stub-1.0.tar.gz', 'needs-pep517'],
    ['setuppy-only-1.0.tar.gz', 'needs-setup-py'],
    ['nothing-1.0.tar.gz', 'needs-pep517'],
    ['links-inside-1.0.tar.gz', 'pkg-info'],
    ['hostile-dotdot.tar.gz', 'archive-path-traversal'],
    ['hostile-symlink-chain.tar.gz', 'archive-link'],
    ['hostile-fifo.tar.gz', 'archive-device'],
  ])('%s → %s', async (file, expected) => {
    expect(methodOf(await outcome(file))).toBe(expected);
  });

  it('pkg-info: Requires-Dist verbatim, grouped by extra', async () => {
    const r = await outcome('pkginfo22-static-1.0.tar.gz');
    expect(r).toMatchObject({
      method: 'pkg-info',
      installRequires: [
        'requests>=2.0',
        'tomli; python_version < "3.11"',
        'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
        'pytest>=7; extra == "test" and python_version >= "3.9"',
      ],
      extrasRequire: { socks: ['PySocks!=1.5.7,>=1.5.6'], test: ['pytest>=7; python_version >= "3.9"'] },
      pythonRequires: '>=3.8',
      setupRequires: [],
      providesExtra: ['socks', 'test'],
    });
    expect(staticSdistDeps(r as never)).toEqual({
      install_requires: ['requests>=2.0', 'tomli; python_version < "3.11"'],
      setup_requires: [],
      extras_require: [
        ['socks', ['PySocks!=1.5.7,>=1.5.6']],
        ['test', ['pytest>=7; python_version >= "3.9"']],
      ],
      tests_require: [],
      python_requires: '>=3.8',
    });
  });

  it('pyproject: extras written as a backend writes them, keys PEP 685-normalized', async () => {
    const r = await outcome('pep621-static-1.0.tar.gz');
    expect(r).toMatchObject({
      method: 'pyproject',
      installRequires: [
        'httpx>=0.24,<1',
        "typing-extensions; python_version < '3.11'",
        'click>=8; extra == "cli"',
        'rich; extra == "cli"',
        `pytest; (sys_platform != 'win32') and extra == "test-suite"`,
      ],
      extrasRequire: { cli: ['click>=8', 'rich'], 'test-suite': ['pytest; sys_platform != "win32"'] },
      pythonRequires: '>=3.9',
    });
  });

  it('flit: requires, requires-extra, requires-python', async () => {
    const r = await outcome('flit-old-1.0.tar.gz');
    expect(r).toMatchObject({
      method: 'flit',
      extrasRequire: { test: ['pytest >=2.7.3', 'pytest-cov'], doc: ['sphinx'] },
      pythonRequires: '>=3.6',
    });
    expect(staticSdistDeps(r as never).install_requires).toEqual(['docutils', 'requests >=2.0']);
  });

  it('poetry: the Requires-Dist poetry-core would write', async () => {
    const r = await outcome('poetry-demo-1.0.tar.gz');
    expect(r).toMatchObject({
      method: 'poetry',
      installRequires: [
        'requests (>=2.31,<3.0)',
        'attrs (>=23.1,<23.2)',
        'click',
        'tomli (>=1.1.0) ; python_version < "3.11"',
        'colorama (>=0.4,<0.5) ; sys_platform == "win32"',
        'pyyaml (>=6.0,<7.0) ; extra == "yaml"',
        'uvicorn[standard] (==0.23.2)',
        'numpy (>=1.24,<1.25) ; python_version < "3.9"',
        'numpy (>=1.26,<2.0) ; python_version >= "3.9"',
        'Django (>=3.2,<5.0)',
      ],
      extrasRequire: { yaml: ['pyyaml (>=6.0,<7.0)'] },
      pythonRequires: '>=3.8,<4.0',
      providesExtra: ['yaml'],
    });
    // Every line is a valid PEP 508 requirement.
    for (const line of (r as { installRequires: string[] }).installRequires)
      expect(() => parseRequirement(line)).not.toThrow();
  });

  // Issue 11 §3: an optional dependency that several extras list is written once, with
  // `extra == "a" or extra == "b"`; it belongs to every one of them.
  it('poetry: an optional dependency shared by two extras is in both', async () => {
    const r = await outcome('poetry-shared-1.0.tar.gz');
    expect(r).toMatchObject({
      method: 'poetry',
      installRequires: [
        'rdflib (>=7,<8)',
        'httpx (>=0.28.1,<0.29.0) ; extra == "rdf4j" or extra == "graphdb"',
        'pillow (>=10,<11) ; (sys_platform != "win32") and (extra == "pil" or extra == "all")',
        'pypng ; extra == "all"',
      ],
      ungroupedExtras: [],
      providesExtra: ['all', 'graphdb', 'pil', 'rdf4j'],
    });
    expect(staticSdistDeps(r as never)).toEqual({
      install_requires: ['rdflib (>=7,<8)'],
      setup_requires: ['poetry-core>=1.0.0'],
      extras_require: [
        ['rdf4j', ['httpx (>=0.28.1,<0.29.0)']],
        ['graphdb', ['httpx (>=0.28.1,<0.29.0)']],
        ['pil', ['pillow (>=10,<11); sys_platform != "win32"']],
        ['all', ['pillow (>=10,<11); sys_platform != "win32"', 'pypng']],
      ],
      tests_require: [],
      python_requires: '>=3.9,<4.0',
    });
  });

  it('follows the declared backend, not a setup.py stub beside it', async () => {
    const demo = (await outcome('poetry-demo-1.0.tar.gz')) as SdistStaticMetadata;
    const stub = (await outcome('poetry-setuppy-1.0.tar.gz')) as SdistStaticMetadata;
    expect(stub.installRequires).toEqual(demo.installRequires);
    expect(stub.notes.join('\n')).toMatch(/setup\.py is not run/);
    const flit = (await outcome('flit-old-1.0.tar.gz')) as SdistStaticMetadata;
    const flitStub = (await outcome('flit-setuppy-1.0.tar.gz')) as SdistStaticMetadata;
    expect(flitStub.installRequires).toEqual(flit.installRequires);
    // hatchling computes its dependencies: its PEP 517 hook, never the stub's empty answer
    expect(await readSdistStaticMetadata(path.join(FIXTURES, 'hatch-stub-1.0.tar.gz'))).toMatchObject({
      kind: 'needs-pep517',
      backend: 'hatchling.build',
      reason: expect.stringMatching(/hatchling\.build .*setup\.py is not run/),
    });
    // an in-tree backend without setup.py: its hook, from its backend-path
    expect(
      extractStaticMetadata(
        scanOf({
          'pyproject.toml':
            '[build-system]\nrequires = ["dynback"]\nbuild-backend = "backend"\nbackend-path = ["_custom"]\n',
        }),
      ),
    ).toMatchObject({
      kind: 'needs-pep517',
      backend: 'backend',
      backendPath: ['_custom'],
      buildRequires: ['dynback'],
    });
    // an unknown backend may wrap setuptools: its setup.py still runs
    const custom = extractStaticMetadata(
      scanOf(
        {
          'pyproject.toml':
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "backend"\nbackend-path = ["_custom"]\n',
        },
        ['setup.py'],
      ),
    );
    expect(custom).toMatchObject({ kind: 'needs-setup-py', hasSetupPy: true, buildRequires: ['setuptools'] });
  });

  it('runs setuptools without setup.py when pyproject.toml says setuptools (or no backend)', async () => {
    expect(await outcome('setuptools-cfg-1.0.tar.gz')).toMatchObject({
      kind: 'needs-setup-py',
      hasSetupPy: false,
      buildRequires: ['setuptools>=40.8', 'wheel'],
    });
    expect(
      extractStaticMetadata(scanOf({ 'pyproject.toml': '[tool.black]\nline-length = 99\n' }, ['setup.cfg'])),
    ).toMatchObject({ kind: 'needs-setup-py', hasSetupPy: false, buildRequires: [] });
    // without a pyproject.toml pip refuses a project without setup.py
    expect(() => extractStaticMetadata(scanOf({}, ['setup.cfg']))).toThrow(
      expect.objectContaining({ code: 'no-static-metadata' }),
    );
  });

  it('records [build-system] requires as what building needs', async () => {
    const setup = async (f: string) => ((await outcome(f)) as SdistStaticMetadata).setupRequires;
    expect(await setup('pep621-static-1.0.tar.gz')).toEqual(['hatchling']);
    expect(await setup('flit-old-1.0.tar.gz')).toEqual(['flit']);
    expect(await setup('poetry-demo-1.0.tar.gz')).toEqual(['poetry-core>=1.0.0']);
    expect(await setup('pkginfo22-static-1.0.tar.gz')).toEqual([]); // no pyproject.toml
    expect(staticSdistDeps((await outcome('flit-old-1.0.tar.gz')) as SdistStaticMetadata)).toMatchObject({
      setup_requires: ['flit'],
    });
    expect(await outcome('pkginfo22-dynamic-1.0.tar.gz')).toMatchObject({ buildRequires: [] });
    const broken = extractStaticMetadata(
      scanOf({ 'pyproject.toml': '[build-system]\nrequires = "setuptools"\n' }, ['setup.py']),
    );
    expect(broken).toMatchObject({ kind: 'needs-setup-py', buildRequires: [] });
    expect(broken.notes).toContain('build-system: requires is not a list of strings');
  });

  it('puts [build-system] requires before the setup_requires setup.py adds', () => {
    expect(withBuildRequires(['setuptools>=61', 'setuptools_scm'], ['setuptools_scm', 'cython'])).toEqual([
      'setuptools>=61',
      'setuptools_scm',
      'cython',
    ]);
    expect(withBuildRequires([], ['pbr>=2.0'])).toEqual(['pbr>=2.0']);
  });

  it('groups `extra == "a" or extra == "b"` into both extras, alone or beside other conditions', () => {
    const pkgInfo = (lines: string[]) =>
      extractStaticMetadata(
        scanOf({
          'PKG-INFO': `Metadata-Version: 2.3\nName: x\nVersion: 1.0\n${lines.map((l) => `Requires-Dist: ${l}\n`).join('')}`,
        }),
      );
    expect(
      pkgInfo([
        'a; extra == "x" or extra == "Y_Z"',
        'b; python_version < "3" and (extra == "x" or (extra == "w"))',
        'c; (os_name == "nt" or os_name == "posix") and (extra == "x" or extra == "x")',
        'd; extra == "x" or python_version < "3"',
        'e; extra == "x" and (extra == "w" or os_name == "nt")',
      ]),
    ).toMatchObject({
      extrasRequire: {
        x: ['a', 'b; python_version < "3"', 'c; os_name == "nt" or os_name == "posix"'],
        'y-z': ['a'],
        w: ['b; python_version < "3"'],
      },
      ungroupedExtras: [
        'd; extra == "x" or python_version < "3"',
        'e; extra == "x" and (extra == "w" or os_name == "nt")',
      ],
    });
  });

  it('never answers an empty list when nothing is static', async () => {
    expect(() => extractStaticMetadata({ entries: new Map(), files: new Set(), root: 'x-1.0' })).toThrow(
      expect.objectContaining({ code: 'no-static-metadata' }),
    );
    expect(
      extractStaticMetadata({ entries: new Map(), files: new Set(['x-1.0/setup.py']), root: 'x-1.0' }),
    ).toMatchObject({ kind: 'needs-setup-py', hasSetupPy: true, buildRequires: [] });
  });

  it('falls through a broken PKG-INFO and a broken pyproject.toml', () => {
    const r = extractStaticMetadata({
      entries: new Map([
        ['x-1.0/PKG-INFO', Buffer.from('Metadata-Version: 2.2\nName: x\n')],
        ['x-1.0/pyproject.toml', Buffer.from('[project\n')],
      ]),
      files: new Set(['x-1.0/setup.py']),
      root: 'x-1.0',
    });
    expect(r.kind).toBe('needs-setup-py');
    expect(r.notes.join('\n')).toMatch(/metadata-invalid[\s\S]*not TOML/);
  });

  it('pkg-info: Dynamic Requires-Python, ungroupable extras, an invalid line', () => {
    const pkgInfo = (extra: string) => ({
      entries: new Map([
        [
          'x-1.0/PKG-INFO',
          Buffer.from(
            `Metadata-Version: 2.4\nName: x\nVersion: 1.0\nDynamic: Requires-Python\nRequires-Python: >=3\n${extra}`,
          ),
        ],
      ]),
      files: new Set(['x-1.0/setup.py']),
      root: 'x-1.0',
    });
    const r = extractStaticMetadata(
      pkgInfo(
        'Requires-Dist: a; extra == "x" or python_version < "3"\nRequires-Dist: b; (extra == "Y.Z")\nRequires-Dist: c; python_version < "3" and extra == "y-z"\n',
      ),
    );
    expect(r).toMatchObject({
      method: 'pkg-info',
      pythonRequires: null,
      extrasRequire: { 'y-z': ['b', 'c; python_version < "3"'] },
      ungroupedExtras: ['a; extra == "x" or python_version < "3"'],
    });
    expect(staticSdistDeps(r as never)).toEqual({
      install_requires: [],
      setup_requires: [],
      extras_require: [['y-z', ['b', 'c; python_version < "3"']]],
      tests_require: [],
      python_requires: null,
    });
    // A Requires-Dist that is no requirement: PKG-INFO is passed over.
    expect(extractStaticMetadata(pkgInfo('Requires-Dist: a (>=1\n'))).toMatchObject({
      kind: 'needs-setup-py',
    });
  });

  it('a PEP 621 project without dependencies (and none dynamic) has none', () => {
    const r = extractStaticMetadata({
      entries: new Map([['x-1.0/pyproject.toml', Buffer.from('[project]\nname = "x"\nversion = "1"\n')]]),
      files: new Set(),
      root: 'x-1.0',
    });
    expect(r).toMatchObject({
      kind: 'static',
      method: 'pyproject',
      installRequires: [],
      pythonRequires: null,
    });
  });
});

describe('cross-check with Python (email.parser, tomllib, packaging)', () => {
  const files = [
    'pkginfo22-static-1.0.tar.gz',
    'pep621-static-1.0.tar.gz',
    'pep621-static-1.0.tar.bz2',
    'pep621-static-1.0.zip',
    'flit-old-1.0.tar.gz',
    'flit-setuppy-1.0.tar.gz',
    'links-inside-1.0.tar.gz',
    'poetry-demo-1.0.tar.gz',
    'poetry-shared-1.0.tar.gz',
  ];
  // For each archive Python reads the source of truth itself (PKG-INFO headers, or pyproject
  // tables) and, in several environments and with each extra, evaluates which requirements apply —
  // from the source, from our installRequires lines, and from our grouping. All three must agree.
  // For poetry the source is our Requires-Dist lines (what poetry-core writes: checked against it
  // below), so the grouping — what is published — is checked against them.
  const script = `
import email.parser, io, json, sys, tarfile, tomllib, zipfile
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

def members(p):
    if p.endswith('.zip'):
        z = zipfile.ZipFile(p); return {n: z.read(n) for n in z.namelist()}
    t = tarfile.open(p); return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}

def active(lines, env, extra):
    out = set()
    for line in lines:
        r = Requirement(line)
        e = dict(env, extra=extra or '')
        if r.marker is None or r.marker.evaluate(e):
            r.marker = None; out.add(str(r))
    return out

ENVS = []
for pv, full in (('3.8', '3.8.10'), ('3.10', '3.10.4'), ('3.12', '3.12.1')):
    for plat in ('linux', 'win32'):
        e = default_environment(); e.update(python_version=pv, python_full_version=full, sys_platform=plat); ENVS.append(e)

report = {}
for p, ours in json.loads(sys.stdin.read()).items():
    files = members(p)
    root = sorted(files)[0].split('/')[0]
    problems = []
    if ours['method'] == 'pkg-info':
        msg = email.parser.BytesParser().parsebytes(files[root + '/PKG-INFO'])
        mv = tuple(int(x) for x in msg['Metadata-Version'].split('.'))
        dyn = [d.lower() for d in msg.get_all('Dynamic') or []]
        if mv < (2, 2) or 'requires-dist' in dyn: problems.append('pkg-info not trustworthy')
        src_base = msg.get_all('Requires-Dist') or []
        if src_base != ours['installRequires']: problems.append(['Requires-Dist', src_base])
        if msg['Requires-Python'] != ours['pythonRequires']: problems.append('Requires-Python')
        src_extras = {}
        extras = [canonicalize_name(x) for x in msg.get_all('Provides-Extra') or []]
    elif ours['method'] == 'poetry':
        src_base = ours['installRequires']
        src_extras = {}
        extras = ours['providesExtra']
    else:
        doc = tomllib.loads(files[root + '/pyproject.toml'].decode())
        if ours['method'] == 'pyproject':
            proj = doc['project']; src_base = proj.get('dependencies', []); src_extras = proj.get('optional-dependencies', {})
            rp = proj.get('requires-python')
        else:
            flit = doc['tool']['flit']['metadata']; src_base = flit.get('requires', []); src_extras = flit.get('requires-extra', {})
            rp = flit.get('requires-python')
        if rp != ours['pythonRequires']: problems.append('requires-python')
        extras = [canonicalize_name(x) for x in src_extras]
    src_extras = {canonicalize_name(k): v for k, v in src_extras.items()}
    if sorted(extras) != sorted(ours['providesExtra']): problems.append(['extras', extras])
    grouped_base = [l for l in ours['installRequires'] if 'extra' not in str(Requirement(l).marker or '')]
    for env in ENVS:
        for extra in [None] + extras:
            src = active(src_base, env, extra) | (active(src_extras.get(extra, []), env, None) if extra else set())
            lines = active(ours['installRequires'], env, extra)
            grouping = active(grouped_base, env, None) | (active(ours['extrasRequire'].get(extra, []), env, None) if extra else set())
            if src != lines or src != grouping:
                problems.append([env['python_version'], env['sys_platform'], extra, sorted(src), sorted(lines), sorted(grouping)])
    report[p] = problems
print(json.dumps(report))
`;

  it('agrees on every archive, environment and extra', async () => {
    const ours: Record<string, unknown> = {};
    for (const f of files) ours[path.join(FIXTURES, f)] = await outcome(f);
    const child = execFile('python3', ['-c', script]);
    const out = new Promise<string>((resolve, reject) => {
      let s = '';
      let e = '';
      child.stdout!.on('data', (d) => {
        s += d;
      });
      child.stderr!.on('data', (d) => {
        e += d;
      });
      child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(e))));
    });
    child.stdin!.end(JSON.stringify(ours));
    const report = JSON.parse(await out) as Record<string, unknown[]>;
    expect(Object.keys(report)).toHaveLength(files.length);
    for (const [p, problems] of Object.entries(report)) expect(problems, p).toEqual([]);
  });
});

// Expected strings derived from poetry's documented rules (python-poetry/poetry,
// docs/dependency-specification.md: "Caret requirements", "Tilde requirements", "Wildcard
// requirements", "Inequality requirements", "Multiple requirements", "Exact requirements") and from
// poetry-core's writing of them: Version.next_major/next_minor/next_patch keep the precision the
// version was written with (src/poetry/core/version/pep440/segments.py, Release.next_*),
// VersionRange.__str__ is `>=min,<max`, Dependency.base_pep_508_name puts the constraint in
// parentheses with blanks removed and a bare version as `==v`, and a `~=` constraint takes
// next_major for two release numbers, next_minor for more (constraints/version/parser.py).
const CONSTRAINT_CASES: Array<[string, string]> = [
  ['^1.2.3', '>=1.2.3,<2.0.0'],
  ['^1.2', '>=1.2,<2.0'],
  ['^1', '>=1,<2'],
  ['^0.2.3', '>=0.2.3,<0.3.0'],
  ['^0.0.3', '>=0.0.3,<0.0.4'],
  ['^0.0', '>=0.0,<0.1'],
  ['^0', '>=0,<1'],
  ['~1.2.3', '>=1.2.3,<1.3.0'],
  ['~1.2', '>=1.2,<1.3'],
  ['~1', '>=1,<2'],
  ['~=1.2', '>=1.2,<2.0'],
  ['~=1.2.3', '>=1.2.3,<1.3.0'],
  ['*', ''],
  // Wildcard bounds get three numbers (poetry-core 1.4; the docs' table says `>=1.0.0 <2.0.0`).
  ['1.*', '>=1.0.0,<2.0.0'],
  ['1.2.*', '>=1.2.0,<1.3.0'],
  ['>= 1.2.0', '>=1.2.0'],
  ['> 1', '>1'],
  ['< 2', '<2'],
  ['<=2.1', '<=2.1'],
  ['!= 1.2.3', '!=1.2.3'],
  ['>= 1.2, < 1.5', '>=1.2,<1.5'],
  ['<1.5,>=1.2', '>=1.2,<1.5'],
  ['>=1.2 <1.5', '>=1.2,<1.5'],
  ['^1.2,!=1.4.1', '>=1.2,<2.0,!=1.4.1'],
  ['==1.2.3', '==1.2.3'],
  ['1.2.3', '==1.2.3'],
  ['^1.0 || ^2.0', '>=1.0,<3.0'],
  ['^1.0 || ^3.0', '>=1.0,<2.0 || >=3.0,<4.0'],
  ['>=1.0,<2.0 || >=1.5', '>=1.0'],
];

describe('poetry constraints', () => {
  it.each(CONSTRAINT_CASES)('%s → %s', (poetry, pep440) => {
    expect(poetryConstraintToPep440(parsePoetryConstraint(poetry))).toBe(pep440);
  });

  // create_nested_marker('python_version', …) in poetry-core packages/utils/utils.py: three release
  // numbers use python_full_version; `>x.y` and `<=x.y` are padded to x.y.0 on python_full_version.
  it.each([
    ['^3.8', 'python_version >= "3.8" and python_version < "4.0"'],
    ['<3.11', 'python_version < "3.11"'],
    ['>=3.6.2', 'python_full_version >= "3.6.2"'],
    ['>3.8', 'python_full_version > "3.8.0"'],
    ['<=3.9', 'python_full_version <= "3.9.0"'],
    ['3.8', 'python_version == "3.8"'],
    ['~3.8.1', 'python_full_version >= "3.8.1" and python_full_version < "3.9.0"'],
    [
      '~2.7 || ^3.6',
      'python_version >= "2.7" and python_version < "2.8" or python_version >= "3.6" and python_version < "4.0"',
    ],
  ])('python = %s → %s', (poetry, marker) => {
    expect(dnfToString(poetryPythonMarker(parsePoetryConstraint(poetry)) ?? [])).toBe(marker);
  });

  // format_python_constraint (poetry-core): `3.8` is `~3.8`, a union is written against the Python
  // series as `>=low, !=3.0.*, …` (the well-known `>=2.7, !=3.0.*, !=3.1.*` of poetry packages).
  it.each([
    ['^3.8', '>=3.8,<4.0'],
    ['>=3.7', '>=3.7'],
    ['3.8', '>=3.8,<3.9'],
    ['3.8.1', '==3.8.1'],
    ['*', null],
    ['~2.7 || ^3.5', '>=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*'],
  ])('requires-python from %s → %s', (poetry, spec) => {
    expect(poetryRequiresPython(poetry)).toBe(spec);
  });

  // The expected lines are what poetry-core 1.4 (Debian's python3-poetry-core) writes for this
  // table; the test below re-checks them live when that poetry-core is installed.
  it('dependency tables: markers, python, platform, extras, optional, git and url, groups ignored', () => {
    const deps = readPoetryDependencies(
      (parseToml(TABLE_PYPROJECT) as { tool: { poetry: never } }).tool.poetry,
    );
    expect(deps.requirements.map((r) => r.line)).toEqual(TABLE_LINES);
    expect(deps.requiresPython).toBe('>=3.8,<4.0');
    expect(deps.providesExtra).toEqual(['fast-stuff', 'other']);
    expect(deps.skipped).toEqual([]);
    expect(readPoetryDependencies({ dependencies: { g: { path: '../g' } } }).skipped).toEqual([
      'g: path dependency ../g',
    ]);
    for (const r of deps.requirements) expect(() => parseRequirement(r.line)).not.toThrow();
  });

  it.skipIf(!HAS_POETRY_CORE)('agrees with the installed poetry-core, line for line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'poetry-'));
    try {
      const tables = {
        table: TABLE_PYPROJECT,
        fixture: await readTomlFromFixture('poetry-demo-1.0.tar.gz'),
        constraints: constraintsPyproject(CONSTRAINT_CASES.map(([c]) => c)),
      };
      for (const [name, text] of Object.entries(tables)) {
        await mkdir(path.join(dir, name));
        await writeFile(path.join(dir, name, 'pyproject.toml'), text);
        const script = `
import json, sys
from pathlib import Path
from poetry.core.factory import Factory
from poetry.core.masonry.metadata import Metadata
m = Metadata.from_package(Factory().create_poetry(Path(sys.argv[1])).package)
print(json.dumps({'lines': m.requires_dist, 'python': m.requires_python, 'extras': sorted(m.provides_extra)}))`;
        const { stdout } = await run(POETRY_PYTHON, ['-W', 'ignore', '-c', script, path.join(dir, name)]);
        const theirs = JSON.parse(stdout) as { lines: string[]; python: string; extras: string[] };
        const ours = readPoetryDependencies((parseToml(text) as { tool: { poetry: never } }).tool.poetry);
        expect(
          ours.requirements.map((r) => r.line),
          name,
        ).toEqual(theirs.lines);
        expect(ours.requiresPython, name).toBe(theirs.python);
        expect(ours.providesExtra, name).toEqual(theirs.extras);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
