// `pnpm bench sdist-accuracy`'s second part: sdists that cannot tell their dependencies without
// their build tools (issue 11 §2), crawled the way the product crawls them. Real build backends
// and plugins (hatchling, hatch-vcs, setuptools-scm, setuptools and what they need) are copied at
// bench time from this machine's local package index (the one `pip config list` names:
// /opt/pypi/simple; nothing third-party is committed), with a setup_requires plugin written here
// (the shape of pbr: it fills install_requires from requirements.txt), and served by our local
// PyPI server with the fixture sdists written here. The product's path: `pypi-graph crawl
// --project …` (embedded database, SDIST_EXTRACTION=sandbox) crawls the tools, then the sdists;
// their build requirements are resolved against that crawled index per Python and the backend
// runs in the Nix sandbox. The truth: the METADATA of a wheel pip builds from the same sdist
// with build isolation, its build requirements installed from the same wheels (`pip wheel
// --no-deps --no-index --find-links`), by the host Python 3.11.7 — compared with our `311` result.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase, projectDependencies } from '@pypi-graph/db';
import type { SetupPyDependencies } from '@pypi-graph/extractor';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';
import { startPypiServer } from '@pypi-graph/pypi-server';
import { childEnv, progress, REPO_ROOT, tsxArgs } from './common';
import { copyLocalWheels, REAL_BUILD_TOOLS } from './local-index';

const execFileP = promisify(execFile);

/** What each build-dependency fixture exercises. */
export const BUILD_DEPS_EXERCISES: Record<string, string> = {
  'bd-hatch-hook':
    'hatchling with a metadata hook reading requirements.txt, version from hatch-vcs (PKG-INFO): `[build-system].requires`, PEP 517',
  'bd-setuptools-dynamic':
    'setuptools backend, `[tool.setuptools.dynamic]` dependencies and an extra from files, version from setuptools-scm, no setup.py',
  'bd-reqfile-plugin':
    '`setup_requires` plugin (the shape of pbr, written for the bench) that fills install_requires from requirements.txt',
  'bd-scm-setup-requires':
    '`setup(use_scm_version=True, setup_requires=["setuptools_scm"])` with install_requires and an extra',
  'bd-missing-backend': '`[build-system]` names a backend the index does not have',
};

/** The fixtures and the plugin, our own code, written as files under `dir`. */
const WRITE_FIXTURES = String.raw`
import io, os, sys, tarfile, zipfile, base64, hashlib
out = sys.argv[1]

def sdist(name, version, files):
    root = f"{name}-{version}"
    path = os.path.join(out, f"{root}.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for rel in sorted(files):
            data = files[rel].encode()
            info = tarfile.TarInfo(f"{root}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))

def pkg_info(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"

sdist("bd_hatch_hook", "1.2.3", {
    "PKG-INFO": pkg_info("bd-hatch-hook", "1.2.3"),
    "pyproject.toml": '''[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "bd-hatch-hook"
dynamic = ["version", "dependencies"]
requires-python = ">=3.8"

[project.optional-dependencies]
cli = ["click>=8"]

[tool.hatch.version]
source = "vcs"

[tool.hatch.metadata.hooks.custom]
''',
    "hatch_build.py": '''from hatchling.metadata.plugin.interface import MetadataHookInterface


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata):
        with open("requirements.txt", encoding="utf-8") as handle:
            lines = [line.split("#", 1)[0].strip() for line in handle]
        metadata["dependencies"] = [line for line in lines if line]
''',
    "requirements.txt": "requests>=2.31\n# docs\nattrs>=22; python_version >= '3.8'\n",
    "bd_hatch_hook/__init__.py": "",
})

sdist("bd_setuptools_dynamic", "0.4.0", {
    "PKG-INFO": pkg_info("bd-setuptools-dynamic", "0.4.0"),
    "pyproject.toml": '''[build-system]
requires = ["setuptools>=64", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "bd-setuptools-dynamic"
dynamic = ["version", "dependencies", "optional-dependencies"]
requires-python = ">=3.9"

[tool.setuptools.dynamic]
dependencies = {file = ["requirements.txt"]}
optional-dependencies.test = {file = ["requirements-test.txt"]}

[tool.setuptools_scm]

[tool.setuptools.packages.find]
include = ["bd_setuptools_dynamic*"]
''',
    "requirements.txt": "urllib3>=1.26,<3\nidna>=3; python_version >= '3.9'\n",
    "requirements-test.txt": "pytest>=7\n",
    "bd_setuptools_dynamic/__init__.py": "",
})

# The plugin: a setuptools keyword, as pbr is; a wheel built by the bench from this source.
plugin = os.path.join(out, "plugin-src")
os.makedirs(os.path.join(plugin, "reqfile_plugin"), exist_ok=True)
with open(os.path.join(plugin, "setup.py"), "w") as f:
    f.write('''from setuptools import setup
setup(
    name="reqfile-plugin",
    version="1.0.0",
    packages=["reqfile_plugin"],
    entry_points={"distutils.setup_keywords": ["requirements_file = reqfile_plugin:apply"]},
)
''')
with open(os.path.join(plugin, "reqfile_plugin", "__init__.py"), "w") as f:
    f.write('''def apply(dist, attr, value):
    with open(value) as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    dist.install_requires = list(dist.install_requires or []) + [line for line in lines if line]
''')

sdist("bd_reqfile_plugin", "2.0.0", {
    "PKG-INFO": pkg_info("bd-reqfile-plugin", "2.0.0"),
    "setup.py": '''from setuptools import setup
setup(
    name="bd-reqfile-plugin",
    version="2.0.0",
    packages=["bd_reqfile_plugin"],
    setup_requires=["reqfile-plugin>=1"],
    requirements_file="requirements.txt",
)
''',
    "requirements.txt": "requests>=2\ncertifi\n",
    "bd_reqfile_plugin/__init__.py": "",
})

sdist("bd_scm_setup_requires", "3.1.0", {
    "PKG-INFO": pkg_info("bd-scm-setup-requires", "3.1.0"),
    "setup.py": '''from setuptools import setup
setup(
    name="bd-scm-setup-requires",
    use_scm_version=True,
    setup_requires=["setuptools_scm"],
    packages=["bd_scm_setup_requires"],
    install_requires=["six>=1.16", "packaging>=21; python_version >= '3.7'"],
    extras_require={"yaml": ["pyyaml>=6"]},
)
''',
    "bd_scm_setup_requires/__init__.py": "",
})

sdist("bd_missing_backend", "0.1.0", {
    "PKG-INFO": pkg_info("bd-missing-backend", "0.1.0"),
    "pyproject.toml": '''[build-system]
requires = ["no-such-backend>=1"]
build-backend = "no_such_backend"

[project]
name = "bd-missing-backend"
version = "0.1.0"
dynamic = ["dependencies"]
''',
})
`;

export interface BuildDepsRow {
  fixture: string;
  /** The wheel pip builds, or why it could not. */
  truth: { metadata: string } | { error: string };
  /** Our `311` result: the extraction's method, status and requirement fields, or its failure. */
  ours311:
    | { method: string; deps: SetupPyDependencies; backend: string | null; buildDeps: string[] }
    | { method: string; failure: string; log: string };
  /** Per other Python key: `method ok` or the failure code. */
  others: string;
}

/** Runs the build-dependency cases; `python` is the host 3.11.7 that builds the truth wheels. */
export async function runBuildDepsCases(python: string, tmp: string): Promise<BuildDepsRow[]> {
  const index = path.join(tmp, 'bd-index');
  const work = path.join(tmp, 'bd-work');
  await mkdir(index, { recursive: true });
  await mkdir(work, { recursive: true });
  // the build tools, and setuptools and wheel (a setuptools backend's requirements)
  await copyLocalWheels([...REAL_BUILD_TOOLS, 'setuptools', 'wheel'], index);
  progress('build dependencies: writing the fixtures and the plugin wheel');
  await execFileP('python3', ['-c', WRITE_FIXTURES, work]);
  // The plugin's wheel, built from our own source by the host's setuptools (no download).
  await execFileP(
    python,
    [
      '-m',
      'pip',
      'wheel',
      '--no-deps',
      '--no-build-isolation',
      '--no-index',
      '-q',
      '-w',
      index,
      './plugin-src',
    ],
    { cwd: work, env: { ...process.env, PYTHONPATH: path.join(tmp, 'wheel-shim') } },
  );
  const sdists = (await readdir(work)).filter((f) => f.endsWith('.tar.gz')).sort();
  for (const s of sdists) await copyFile(path.join(work, s), path.join(index, s));

  const server = await startPypiServer({ dir: index });
  const dataDir = path.join(tmp, 'bd-data');
  const rows: BuildDepsRow[] = [];
  try {
    const env = childEnv({
      DATA_DIR: dataDir,
      PYPI_URL: server.url,
      SDIST_EXTRACTION: 'sandbox',
      HTTP_RPS_PER_HOST: '0',
      LOG_LEVEL: 'warn',
      CI: '1',
    });
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    const cli = (args: string[]) =>
      execFileP(process.execPath, tsxArgs(path.join(REPO_ROOT, 'packages/cli/src/main.ts'), ...args), {
        cwd: REPO_ROOT,
        env,
        maxBuffer: 64 << 20,
        timeout: 1_800_000,
      }).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
        // A crawl with failures recorded against files exits non-zero: that is an outcome here.
        if (typeof err.code === 'number' && err.code > 0 && err.code < 64) return err;
        throw err;
      });
    progress('build dependencies: crawling the build tools');
    const tools = (await readdir(index))
      .filter((f) => f.endsWith('.whl'))
      .map((f) => f.split('-')[0]!.replace(/_/g, '-'));
    await cli(['crawl', '--project', ...new Set(tools)]);
    progress('build dependencies: crawling the fixtures (sandbox, build dependencies from that index)');
    const names = sdists.map((s) => s.replace(/-[^-]+\.tar\.gz$/, '').replace(/_/g, '-'));
    await cli(['crawl', '--project', ...names]);

    const database = await openDatabase({ pglitePath: path.join(dataDir, 'pglite') });
    try {
      for (const [i, name] of names.entries()) {
        progress(`build dependencies: ${name}: building the truth wheel with pip`);
        const truth = await pipWheel(python, path.join(index, sdists[i]!), index, tmp);
        const [file] = await projectDependencies(database.db, name);
        const byKey = new Map((file?.extractions ?? []).map((e) => [e.pythonKey, e]));
        const e311 = byKey.get('311');
        let ours311: BuildDepsRow['ours311'];
        if (!e311) ours311 = { method: '–', failure: 'no result', log: '' };
        else if (e311.status !== 'ok')
          ours311 = { method: e311.method, failure: e311.failureCode ?? 'failed', log: e311.log ?? '' };
        else {
          const extras: Record<string, string[]> = {};
          for (const r of e311.requirements) {
            if (r.kind !== 'extra' || typeof r.extra !== 'string') continue;
            const list = extras[r.extra] ?? [];
            if (r.requirement) list.push(r.requirement);
            extras[r.extra] = list;
          }
          const of = (kind: string) =>
            e311.requirements.filter((r) => r.kind === kind).map((r) => r.requirement);
          ours311 = {
            method: e311.method,
            deps: {
              install_requires: of('install'),
              setup_requires: of('setup'),
              extras_require: extras,
              tests_require: of('test'),
              python_requires: of('python')[0] ?? null,
            },
            backend: e311.buildProvenance?.backend ?? null,
            buildDeps: (e311.buildProvenance?.build_dependencies ?? []).map((d) => `${d.name} ${d.version}`),
          };
        }
        const others = [...byKey.entries()]
          .filter(([k]) => k !== '311' && k !== 'any')
          .sort(([a], [b]) => PYTHON_KEYS.indexOf(a as PythonKey) - PYTHON_KEYS.indexOf(b as PythonKey))
          .map(([k, e]) => `${k}: ${e.status === 'ok' ? `${e.method} ok` : (e.failureCode ?? 'failed')}`)
          .join('; ');
        rows.push({ fixture: name, truth, ours311, others });
      }
    } finally {
      await database.close();
    }
  } finally {
    await server.close();
  }
  return rows;
}

/** pip's own build of the sdist, with build isolation, build requirements from `index` only. */
async function pipWheel(
  python: string,
  sdist: string,
  index: string,
  tmp: string,
): Promise<{ metadata: string } | { error: string }> {
  const out = path.join(tmp, `bd-wheel-${path.basename(sdist)}`);
  await mkdir(out, { recursive: true });
  try {
    await execFileP(
      python,
      ['-m', 'pip', 'wheel', '--no-deps', '--no-index', '--find-links', index, '-q', '-w', out, sdist],
      {
        cwd: tmp,
        // setup_requires are fetched by setuptools through pip: the same index, nothing else.
        env: {
          ...process.env,
          PIP_NO_INDEX: '1',
          PIP_FIND_LINKS: index,
          PIP_NO_INPUT: '1',
          PIP_DISABLE_PIP_VERSION_CHECK: '1',
        },
        timeout: 300_000,
        maxBuffer: 16 << 20,
      },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const lines = (e.stderr ?? e.message)
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    // pip's own verdict (what it could not find), else the end of its output
    const said = lines.filter((l) => /^ERROR:|No matching distribution|Could not find a version/.test(l));
    return { error: (said.length > 0 ? said : lines.slice(-3)).join(' / ').slice(0, 400) };
  }
  const wheel = (await readdir(out)).find((f) => f.endsWith('.whl'));
  if (!wheel) return { error: 'pip wrote no wheel' };
  const read =
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n' +
    'n = [x for x in z.namelist() if x.count("/") == 1 and x.endswith(".dist-info/METADATA")]\n' +
    'sys.stdout.write(z.read(n[0]).decode("utf-8"))\n';
  const { stdout } = await execFileP(python, ['-c', read, path.join(out, wheel)]);
  await writeFile(path.join(out, 'METADATA'), stdout);
  return { metadata: stdout };
}
