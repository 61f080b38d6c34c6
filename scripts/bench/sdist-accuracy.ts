// pnpm bench sdist-accuracy: are the dependencies we extract from an sdist the ones a real build
// writes? For every sdist of test/fixtures/accuracy/ (scripts/make-accuracy-fixtures.py) the truth
// is the METADATA of a wheel built from it offline by the host Python 3.11.7 with its setuptools
// (`pip wheel --no-deps --no-build-isolation --no-index`); ours is readSdistStaticMetadata's
// result when the sdist has static metadata, else runSandbox's `311` result converted to
// Requires-Dist lines the way setuptools and wheel write them. Requirements are compared after
// normalization (PEP 503 names, sorted extras, the specifier set as packaging prints it, the
// marker as packaging prints it with extra values by PEP 685), extras by PEP 685 name, and
// Requires-Python by its specifier set. A second comparison checks what is published, the
// pypi-deps-db fields (`install_requires`, `extras_require` by extra): in a few environments
// and with each extra, the requirements they select must be the ones the wheel's Requires-Dist
// selects (a grouping that loses a line shows there, not in the Requires-Dist view). Every
// mismatch gets its explanation (EXPLAINED below) or is reported as unexplained.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import {
  readSdistStaticMetadata,
  runSandbox,
  type SetupPyDependencies,
  staticSdistDeps,
} from '@pypi-graph/extractor';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';
import {
  evaluateMarker,
  formatSpecifierSet,
  markerEnvironment,
  normalizeExtra,
  parseRequirement,
  parseSpecifierSet,
  pep503Name,
} from '@pypi-graph/pyspec';
import {
  gitRevision,
  loadAverage,
  machineFacts,
  markdownTable,
  progress,
  REPO_ROOT,
  textTable,
  writeDocSection,
} from './common';
import { LOCAL_SIMPLE } from './local-index';
import { BUILD_DEPS_EXERCISES, type BuildDepsRow, runBuildDepsCases } from './sdist-accuracy-build-deps';

const execFileP = promisify(execFile);

const HEADING = 'Sdist accuracy';
const DEFAULT_PYTHON = path.join(os.homedir(), '.pyenv', 'versions', '3.11.7', 'bin', 'python');
/** Debian's `wheel` (python3-wheel), exposed to the pyenv interpreter alone: it has none. */
const DEBIAN_WHEEL = '/usr/lib/python3/dist-packages';
const WHEEL_PARTS = ['wheel', 'wheel-0.38.4.egg-info'];
/**
 * The build backends of the poetry and flit fixtures, pure-Python wheels on this machine's disk,
 * unpacked next to `wheel` for the truth builds alone (nothing is installed).
 */
const BACKEND_WHEELS = [
  '/opt/pypi/files/poetry_core-2.5.0-py3-none-any.whl',
  '/opt/pypi/files/flit_core-4.1.0-py3-none-any.whl',
];

const USAGE = `usage: pnpm bench sdist-accuracy [--fixtures test/fixtures/accuracy] [--python PATH]
                                 [--doc docs/benchmarks.md] [--no-doc] [--only NAME,…]

  --fixtures  the sdists (written by python3 scripts/make-accuracy-fixtures.py)
  --python    the interpreter that builds the truth wheels (pyenv 3.11.7: the sandbox's "311")
  --doc       where the "## ${HEADING}" section is written
  --no-doc    print the results only
  --only      these fixtures only (comma-separated names, e.g. acc-poetry,acc-plain); implies --no-doc
  --verbose   print both normalized sides of every comparison (stderr)
  --keep      keep the working directory (truth wheels' builds, the build-dependency cases'
              index and embedded database: DATA_DIR=<dir>/bd-data pnpm pypi-graph show <name>)
  --no-build-deps  leave out the build-dependency cases (they need the local package index
              ${LOCAL_SIMPLE} and run by default when it exists)`;

/** What each fixture exercises (the table's second column). */
const EXERCISES: Record<string, string> = {
  'acc-plain': 'plain install_requires',
  'acc-extras': 'extras_require, plain keys',
  'acc-colon-marker': 'extras_require `:marker` keys',
  'acc-extra-marker': 'extras_require `extra:marker` keys, an empty extra',
  'acc-python-requires': 'python_requires, a marker in install_requires',
  'acc-setup-cfg':
    'setup.cfg only (`[options] install_requires`, `[options.extras_require]`, `attr:` version)',
  'acc-setup-cfg-extras':
    'setup.cfg extras whose names normalize (`Dev_Tools`, `all.plots`), marker in an extra',
  'acc-requirements-txt': 'requirements read from requirements.txt files',
  'acc-version-import': 'version by importing the package',
  'acc-version-regex': 'version by a regex over `__init__.py`',
  'acc-version-import-dep': 'version by importing the package, which imports its dependency `six`',
  'acc-markers': 'markers in install_requires',
  'acc-env-py2': '`if sys.version_info < (3,)` adds dependencies',
  'acc-env-minor': '`if sys.version_info < (3, 11)` / `>= (3, 12)` add dependencies',
  'acc-env-platform': '`sys.platform` / `platform.system()` choose a dependency',
  'acc-distutils-requires': '`distutils.core.setup(requires=…)` (metadata 1.1 `Requires`)',
  'acc-pep621': 'PEP 621 pyproject, setuptools backend',
  'acc-pep621-dynamic': 'PEP 621 pyproject, dependencies dynamic from setup.py',
  'acc-pkg-info-22': 'PKG-INFO 2.2 with Requires-Dist (PEP 643)',
  'acc-pkg-info-dynamic': 'PKG-INFO 2.2 with `Dynamic: Requires-Dist`',
  'acc-extra-value-markers': 'markers inside extras_require values',
  'acc-names-urls': 'names that normalize, a direct URL, extras of a dependency',
  'acc-setup-tests-requires': 'tests_require (not in METADATA)',
  'acc-multiline-string': 'install_requires as one multi-line string, extras value a tuple',
  'acc-self-extra': 'an extra requiring the project itself with other extras',
  'acc-or-markers': 'markers with `or` in install_requires, a `:marker` key and an `extra:marker` key',
  'acc-readme-find-packages': 'README read with an encoding, find_packages, python_requires',
  'acc-poetry':
    '`[tool.poetry]` only: caret, tilde, `*`, markers, `python` and `platform` constraints, optional dependencies in extras (names that normalize), a dependency with extras, a group ignored',
  'acc-flit-pep621': 'flit_core backend with PEP 621 `[project]`',
  'acc-setup-cfg-nosetup':
    '`[build-system]` setuptools.build_meta, metadata in setup.cfg, no setup.py (setuptools runs `setup()`)',
  'acc-poetry-shared-extras':
    'poetry: an optional dependency listed by two extras, one extra part of another (`pil` / `all`)',
  'acc-poetry-setuppy-stub': 'poetry backend with a compatibility setup.py stub (the backend builds it)',
};

/**
 * Why a fixture's comparison is known to disagree, when it does. A mismatch without an entry is
 * reported as unexplained (and the command exits 1).
 */
const EXPLAINED: Record<string, string> = {
  'acc-version-import-dep':
    "setup.py imports the package, which imports `six`, a dependency it does not declare as a build requirement. The truth wheel is built by the host's `pip wheel --no-build-isolation`, which runs in the host 3.11.7 interpreter with everything installed in its site-packages, `six` included. The sandbox shows no host-installed package to setup.py (only the standard library and the setuptools shipped for it: nix/interpreters-host.nix), so 311 fails as the other eight Pythons do, with `missing-build-dependency` naming `six` — as a build with pip's default build isolation (setuptools and wheel only) would fail. Our result no longer depends on what happens to be installed on the host.",
};

/** Why other Pythons give another result than 311, for the section's notes (shown when they do). */
const NOTES: Record<string, string> = {
  'acc-env-py2':
    'the `sys.version_info < (3,)` branch runs under 2.7 only: the graph records those dependencies for 27, the wheel built with 3.11 cannot show them.',
  'acc-env-minor':
    'the branches choose by minor version: `tomli` below 3.11, `setuptools>=68` from 3.12; 311 has neither, as the wheel.',
  'acc-readme-find-packages':
    "`open(…, encoding=…)` does not exist in Python 2's builtins: the script fails under 2.7 (`setup-py-error`), as it would for a 2.7 user.",
  'acc-version-import-dep':
    'setup.py imports `six`, which no interpreter in the sandbox has: `missing-build-dependency` under all nine (see the mismatch above).',
};

interface Normalized {
  requires: Set<string>;
  extras: Set<string>;
  pythonRequires: string;
}

function normRequirement(line: string): string {
  const r = parseRequirement(line);
  const extras = [...new Set(r.extras.map(normalizeExtra))].sort().join(',');
  return (
    pep503Name(r.name) +
    (extras ? `[${extras}]` : '') +
    (r.url ? ` @ ${r.url}` : r.specifier ? ` ${r.specifier}` : '') +
    (r.markerText ? `; ${r.markerText}` : '')
  );
}

function normPythonRequires(text: string | null): string {
  if (!text?.trim()) return '';
  return formatSpecifierSet(parseSpecifierSet(text));
}

/** The headers of a METADATA file (before the first blank line), continuation lines joined. */
function metadataHeaders(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line) && out.length > 0) {
      out[out.length - 1]![1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i > 0) out.push([line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()]);
  }
  return out;
}

function truthOf(metadata: string): { normalized: Normalized; lines: string[] } {
  const h = metadataHeaders(metadata);
  const lines = h.filter(([k]) => k === 'requires-dist').map(([, v]) => v);
  return {
    lines,
    normalized: {
      requires: new Set(lines.map(normRequirement)),
      extras: new Set(h.filter(([k]) => k === 'provides-extra').map(([, v]) => normalizeExtra(v))),
      pythonRequires: normPythonRequires(h.find(([k]) => k === 'requires-python')?.[1] ?? null),
    },
  };
}

/**
 * A sandbox result as Requires-Dist lines, as setuptools 65 (dist.py `_finalize_requires`: markers
 * of install_requires moved to `":marker"` keys, those of extras' values to `"extra:marker"`,
 * already done in the sandbox) and wheel 0.38 (`metadata.generate_requirements`) write them:
 * `req` for install_requires; for a key `extra:condition`, `req; (condition) and extra == "extra"`;
 * for `:condition`, `req; condition`; for `extra`, `req; extra == "extra"`.
 */
export function requiresDistOfSetupPy(deps: SetupPyDependencies): { lines: string[]; extras: string[] } {
  const lines = [...deps.install_requires];
  const extras: string[] = [];
  for (const [key, values] of Object.entries(deps.extras_require)) {
    const colon = key.indexOf(':');
    const extra = colon < 0 ? key : key.slice(0, colon);
    const condition = colon < 0 ? '' : key.slice(colon + 1).trim();
    let marker = '';
    if (extra) {
      extras.push(extra);
      marker = `${condition ? `(${condition}) and ` : ''}extra == "${extra}"`;
    } else {
      marker = condition;
    }
    for (const value of values) {
      const semi = value.indexOf(';');
      // setuptools strips a value's own marker into the key; keep one if it is still there
      const own = semi < 0 ? '' : value.slice(semi + 1).trim();
      const req = semi < 0 ? value : value.slice(0, semi).trim();
      const m = own && marker ? `(${own}) and (${marker})` : own || marker;
      lines.push(m ? `${req}; ${m}` : req);
    }
  }
  return { lines, extras };
}

function normalizeOurs(lines: string[], extras: string[], pythonRequires: string | null): Normalized {
  return {
    requires: new Set(lines.map(normRequirement)),
    extras: new Set(extras.map(normalizeExtra)),
    pythonRequires: normPythonRequires(pythonRequires),
  };
}

/** The environments the published view is evaluated in (markerEnvironment). */
const VIEW_ENVS: Array<[string, 'linux' | 'darwin' | 'win32']> = [
  ['2.7.18', 'linux'],
  ['3.8.18', 'win32'],
  ['3.11.7', 'linux'],
  ['3.12.1', 'darwin'],
];

/** A requirement without its marker, normalized (what is selected, not when). */
function selected(line: string): string {
  const r = parseRequirement(line);
  const extras = [...new Set(r.extras.map(normalizeExtra))].sort().join(',');
  return `${pep503Name(r.name)}${extras ? `[${extras}]` : ''}${r.url ? ` @ ${r.url}` : r.specifier}`;
}

/**
 * What a set of requirements selects, per environment and extra (`env|extra|requirement`):
 * `base` evaluated with the extra set (Requires-Dist lines carry their `extra == …`), plus, for
 * an extra, `byExtra[extra]` evaluated without one (pypi-deps-db's grouping).
 */
function selections(
  base: string[],
  byExtra: Record<string, string[]>,
  extras: Iterable<string>,
): Set<string> {
  const out = new Set<string>();
  const active = (line: string, env: ReturnType<typeof markerEnvironment>) => {
    const r = parseRequirement(line);
    return r.marker === null || evaluateMarker(r.marker, env);
  };
  for (const [python, platform] of VIEW_ENVS) {
    for (const extra of ['', ...extras]) {
      const tag = `${python} ${platform}|${extra}|`;
      for (const line of base)
        if (active(line, markerEnvironment(python, platform, extra))) out.add(tag + selected(line));
      if (extra === '') continue;
      for (const [key, lines] of Object.entries(byExtra)) {
        if (normalizeExtra(key) !== extra) continue;
        for (const line of lines)
          if (active(line, markerEnvironment(python, platform))) out.add(tag + selected(line));
      }
    }
  }
  return out;
}

/** setup.py's fields as published: `:cond` keys join install_requires, `extra:cond` keys their extra. */
function publishedOfSetupPy(deps: SetupPyDependencies): {
  base: string[];
  byExtra: Record<string, string[]>;
} {
  const base = [...deps.install_requires];
  const byExtra: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(deps.extras_require)) {
    const colon = key.indexOf(':');
    const extra = colon < 0 ? key : key.slice(0, colon);
    const condition = colon < 0 ? '' : key.slice(colon + 1).trim();
    const lines = values.map((v) => {
      if (!condition) return v;
      const semi = v.indexOf(';');
      return semi < 0
        ? `${v}; ${condition}`
        : `${v.slice(0, semi)}; (${v.slice(semi + 1)}) and (${condition})`;
    });
    if (extra) byExtra[extra] = [...(byExtra[extra] ?? []), ...lines];
    else base.push(...lines);
  }
  return { base, byExtra };
}

function setDiff(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

interface Row {
  fixture: string;
  method: string;
  truthLines: number;
  agree: boolean;
  differences: string[];
  /** Sandbox runs only: Pythons whose result differs from 311's (as Requires-Dist), or failed. */
  otherPythons: string;
  explanation: string;
}

async function buildTruth(python: string, sdist: string, shim: string, tmp: string): Promise<string> {
  const out = await mkdtemp(path.join(tmp, 'wheel-'));
  const args = [
    '-m',
    'pip',
    'wheel',
    '--no-deps',
    '--no-build-isolation',
    '--no-index',
    '-q',
    '-w',
    out,
    sdist,
  ];
  try {
    await execFileP(python, args, {
      cwd: tmp,
      env: { ...process.env, PYTHONPATH: shim, PIP_NO_INPUT: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
      timeout: 180_000,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`pip wheel failed for ${sdist}: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
  const wheels = (await readdir(out)).filter((f) => f.endsWith('.whl'));
  if (wheels.length !== 1) throw new Error(`pip wheel wrote ${wheels.length} wheels for ${sdist}`);
  const read = `
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
assert len(names) == 1, names
sys.stdout.write(z.read(names[0]).decode("utf-8"))
`;
  const { stdout } = await execFileP(python, ['-c', read, path.join(out, wheels[0]!)], {
    maxBuffer: 16 << 20,
  });
  await rm(out, { recursive: true, force: true });
  return stdout;
}

async function tool(python: string, code: string): Promise<string> {
  const { stdout } = await execFileP(python, ['-c', code]);
  return stdout.trim();
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      fixtures: { type: 'string', default: path.join(REPO_ROOT, 'test', 'fixtures', 'accuracy') },
      python: { type: 'string', default: DEFAULT_PYTHON },
      doc: { type: 'string', default: path.join(REPO_ROOT, 'docs', 'benchmarks.md') },
      'no-doc': { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      only: { type: 'string' },
      'no-build-deps': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  // A partial run never rewrites the doc's section.
  const only = values.only === undefined ? null : new Set(values.only.split(',').map((n) => n.trim()));
  if (only) values['no-doc'] = true;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const python = values.python;
  const fixturesDir = path.resolve(values.fixtures);
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const loadBefore = loadAverage();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-accuracy-'));
  const shim = path.join(tmp, 'wheel-shim');
  await mkdir(shim);
  for (const part of WHEEL_PARTS) await symlink(path.join(DEBIAN_WHEEL, part), path.join(shim, part));
  const unpackWheels =
    'import sys, zipfile\nfor w in sys.argv[2:]:\n    zipfile.ZipFile(w).extractall(sys.argv[1])\n';
  await execFileP('python3', ['-c', unpackWheels, shim, ...BACKEND_WHEELS]).catch((err: Error) => {
    throw new Error(`cannot unpack the build backends ${BACKEND_WHEELS.join(', ')}: ${err.message}`);
  });
  const backends = BACKEND_WHEELS.map((w) => path.basename(w).split('-').slice(0, 2).join(' ')).join(', ');
  const pyVersion = await tool(python, 'import sys; print(sys.version.split()[0])');
  const setuptoolsVersion = await tool(python, 'import setuptools; print(setuptools.__version__)');
  const pipVersion = await tool(python, 'import pip; print(pip.__version__)');
  const wheelVersion = (
    await execFileP(python, ['-c', 'import wheel; print(wheel.__version__)'], {
      env: { ...process.env, PYTHONPATH: shim },
    })
  ).stdout.trim();

  const sdists = (await readdir(fixturesDir))
    .filter((f) => f.endsWith('.tar.gz') || f.endsWith('.zip'))
    .filter((f) => only === null || only.has(f.replace(/-[^-]+\.(tar\.gz|zip)$/, '')))
    .sort();
  const rows: Row[] = [];
  let buildDeps: BuildDepsResult[] | null = null;
  try {
    for (const filename of sdists) {
      const file = path.join(fixturesDir, filename);
      const fixture = filename.replace(/-[^-]+\.(tar\.gz|zip)$/, '');
      progress(`${fixture}: building the truth wheel`);
      const truth = truthOf(await buildTruth(python, file, shim, tmp));
      const stat = await readSdistStaticMetadata(file);
      let method: string;
      let ours: Normalized;
      let otherPythons = '';
      let published: { base: string[]; byExtra: Record<string, string[]> } | null = null;
      if (stat.kind === 'static') {
        method = `static: ${stat.method}`;
        ours = normalizeOurs(stat.installRequires, stat.providesExtra, stat.pythonRequires);
        const fields = staticSdistDeps(stat);
        published = { base: fields.install_requires, byExtra: Object.fromEntries(fields.extras_require) };
      } else {
        method = 'sandbox: setup.py (311)';
        progress(`${fixture}: running setup.py in the sandbox`);
        const sha256 = createHash('sha256')
          .update(await readFile(file))
          .digest('hex');
        const { results } = await runSandbox({ sdistPath: file, sha256, filename });
        const r311 = results['311'];
        if (!r311 || 'error' in r311) {
          const e = r311 && 'error' in r311 ? `${r311.error.code}: ${r311.error.log}` : 'no result';
          ours = { requires: new Set([`(sandbox 311 failed: ${e})`]), extras: new Set(), pythonRequires: '' };
        } else {
          const c = requiresDistOfSetupPy(r311.ok);
          ours = normalizeOurs(c.lines, c.extras, r311.ok.python_requires);
          published = publishedOfSetupPy(r311.ok);
        }
        const key311 = r311 && 'ok' in r311 ? [...ours.requires].sort().join('\n') : '';
        const others: string[] = [];
        for (const k of PYTHON_KEYS as readonly PythonKey[]) {
          if (k === '311') continue;
          const r = results[k];
          if (!r) continue;
          if ('error' in r) {
            others.push(`${k}: ${r.error.code}`);
            continue;
          }
          const c = requiresDistOfSetupPy(r.ok);
          const set = normalizeOurs(c.lines, c.extras, null).requires;
          if ([...set].sort().join('\n') !== key311) {
            const plus = setDiff(set, ours.requires);
            const minus = setDiff(ours.requires, set);
            others.push(`${k}: ${[...plus.map((x) => `+${x}`), ...minus.map((x) => `−${x}`)].join(', ')}`);
          }
        }
        otherPythons = others.join('; ');
      }
      const differences = [
        ...setDiff(truth.normalized.requires, ours.requires).map((x) => `only in the wheel: \`${x}\``),
        ...setDiff(ours.requires, truth.normalized.requires).map((x) => `only ours: \`${x}\``),
        ...setDiff(truth.normalized.extras, ours.extras).map((x) => `extra only in the wheel: \`${x}\``),
        ...setDiff(ours.extras, truth.normalized.extras).map((x) => `extra only ours: \`${x}\``),
        ...(truth.normalized.pythonRequires !== ours.pythonRequires
          ? [`Requires-Python: wheel \`${truth.normalized.pythonRequires}\`, ours \`${ours.pythonRequires}\``]
          : []),
      ];
      // The published fields select what the wheel selects, in every environment with every extra.
      if (published !== null) {
        const want = selections(truth.lines, {}, truth.normalized.extras);
        const got = selections(published.base, published.byExtra, truth.normalized.extras);
        const missing = setDiff(want, got);
        const extra = setDiff(got, want);
        if (missing.length > 0)
          differences.push(`published fields miss ${missing.length} selections, e.g. \`${missing[0]}\``);
        if (extra.length > 0)
          differences.push(`published fields add ${extra.length} selections, e.g. \`${extra[0]}\``);
      }
      const agree = differences.length === 0;
      if (values.verbose) {
        const show = (n: Normalized) =>
          [
            ...[...n.requires].sort(),
            `extras: ${[...n.extras].sort().join(', ')}`,
            `python: ${n.pythonRequires}`,
          ]
            .map((l) => `    ${l}`)
            .join('\n');
        process.stderr.write(`  wheel:\n${show(truth.normalized)}\n  ours (${method}):\n${show(ours)}\n`);
      }
      rows.push({
        fixture,
        method,
        truthLines: truth.lines.length,
        agree,
        differences,
        otherPythons,
        explanation: agree ? '' : (EXPLAINED[fixture] ?? 'UNEXPLAINED'),
      });
    }
    if (
      !values['no-build-deps'] &&
      existsSync(LOCAL_SIMPLE) &&
      (only === null || [...only].some((n) => n.startsWith('bd-')))
    ) {
      buildDeps = (await runBuildDepsCases(python, tmp)).map(compareBuildDeps);
    }
  } finally {
    if (values.keep) progress(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  }

  const agreeing = rows.filter((r) => r.agree).length;
  const rate = `${agreeing}/${rows.length} (${((100 * agreeing) / rows.length).toFixed(1)}%)`;
  const unexplained = rows.filter((r) => !r.agree && !EXPLAINED[r.fixture]);
  const headers = [
    'fixture',
    'exercises',
    'method',
    'Requires-Dist lines',
    'agreement',
    'other Pythons (sandbox)',
  ];
  const cells = (r: Row) => [
    r.fixture,
    EXERCISES[r.fixture] ?? '',
    r.method,
    String(r.truthLines),
    r.agree ? 'yes' : 'no',
    r.otherPythons || (r.method.startsWith('sandbox') ? 'same as 311' : '–'),
  ];
  process.stdout.write(`${textTable(headers, rows.map(cells), ['l', 'l', 'l', 'r', 'l', 'l'])}\n\n`);
  process.stdout.write(`agreement: ${rate}\n`);
  for (const r of rows.filter((x) => !x.agree)) {
    process.stdout.write(`\n${r.fixture}: ${r.explanation}\n  ${r.differences.join('\n  ')}\n`);
  }
  const bdHeaders = [
    'fixture',
    'exercises',
    'ours (311)',
    'truth (pip, build isolation)',
    'agreement',
    'other Pythons',
  ];
  const bdCells = (r: BuildDepsResult) => [
    r.fixture,
    BUILD_DEPS_EXERCISES[r.fixture] ?? '',
    r.ours,
    r.truth,
    r.agree ? 'yes' : `no: ${r.differences.join('; ')}`,
    r.others,
  ];
  if (buildDeps) {
    process.stdout.write(
      `\n${textTable(bdHeaders, buildDeps.map(bdCells), ['l', 'l', 'l', 'l', 'l', 'l'])}\n`,
    );
  } else {
    process.stdout.write(
      `\nbuild-dependency cases not run (${existsSync(LOCAL_SIMPLE) ? 'asked' : `no ${LOCAL_SIMPLE}`})\n`,
    );
  }

  if (!values['no-doc']) {
    const m = machineFacts();
    const rel = path.relative(REPO_ROOT, fixturesDir);
    const mismatches = rows.filter((r) => !r.agree);
    const section = [
      `## ${HEADING}`,
      '',
      `\`pnpm bench sdist-accuracy\` — ${date} UTC, ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GiB RAM, ${m.kernel}, Node ${m.node}, Python ${pyVersion} (pip ${pipVersion}, setuptools ${setuptoolsVersion}, wheel ${wheelVersion}); code at ${gitRevision()}; load average ${loadBefore} before, ${loadAverage()} after.`,
      '',
      `The ${rows.length} sdists of \`${rel}/\` (\`python3 scripts/make-accuracy-fixtures.py\`, deterministic) are shaped like real ones. The truth for each is the METADATA of a wheel built from it offline with the host Python: \`${python.replace(os.homedir(), '~')} -m pip wheel --no-deps --no-build-isolation --no-index\` (that interpreter has no \`wheel\` package, so Debian's wheel ${wheelVersion} from \`${DEBIAN_WHEEL}\` is put on its PYTHONPATH alone, with the build backends of the poetry and flit fixtures, ${backends}, unpacked from their wheels in \`/opt/pypi/files\`; nothing is installed). Ours is \`readSdistStaticMetadata\` when the sdist has static metadata, else \`runSandbox\` (setup.py under all nine Pythons in the Nix sandbox) and its \`311\` result, the same interpreter, converted to Requires-Dist as setuptools (\`dist.py\` \`_finalize_requires\`) and wheel (\`metadata.generate_requirements\`) write it: install_requires as they are, \`extra:condition\` keys as \`req; (condition) and extra == "extra"\`, \`:condition\` as \`req; condition\`. Compared after normalization: each Requires-Dist parsed by pyspec's \`parseRequirement\` (PEP 503 name, sorted PEP 685 extras, the specifier set or URL, the marker as packaging prints it with extra values by PEP 685), Provides-Extra by PEP 685 name, Requires-Python as a specifier set. Then what is published: the pypi-deps-db fields (\`install_requires\`, and \`extras_require\` by extra; for setup.py runs its \`:condition\` keys with install_requires) must select, under ${VIEW_ENVS.map(([py, plat]) => `${py} ${plat}`).join(', ')} and with each extra, exactly the requirements the wheel's Requires-Dist selects. "Other Pythons" lists, for setup.py runs, what the other eight interpreters give differently from 311 (+ more, − fewer requirements) — what the graph records per Python, not part of the comparison.`,
      '',
      markdownTable(headers, rows.map(cells), ['l', 'l', 'l', 'r', 'l', 'l']),
      '',
      `**Agreement: ${rate}** of the fixtures (requirements, extras and Requires-Python all equal after normalization, and the published fields selecting the same).`,
      '',
      mismatches.length === 0
        ? 'No mismatches.'
        : [
            'Mismatches:',
            '',
            ...mismatches.map(
              (r) => `- **${r.fixture}** — ${r.explanation} Differences: ${r.differences.join('; ')}.`,
            ),
          ].join('\n'),
      '',
      ...(() => {
        const notes = rows.filter((r) => NOTES[r.fixture] && r.otherPythons);
        return notes.length === 0
          ? []
          : [
              'Where other Pythons differ from 311:',
              '',
              ...notes.map((r) => `- **${r.fixture}** — ${NOTES[r.fixture]}`),
              '',
            ];
      })(),
      'Not covered: old flit sdists (`[tool.flit.metadata]`, the static method `flit`): flit_core 4.1, the only flit backend on this machine, no longer builds them, so there is no truth wheel.',
      '',
      '### Build dependencies from the crawled index',
      '',
      buildDeps === null
        ? `Not run (${existsSync(LOCAL_SIMPLE) ? '--no-build-deps' : `this machine has no local package index at \`${LOCAL_SIMPLE}\``}).`
        : [
            `Sdists that need their build tools to tell their dependencies (issue 11 §2), crawled as the product crawls them: the real wheels of ${'`hatchling`, `hatch-vcs`, `setuptools-scm`, `setuptools`, `wheel`'} and what they depend on are copied from this machine's local package index (\`${LOCAL_SIMPLE}\`, the one \`pip config list\` names; nothing third-party is committed), beside a setup_requires plugin written by the bench (\`reqfile-plugin\`, the shape of pbr: a setuptools keyword that fills install_requires from requirements.txt, its wheel built from the bench's source) and the fixture sdists (written by \`scripts/bench/sdist-accuracy-build-deps.ts\`), all served by our local PyPI server. Ours: \`pypi-graph crawl --project …\` of the tools, then of the sdists (embedded database, \`SDIST_EXTRACTION=sandbox\`): their build requirements are resolved per Python against the crawled index, the wheels enter the Nix sandbox by their sha256, and the backend's \`prepare_metadata_for_build_wheel\` (\`pep517\`) or the patched \`setup()\` with the plugins on the path (\`setup.py\`) runs; the \`311\` result and its provenance (backend, build dependencies used) are shown. The truth: \`${python.replace(os.homedir(), '~')} -m pip wheel --no-deps --no-index --find-links <that index>\` with pip's build isolation (its build requirements, and setuptools' setup_requires, installed from the same wheels), its METADATA compared as above; where pip cannot build either, both failing is agreement.`,
            '',
            markdownTable(bdHeaders, buildDeps.map(bdCells), ['l', 'l', 'l', 'l', 'l', 'l']),
            '',
            `**Agreement: ${buildDeps.filter((r) => r.agree).length}/${buildDeps.length}** of the build-dependency cases.`,
          ].join('\n'),
    ].join('\n');
    await writeDocSection(values.doc, HEADING, section);
    progress(`wrote "## ${HEADING}" in ${path.relative(REPO_ROOT, values.doc)}`);
  }
  return unexplained.length === 0 && (buildDeps ?? []).every((r) => r.agree) ? 0 : 1;
}

interface BuildDepsResult {
  fixture: string;
  ours: string;
  truth: string;
  agree: boolean;
  differences: string[];
  others: string;
}

/** A build-dependency case's two sides, compared as the main table compares them. */
function compareBuildDeps(row: BuildDepsRow): BuildDepsResult {
  const o = row.ours311;
  const ours =
    'failure' in o
      ? `${o.method} failed: ${o.failure} (${o.log.split('\n').filter(Boolean).pop()?.slice(0, 160) ?? ''})`
      : `${o.method} ok${o.backend ? `, backend ${o.backend}` : ''}${o.buildDeps.length ? `, with ${o.buildDeps.join(', ')}` : ''}`;
  if ('error' in row.truth) {
    const bothFail = 'failure' in o && o.failure === 'missing-build-dependency';
    return {
      fixture: row.fixture,
      ours,
      truth: `pip fails: ${row.truth.error}`,
      agree: bothFail,
      differences: bothFail ? [] : ['pip cannot build it, ours did not fail as missing-build-dependency'],
      others: row.others,
    };
  }
  const truth = truthOf(row.truth.metadata);
  const truthText = `${truth.lines.length} Requires-Dist line(s)`;
  if ('failure' in o) {
    return {
      fixture: row.fixture,
      ours,
      truth: truthText,
      agree: false,
      differences: ['ours failed where pip built it'],
      others: row.others,
    };
  }
  const c = requiresDistOfSetupPy(o.deps);
  const mine = normalizeOurs(c.lines, c.extras, o.deps.python_requires);
  const differences = [
    ...setDiff(truth.normalized.requires, mine.requires).map((x) => `only in the wheel: \`${x}\``),
    ...setDiff(mine.requires, truth.normalized.requires).map((x) => `only ours: \`${x}\``),
    ...setDiff(truth.normalized.extras, mine.extras).map((x) => `extra only in the wheel: \`${x}\``),
    ...setDiff(mine.extras, truth.normalized.extras).map((x) => `extra only ours: \`${x}\``),
    ...(truth.normalized.pythonRequires !== mine.pythonRequires
      ? [`Requires-Python: wheel \`${truth.normalized.pythonRequires}\`, ours \`${mine.pythonRequires}\``]
      : []),
  ];
  return {
    fixture: row.fixture,
    ours,
    truth: truthText,
    agree: differences.length === 0,
    differences,
    others: row.others,
  };
}
