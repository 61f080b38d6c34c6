import { type ScanSdistOptions, type SdistLimits, type SdistScan, scanSdist } from '@pypi-graph/archive';
import { CrawlError, isCrawlError } from '@pypi-graph/core';
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
 * the extra lines by extra; `toSdistDepsFields` gives the pypi-deps-db fields (readme.md).
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
  /** Always empty: `[build-system] requires` are the backend's needs, not the project's setup_requires. */
  setupRequires: string[];
  /** PEP 685-normalized Provides-Extra (extras without requirements included). */
  providesExtra: string[];
  /** Why earlier methods were passed over, and anything left out (path dependencies). */
  notes: string[];
}

/** No trustworthy static metadata, but a setup.py: the sandbox must run it (DESIGN.md §3). */
export interface SdistNeedsSetupPy {
  kind: 'needs-setup-py';
  /** Why each static method was passed over. */
  notes: string[];
}

export type SdistStaticResult = SdistStaticMetadata | SdistNeedsSetupPy;

const POETRY_BACKENDS = new Set(['poetry.core.masonry.api', 'poetry.masonry.api']);

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new CrawlError('metadata-invalid', `${what} is not a list of strings`);
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
  notes: string[],
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
    setupRequires: [],
    providesExtra: [...extras].sort(),
    notes,
  };
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
 * Static dependencies of a scanned sdist (DESIGN.md §3), methods in order: `pkg-info` (Metadata-Version
 * ≥ 2.2, Requires-Dist not Dynamic, PEP 643), `pyproject` (PEP 621, dependencies and
 * optional-dependencies not dynamic), `poetry` and `flit` (only without setup.py, and for poetry
 * only with a poetry build backend). None applies: `needs-setup-py` when there is a setup.py,
 * else a `no-static-metadata` CrawlError — never an empty list.
 */
export function extractStaticMetadata(
  scan: Pick<SdistScan, 'entries' | 'files' | 'root'>,
): SdistStaticResult {
  const prefix = scan.root === null ? '' : `${scan.root}/`;
  const hasSetupPy = scan.files.has(`${prefix}setup.py`);
  const notes: string[] = [];

  const pkgInfo = scan.entries.get(`${prefix}PKG-INFO`);
  if (pkgInfo === undefined) notes.push('pkg-info: no PKG-INFO at the top');
  else {
    try {
      const fields = readDependencyFields(parseCoreMetadata(pkgInfo));
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
          notes,
        );
      }
    } catch (err) {
      if (!isCrawlError(err)) throw err;
      notes.push(`pkg-info: ${err.code}: ${err.message}`);
    }
  }

  const pyprojectBytes = scan.entries.get(`${prefix}pyproject.toml`);
  let pyproject: Table | null = null;
  if (pyprojectBytes === undefined) notes.push('pyproject: no pyproject.toml at the top');
  else {
    try {
      pyproject = parseToml(pyprojectBytes.toString('utf8')) as Table;
    } catch (err) {
      notes.push(`pyproject: not TOML: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

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
          throw new CrawlError('metadata-invalid', 'project.optional-dependencies is not a table');
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
          notes,
        );
      }
    }

    const tool = isTable(pyproject.tool) ? pyproject.tool : {};
    const buildSystem = isTable(pyproject['build-system']) ? pyproject['build-system'] : {};
    const backend = typeof buildSystem['build-backend'] === 'string' ? buildSystem['build-backend'] : null;
    if (isTable(tool.poetry)) {
      if (hasSetupPy) notes.push('poetry: the sdist has a setup.py');
      else if (backend === null || !POETRY_BACKENDS.has(backend))
        notes.push(`poetry: build backend is ${backend}`);
      else {
        const deps = readPoetryDependencies(tool.poetry);
        notes.push(...deps.skipped.map((s) => `poetry: skipped ${s}`));
        return result(
          'poetry',
          deps.requirements.map((r) => r.line),
          deps.requiresPython,
          deps.providesExtra,
          notes,
        );
      }
    }
    const flit = isTable(tool.flit) ? tool.flit.metadata : undefined;
    if (isTable(flit)) {
      if (hasSetupPy) notes.push('flit: the sdist has a setup.py');
      else {
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
        return result('flit', checked(lines), typeof rp === 'string' ? rp : null, extras, notes);
      }
    }
  }

  if (hasSetupPy) return { kind: 'needs-setup-py', notes };
  throw new CrawlError(
    'no-static-metadata',
    'the sdist has neither static dependency metadata nor a setup.py',
    {
      hint: 'a PEP 517 backend computes its dependencies at build time; only building the sdist would tell',
      details: { notes },
    },
  );
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
 * The pypi-deps-db sdist fields (FORMATS.md §B1) of a static result, empty ones omitted:
 * `install_requires` = the lines without an extra condition; `extras_require` = the grouping (keys
 * are extra names; markers stay in the lines); ungroupable extra lines are dropped; `python_requires`
 * = `[pythonRequires]`; no `setup_requires` and no `tests_require` (nothing static declares them).
 */
export function toSdistDepsFields(r: SdistStaticMetadata): {
  install_requires?: string[];
  extras_require?: Record<string, string[]>;
  python_requires?: string[];
} {
  const out: ReturnType<typeof toSdistDepsFields> = {};
  const base = groupRequiresDist(r.installRequires).base;
  if (base.length) out.install_requires = base;
  if (Object.keys(r.extrasRequire).length) out.extras_require = r.extrasRequire;
  if (r.pythonRequires) out.python_requires = [r.pythonRequires];
  return out;
}
