import { type ScanSdistOptions, type SdistLimits, type SdistScan, scanSdist } from '@pypi-graph/archive';
import { isCrawlError, metadataError, sdistError } from '@pypi-graph/core';
import type { SdistDeps } from '@pypi-graph/model';
import {
  normalizeExtra,
  parseCoreMetadata,
  parseRequirement,
  readDependencyFields,
  tryParseVersion,
} from '@pypi-graph/pyspec';
import { parse as parseToml } from 'smol-toml';
import { readPoetryDependencies } from './poetry';
import { groupRequiresDist, withExtraMarker } from './requirement-text';

/** Where static dependencies came from, in the order they are tried. */
export const SDIST_STATIC_METHODS = ['pkg-info', 'pyproject', 'poetry', 'flit'] as const;
export type SdistStaticMethod = (typeof SDIST_STATIC_METHODS)[number];

/**
 * Dependencies read without running anything. `installRequires` is the Requires-Dist view: every
 * requirement line, those of extras included with their `extra == "…"` condition (verbatim from
 * PKG-INFO; as the build backend would write them for the other methods). `extrasRequire` groups
 * the extra lines by extra; `setupRequires` is what building needs; `staticSdistDeps` gives the
 * pypi-deps-db fields (readme.md).
 */
export interface SdistStaticMetadata {
  kind: 'static';
  method: SdistStaticMethod;
  /** Every requirement line, extras' lines with their `extra == "x"` marker. */
  installRequires: string[];
  /** By PEP 685-normalized extra: the lines of that extra without the extra condition. */
  extrasRequire: Record<string, string[]>;
  /** Lines whose `extra` condition cannot be grouped (`extra` under an `or`); kept in installRequires. */
  ungroupedExtras: string[];
  /** Requires-Python, verbatim; null when absent or dynamic. */
  pythonRequires: string | null;
  /** What building needs: pyproject.toml's `[build-system] requires`, verbatim (readme.md). */
  setupRequires: string[];
  /** PEP 685-normalized Provides-Extra (extras without requirements included). */
  providesExtra: string[];
  /** Why earlier methods were passed over, and anything left out (path dependencies). */
  notes: string[];
  /**
   * How much of the file the result came from was not UTF-8: PKG-INFO lines read as Latin-1
   * (`pkg-info`), or undecodable byte sequences of pyproject.toml replaced by U+FFFD (the others).
   */
  textRepairs: number;
}

/**
 * No trustworthy static metadata, and setuptools builds the sdist: the sandbox must run its
 * setup.py (docs/architecture.md §3) — or, without one, `from setuptools import setup; setup()`, which is
 * what setuptools' build backend runs then (it reads setup.cfg and pyproject.toml).
 */
export interface SdistNeedsSetupPy {
  kind: 'needs-setup-py';
  /** False when the sdist has no setup.py and setuptools' own stand-in is run instead. */
  hasSetupPy: boolean;
  /** pyproject.toml's `[build-system] requires`, verbatim, to add to the setup_requires setup.py gives. */
  buildRequires: string[];
  /** Why each static method was passed over. */
  notes: string[];
}

/**
 * No static metadata, and a PEP 517 backend other than setuptools builds the sdist (hatchling with
 * hooks, pdm, an in-tree or plugin backend…): only its `prepare_metadata_for_build_wheel` tells,
 * run in the sandbox with the build requirements resolved from the crawled index (issue 11).
 * Without such a resolver, the caller records `no-static-metadata` (`reason`).
 */
export interface SdistNeedsPep517 {
  kind: 'needs-pep517';
  /** `[build-system] build-backend`. */
  backend: string;
  /** `[build-system] backend-path` (in-tree backends). */
  backendPath: string[];
  /** `[build-system] requires`, verbatim. */
  buildRequires: string[];
  /** What `no-static-metadata` would have said. */
  reason: string;
  notes: string[];
}

export type SdistStaticResult = SdistStaticMetadata | SdistNeedsSetupPy | SdistNeedsPep517;

const POETRY_BACKENDS = new Set(['poetry.core.masonry.api', 'poetry.masonry.api']);
const FLIT_BACKENDS = new Set(['flit_core.buildapi', 'flit.buildapi']);
/** setuptools' own build backends: they run setup.py, or `setup()` when there is none. */
const SETUPTOOLS_BACKENDS = new Set(['setuptools.build_meta', 'setuptools.build_meta:__legacy__']);
/**
 * Build backends that never run setup.py: pip builds what they compute, whatever setup.py the
 * sdist also ships (a compatibility stub, typically with no dependencies at all). An unknown
 * backend (in-tree, pbr, jupyter_packaging…) may wrap setuptools, so its setup.py is still run.
 */
const NON_SETUPTOOLS_BACKENDS = new Set([
  ...POETRY_BACKENDS,
  ...FLIT_BACKENDS,
  'hatchling.build',
  'pdm.backend',
  'pdm.pep517.api',
  'maturin',
  'mesonpy',
  'scikit_build_core.build',
  'sipbuild.api',
  'enscons.api',
  'whey',
  'uv_build',
]);

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw metadataError('metadata-invalid', `${what} is not a list of strings`);
  }
  return v;
}

function checked(lines: string[]): string[] {
  for (const l of lines) parseRequirement(l);
  return lines;
}

function result(
  method: SdistStaticMethod,
  lines: string[],
  pythonRequires: string | null,
  providesExtra: Iterable<string>,
  build: BuildSystem,
  notes: string[],
  textRepairs: number,
): SdistStaticMetadata {
  const grouped = groupRequiresDist(lines);
  const extras = new Set([...providesExtra, ...Object.keys(grouped.extras)]);
  return {
    kind: 'static',
    method,
    installRequires: lines,
    extrasRequire: grouped.extras,
    ungroupedExtras: grouped.ungrouped,
    pythonRequires,
    setupRequires: build.requires,
    providesExtra: [...extras].sort(),
    notes,
    textRepairs,
  };
}

/** pyproject.toml's `[build-system]`: the backend (null when not declared) and `requires`. */
interface BuildSystem {
  backend: string | null;
  backendPath: string[];
  requires: string[];
}

function buildSystemOf(pyproject: Table | null, notes: string[]): BuildSystem {
  const table = pyproject !== null && isTable(pyproject['build-system']) ? pyproject['build-system'] : {};
  const backend = typeof table['build-backend'] === 'string' ? table['build-backend'] : null;
  const requires = table.requires ?? [];
  const bp = table['backend-path'];
  const backendPath = Array.isArray(bp) && bp.every((p) => typeof p === 'string') ? bp : [];
  if (!Array.isArray(requires) || !requires.every((r) => typeof r === 'string')) {
    notes.push('build-system: requires is not a list of strings');
    return { backend, backendPath, requires: [] };
  }
  return { backend, backendPath, requires };
}

const lossyUtf8 = new TextDecoder('utf-8');
const REPLACEMENT_BYTES = Buffer.from('\uFFFD', 'utf8');

/** UTF-8 with U+FFFD for what does not decode, and how many such replacements were made. */
export function decodeUtf8Lossy(bytes: Buffer): { text: string; replaced: number } {
  const text = lossyUtf8.decode(bytes);
  let replaced = 0;
  for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) replaced++;
  if (replaced === 0) return { text, replaced };
  // U+FFFD written in the file (EF BF BD) is not a repair.
  for (let i = bytes.indexOf(REPLACEMENT_BYTES); i >= 0; i = bytes.indexOf(REPLACEMENT_BYTES, i + 3))
    replaced--;
  return { text, replaced };
}

/** `[project]` → Requires-Dist view: dependencies as written, extras' with `extra == "x"` added. */
function fromOptional(base: string[], optional: Table, what: string): { lines: string[]; extras: string[] } {
  const lines = [...base];
  const extras: string[] = [];
  for (const [extra, reqs] of Object.entries(optional)) {
    extras.push(normalizeExtra(extra));
    for (const r of stringList(reqs, `${what}.${extra}`)) lines.push(withExtraMarker(r, extra));
  }
  return { lines, extras };
}

/** The files `extractStaticMetadata` reads, for `scanSdist`'s `want`: PKG-INFO and pyproject.toml at the top. */
export function wantsStaticMetadataFile(name: string): boolean {
  return /^(?:[^/]+\/)?(?:PKG-INFO|pyproject\.toml)$/.test(name);
}

/**
 * Static dependencies of a scanned sdist (docs/architecture.md §3), methods in order: `pkg-info` (Metadata-Version
 * ≥ 2.2, Requires-Dist not Dynamic, PEP 643), `pyproject` (PEP 621, dependencies and
 * optional-dependencies not dynamic), `poetry` (with a poetry build backend, setup.py or not) and
 * `flit` (with a flit backend, or without setup.py). None applies: a declared backend that never
 * runs setup.py is `no-static-metadata` (its setup.py is not what pip builds); else
 * `needs-setup-py` when setuptools builds the sdist (a setup.py, or a pyproject.toml with
 * setuptools' backend or none declared, run as setuptools' `setup()`), else `no-static-metadata`
 * — never an empty list. Every result carries `[build-system] requires`.
 */
export function extractStaticMetadata(
  scan: Pick<SdistScan, 'entries' | 'files' | 'root'>,
): SdistStaticResult {
  const prefix = scan.root === null ? '' : `${scan.root}/`;
  const hasSetupPy = scan.files.has(`${prefix}setup.py`);
  const notes: string[] = [];

  // pyproject.toml first: its [build-system] belongs to every result, and says who builds.
  const pyprojectBytes = scan.entries.get(`${prefix}pyproject.toml`);
  let pyproject: Table | null = null;
  let pyprojectRepairs = 0;
  let pyprojectNote: string | null =
    pyprojectBytes === undefined ? 'pyproject: no pyproject.toml at the top' : null;
  if (pyprojectBytes !== undefined) {
    try {
      const decoded = decodeUtf8Lossy(pyprojectBytes);
      pyprojectRepairs = decoded.replaced;
      pyproject = parseToml(decoded.text) as Table;
    } catch (err) {
      pyprojectNote = `pyproject: not TOML: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const build = buildSystemOf(pyproject, notes);

  const pkgInfo = scan.entries.get(`${prefix}PKG-INFO`);
  if (pkgInfo === undefined) notes.push('pkg-info: no PKG-INFO at the top');
  else {
    try {
      const meta = parseCoreMetadata(pkgInfo);
      const fields = readDependencyFields(meta);
      const mv = tryParseVersion(fields.metadataVersion ?? '');
      const v22 = tryParseVersion('2.2');
      const dynamic = new Set(fields.dynamic.map((d) => d.toLowerCase()));
      if (!mv || !v22 || mv.release.length === 0 || compareRelease(mv.release, v22.release) < 0) {
        notes.push(`pkg-info: Metadata-Version ${fields.metadataVersion ?? '(none)'} < 2.2`);
      } else if (dynamic.has('requires-dist')) {
        notes.push('pkg-info: Requires-Dist is Dynamic');
      } else {
        return result(
          'pkg-info',
          checked(fields.requiresDist),
          dynamic.has('requires-python') ? null : fields.requiresPython,
          fields.providesExtra.map(normalizeExtra),
          build,
          notes,
          meta.notUtf8Lines,
        );
      }
    } catch (err) {
      if (!isCrawlError(err)) throw err;
      notes.push(`pkg-info: ${err.code}: ${err.message}`);
    }
  }

  if (pyprojectNote !== null) notes.push(pyprojectNote);
  if (pyproject !== null) {
    const project = pyproject.project;
    if (!isTable(project)) notes.push('pyproject: no [project] table');
    else {
      const dynamic = new Set(stringList(project.dynamic, 'project.dynamic'));
      if (dynamic.has('dependencies') || dynamic.has('optional-dependencies')) {
        notes.push('pyproject: dependencies or optional-dependencies are dynamic');
      } else {
        const optional = project['optional-dependencies'] ?? {};
        if (!isTable(optional))
          throw metadataError('metadata-invalid', 'project.optional-dependencies is not a table');
        const { lines, extras } = fromOptional(
          stringList(project.dependencies, 'project.dependencies'),
          optional,
          'project.optional-dependencies',
        );
        const rp = project['requires-python'];
        return result(
          'pyproject',
          checked(lines),
          typeof rp === 'string' && !dynamic.has('requires-python') ? rp : null,
          extras,
          build,
          notes,
          pyprojectRepairs,
        );
      }
    }

    const tool = isTable(pyproject.tool) ? pyproject.tool : {};
    const { backend } = build;
    // What pip builds is what the declared backend says: a setup.py beside a poetry or flit
    // backend is a compatibility stub it never runs.
    const stub = hasSetupPy ? ' (its setup.py is not run by that backend)' : '';
    if (isTable(tool.poetry)) {
      if (backend === null || !POETRY_BACKENDS.has(backend))
        notes.push(`poetry: build backend is ${backend}`);
      else {
        const deps = readPoetryDependencies(tool.poetry);
        if (stub) notes.push(`poetry: build backend ${backend}${stub}`);
        notes.push(...deps.skipped.map((s) => `poetry: skipped ${s}`));
        return result(
          'poetry',
          deps.requirements.map((r) => r.line),
          deps.requiresPython,
          deps.providesExtra,
          build,
          notes,
          pyprojectRepairs,
        );
      }
    }
    const flit = isTable(tool.flit) ? tool.flit.metadata : undefined;
    if (isTable(flit)) {
      if (hasSetupPy && (backend === null || !FLIT_BACKENDS.has(backend)))
        notes.push(`flit: the sdist has a setup.py and the build backend is ${backend}`);
      else {
        if (stub) notes.push(`flit: build backend ${backend}${stub}`);
        // Old flit (flit/flit_core < 3.2 style): `requires`, `requires-extra`, and `dev-requires`,
        // which flit published as the extra `dev`.
        const extrasTable = isTable(flit['requires-extra']) ? { ...flit['requires-extra'] } : {};
        if (flit['dev-requires'] !== undefined && !('dev' in extrasTable))
          extrasTable.dev = flit['dev-requires'];
        const { lines, extras } = fromOptional(
          stringList(flit.requires, 'tool.flit.metadata.requires'),
          extrasTable,
          'tool.flit.metadata.requires-extra',
        );
        const rp = flit['requires-python'];
        return result(
          'flit',
          checked(lines),
          typeof rp === 'string' ? rp : null,
          extras,
          build,
          notes,
          pyprojectRepairs,
        );
      }
    }
    if (backend !== null && NON_SETUPTOOLS_BACKENDS.has(backend)) {
      return {
        kind: 'needs-pep517',
        backend,
        backendPath: build.backendPath,
        buildRequires: build.requires,
        reason: `the build backend ${backend} computes the dependencies at build time${stub}`,
        notes,
      };
    }
  }

  if (hasSetupPy) return { kind: 'needs-setup-py', hasSetupPy: true, buildRequires: build.requires, notes };
  // setuptools' backend (declared, or pip's default for a pyproject.toml that declares none)
  // runs `from setuptools import setup; setup()` when there is no setup.py: setup.cfg and
  // pyproject.toml say the rest. nix/extractor/extract.py does the same.
  if (pyproject !== null && (build.backend === null || SETUPTOOLS_BACKENDS.has(build.backend))) {
    notes.push(`setuptools: no setup.py; ${build.backend ?? 'setuptools (the default)'} runs setup()`);
    return { kind: 'needs-setup-py', hasSetupPy: false, buildRequires: build.requires, notes };
  }
  if (pyproject !== null && build.backend !== null) {
    // Another backend (in-tree, a plugin's): only it can tell.
    return {
      kind: 'needs-pep517',
      backend: build.backend,
      backendPath: build.backendPath,
      buildRequires: build.requires,
      reason: `the build backend ${build.backend} computes the dependencies at build time`,
      notes,
    };
  }
  throw sdistError('no-static-metadata', 'the sdist has neither static dependency metadata nor a setup.py', {
    hint: 'a PEP 517 backend computes its dependencies at build time; only building the sdist would tell',
    details: { notes },
  });
}

function compareRelease(a: readonly bigint[], b: readonly bigint[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0n;
    const y = b[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export interface ReadSdistStaticOptions {
  /** Archive caps (packages/archive); each missing one takes its default. */
  limits?: Partial<SdistLimits>;
  signal?: AbortSignal;
  format?: ScanSdistOptions['format'];
}

/**
 * Scans the sdist at `path` (every entry checked, nothing extracted) and reads its static
 * dependencies. Links out of the tree are `archive-link`, in a tar as in a `.zip` (whose symlinks
 * are entries with the Unix mode S_IFLNK).
 */
export async function readSdistStaticMetadata(
  path: string,
  options: ReadSdistStaticOptions = {},
): Promise<SdistStaticResult> {
  const scan = await scanSdist(path, {
    want: wantsStaticMetadataFile,
    limits: options.limits,
    signal: options.signal,
    format: options.format,
    wantedTooLargeCode: 'metadata-too-large',
  });
  return extractStaticMetadata(scan);
}

/**
 * The sdist fields (docs/formats.md §B1) of a static result: `install_requires` = the lines
 * without an extra condition; `setup_requires` = `[build-system] requires` (what building needs,
 * a flit or hatchling sdist's only build input); `extras_require` = the grouping (keys are extra
 * names; markers stay in the lines); ungroupable extra lines are dropped; `python_requires` =
 * Requires-Python; no `tests_require` (nothing static declares it).
 */
export function staticSdistDeps(r: SdistStaticMetadata): SdistDeps {
  return {
    install_requires: groupRequiresDist(r.installRequires).base,
    setup_requires: r.setupRequires,
    extras_require: Object.entries(r.extrasRequire),
    tests_require: [],
    python_requires: r.pythonRequires,
  };
}

/**
 * The `setup_requires` of a setup.py run, completed with pyproject.toml's `[build-system]
 * requires` (`SdistNeedsSetupPy.buildRequires`): what pip installs before setuptools runs
 * setup.py, first, then setup.py's own `setup_requires` that are not already there.
 */
export function withBuildRequires(
  buildRequires: readonly string[],
  setupRequires: readonly string[],
): string[] {
  return [...buildRequires, ...setupRequires.filter((r) => !buildRequires.includes(r))];
}
