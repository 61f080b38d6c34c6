// The state a crawl of PyPI would leave in the database, generated from a seed (issue 9 §3):
// projects with heavy-tailed release counts, sdists and wheels in the proportions of their era,
// yanked and removed files, changelog rows, and the wheel and sdist extraction results with
// requirement counts shaped like PyPI's. Every project is a pure function of (seed, index, day),
// so the bulk load, a day of changes and any check can regenerate exactly the same rows.

import { SDIST_EXTRACTOR_VERSION, WHEEL_EXTRACTOR_VERSION } from '@pypi-graph/pipeline';
import { bucketOf, machNixName, pep503Name } from '@pypi-graph/pyspec';

/** PyPI in 2025: projects per 10 million files (issue 9). */
export const PROJECTS_PER_FILE = 736_000 / 10_000_000;
/** Day 0 ends here; day d's changes happen in the 24 hours after day d-1 ended. */
export const T_NOW = Date.UTC(2025, 0, 1) / 1000;
const T_FIRST = Date.UTC(2005, 0, 1) / 1000;
const DAY = 86_400;
/** serial = (second since T_FIRST) × SERIAL_STRIDE + project index: time-ordered and unique. */
const SERIAL_STRIDE = 1 << 21;
/**
 * The extractor versions of the results written: the current ones, as a crawl by this code would
 * leave them (with older ones, every result is stale, as right after an extractor upgrade, and
 * reconcile and `recrawl --failed` measure that instead).
 */
export const WHEEL_EXTRACTOR = WHEEL_EXTRACTOR_VERSION;
export const SDIST_EXTRACTOR = SDIST_EXTRACTOR_VERSION;
export const SDIST_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'] as const;

// --- deterministic randomness -------------------------------------------------------------------

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A small fast PRNG (sfc32) seeded from several integers. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(...seeds: number[]) {
    let h = 0x9e3779b9;
    for (const s of seeds) h = mix(h ^ mix(s >>> 0) ^ Math.floor(s / 2 ** 32));
    this.a = mix(h ^ 1);
    this.b = mix(h ^ 2);
    this.c = mix(h ^ 3);
    this.d = mix(h ^ 4) | 1;
    for (let i = 0; i < 8; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** [0, 1) */
  next(): number {
    return this.u32() / 2 ** 32;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** A log-uniform integer in [lo, hi]. */
  logInt(lo: number, hi: number): number {
    return Math.floor(Math.exp(Math.log(lo) + this.next() * (Math.log(hi + 1) - Math.log(lo))));
  }
  hex(chars: number): string {
    let out = '';
    for (let i = 0; i < chars; i += 8) {
      const v = this.u32();
      out += HEX[v >>> 24]! + HEX[(v >>> 16) & 0xff]! + HEX[(v >>> 8) & 0xff]! + HEX[v & 0xff]!;
    }
    return out.length === chars ? out : out.slice(0, chars);
  }
}

// --- the shape of one project -------------------------------------------------------------------

export interface GenRequirement {
  kind: 'install' | 'setup' | 'test' | 'extra' | 'python' | 'provides-extra' | 'external';
  extra: string | null;
  requirement: string;
  name: string | null;
  specifier: string | null;
  marker: string | null;
}

export interface GenExtraction {
  pythonKey: string;
  method: string;
  extractorVersion: string;
  status: 'ok' | 'failed';
  failureCode: string | null;
  log: string | null;
  requirements: GenRequirement[];
}

export interface GenFile {
  filename: string;
  packagetype: string;
  pythonVersion: string;
  sha256: string;
  size: number;
  uploadTime: number;
  requiresPython: string | null;
  yanked: boolean;
  yankedReason: string | null;
  hasCoreMetadata: boolean;
  coreMetadataSha256: string | null;
  removedAt: number | null;
  /** The day the file appeared (0: before the load). */
  day: number;
  extractions: GenExtraction[];
}

export interface GenRelease {
  version: string;
  time: number;
  files: GenFile[];
}

export interface GenProject {
  index: number;
  displayName: string;
  name: string;
  removedAt: number | null;
  releases: GenRelease[];
  /** Changelog events, time-ordered, one second apart at least. */
  events: Array<{ time: number; version: string | null; action: string }>;
}

const WORDS = [
  'py',
  'django',
  'flask',
  'data',
  'cloud',
  'aws',
  'azure',
  'google',
  'test',
  'tools',
  'utils',
  'api',
  'client',
  'sdk',
  'json',
  'http',
  'async',
  'fast',
  'micro',
  'open',
  'auto',
  'ml',
  'torch',
  'tensor',
  'plot',
  'geo',
  'sql',
  'redis',
  'kafka',
  'log',
  'config',
  'cli',
  'web',
  'bot',
  'telegram',
  'discord',
  'image',
  'audio',
  'text',
  'nlp',
  'stream',
  'grpc',
  'proto',
  'yaml',
  'toml',
  'crypto',
  'auth',
  'jwt',
  'parser',
  'lint',
  'format',
  'mock',
  'pytest',
  'sphinx',
  'docs',
  'theme',
  'plugin',
  'ext',
  'core',
];
const POPULAR = [
  'requests',
  'numpy',
  'six',
  'urllib3',
  'setuptools',
  'typing-extensions',
  'certifi',
  'idna',
  'charset-normalizer',
  'python-dateutil',
  'packaging',
  'pyyaml',
  'click',
  'attrs',
  'jinja2',
  'markupsafe',
  'pandas',
  'protobuf',
  'cryptography',
  'cffi',
  'pycparser',
  'pytz',
  'wheel',
  'pydantic',
  'importlib-metadata',
  'zipp',
  'jsonschema',
  'scipy',
  'pillow',
  'tqdm',
  'boto3',
  'botocore',
  'sqlalchemy',
  'aiohttp',
  'grpcio',
  'werkzeug',
  'flask',
  'django',
  'pytest',
  'colorama',
  'rich',
  'psutil',
  'lxml',
  'tomli',
  'filelock',
  'platformdirs',
  'matplotlib',
  'pyparsing',
  'decorator',
  'wrapt',
];
const SPECS = ['', '>=1.0', '>=2.0', '>=1.2,<2', '==1.0.3', '~=3.1', '>=0.9', '<3', '!=2.1.0', '>=4.0.0'];
const MARKERS = [
  'python_version < "3.8"',
  'sys_platform == "win32"',
  'python_version >= "3.9"',
  'platform_machine == "x86_64"',
];
const EXTRAS = ['dev', 'test', 'docs', 'all', 'async', 'cli', 'full', 'aws'];
const PY3_FLOOR = ['>=3.6', '>=3.7', '>=3.8', '>=3.9', '>=3.10', '>=3.8,<4'];
const PLATFORMS_RECENT = [
  'manylinux_2_17_x86_64.manylinux2014_x86_64',
  'manylinux_2_17_aarch64.manylinux2014_aarch64',
  'musllinux_1_1_x86_64',
  'macosx_10_9_x86_64',
  'macosx_11_0_arm64',
  'win_amd64',
  'win32',
];
const PLATFORMS_OLD = ['manylinux1_x86_64', 'manylinux1_i686', 'macosx_10_6_intel', 'win32', 'win_amd64'];
const LOG_SYNTAX = `Traceback (most recent call last):\n  File "setup.py", line 14\n    long_description=f"{here}/README.md",\n                                        ^\nSyntaxError: invalid syntax`;
const LOG_MISSING =
  'Traceback (most recent call last):\n  File "setup.py", line 3, in <module>\n    import numpy\nModuleNotFoundError: No module named \'numpy\'';
const LOG_ERROR =
  'Traceback (most recent call last):\n  File "setup.py", line 22, in <module>\n    version=read_version(),\nFileNotFoundError: [Errno 2] No such file or directory: \'VERSION\'';

function releaseCount(rng: Rng): number {
  const u = rng.next();
  if (u < 0.4) return 1;
  if (u < 0.58) return 2;
  if (u < 0.69) return 3;
  if (u < 0.8) return rng.int(4, 5);
  if (u < 0.9) return rng.int(6, 10);
  if (u < 0.975) return rng.int(11, 30);
  if (u < 0.997) return rng.int(31, 100);
  if (u < 0.9995) return rng.int(101, 300);
  return rng.logInt(301, 2000);
}

function depCount(rng: Rng): number {
  const u = rng.next();
  if (u < 0.45) return 0;
  if (u < 0.8) return rng.int(1, 3);
  if (u < 0.96) return rng.int(4, 8);
  if (u < 0.997) return rng.int(9, 20);
  return rng.int(21, 40);
}

interface Dep {
  name: string;
  spec: string;
  marker: string | null;
  extra: string | null;
}

function requirementOf(d: Dep, wheel: boolean): GenRequirement {
  const markers: string[] = [];
  if (d.marker) markers.push(d.marker);
  if (wheel && d.extra) markers.push(`extra == "${d.extra}"`);
  const marker =
    markers.length === 0 ? null : markers.map((m) => (markers.length > 1 ? `(${m})` : m)).join(' and ');
  const text = `${d.name}${d.spec}${wheel && marker ? `; ${marker}` : !wheel && d.marker ? `; ${d.marker}` : ''}`;
  return {
    kind: wheel ? 'install' : d.extra ? 'extra' : 'install',
    extra: wheel ? null : d.extra,
    requirement: text,
    name: d.name,
    specifier: d.spec || null,
    marker: wheel ? marker : d.marker,
  };
}

function wheelRequirements(deps: Dep[], requiresPython: string | null, extras: string[]): GenRequirement[] {
  const out = deps.map((d) => requirementOf(d, true));
  const bare = (kind: GenRequirement['kind'], requirement: string): GenRequirement => ({
    kind,
    extra: null,
    requirement,
    name: null,
    specifier: null,
    marker: null,
  });
  if (requiresPython) out.push(bare('python', requiresPython));
  for (const e of extras) out.push(bare('provides-extra', e));
  return out;
}

function sdistRequirements(
  deps: Dep[],
  requiresPython: string | null,
  setupRequires: string[],
  tests: string[],
) {
  const install = deps.filter((d) => !d.extra).map((d) => requirementOf(d, false));
  const setup = setupRequires.map((r) => ({
    ...requirementOf({ name: r, spec: '', marker: null, extra: null }, false),
    kind: 'setup' as const,
  }));
  const test = tests.map((r) => ({
    ...requirementOf({ name: r, spec: '', marker: null, extra: null }, false),
    kind: 'test' as const,
  }));
  const extra = deps.filter((d) => d.extra).map((d) => requirementOf(d, false));
  const out: GenRequirement[] = [...install, ...setup, ...test, ...extra];
  if (requiresPython) {
    out.push({
      kind: 'python',
      extra: null,
      requirement: requiresPython,
      name: null,
      specifier: null,
      marker: null,
    });
  }
  return out;
}

function displayNameOf(rng: Rng, index: number): string {
  const a = rng.pick(WORDS);
  const b = rng.pick(WORDS);
  const id = index.toString(36);
  const style = rng.next();
  if (style < 0.62) return `${a}-${b}-${id}`;
  // The index always follows a separator, so names of different projects never normalize alike.
  if (style < 0.77) return `${a[0]!.toUpperCase()}${a.slice(1)}${b[0]!.toUpperCase()}${b.slice(1)}-${id}`;
  if (style < 0.9) return `${a}_${b}_${id}`;
  if (style < 0.96) return `${a}.${b}.${id}`;
  return `${a}${b}.${id}`;
}

function nextVersion(rng: Rng, prev: [number, number, number]): [number, number, number] {
  const u = rng.next();
  if (u < 0.08) return [prev[0] + 1, 0, 0];
  if (u < 0.4) return [prev[0], prev[1] + 1, 0];
  return [prev[0], prev[1], prev[2] + 1];
}

function mutateDeps(rng: Rng, deps: Dep[], pool: () => string, cap: number): Dep[] {
  const out = deps.map((d) => ({ ...d }));
  const u = rng.next();
  if ((u < 0.3 || out.length === 0) && out.length < cap) {
    out.push({
      name: pool(),
      spec: rng.pick(SPECS),
      marker: rng.chance(0.08) ? rng.pick(MARKERS) : null,
      extra: null,
    });
  } else if (u < 0.6) {
    out.splice(rng.int(0, out.length - 1), 1);
  } else {
    const d = out[rng.int(0, out.length - 1)]!;
    d.spec = rng.pick(SPECS);
  }
  return out;
}

interface ReleasePlan {
  rng: Rng;
  time: number;
  version: string;
  deps: Dep[];
  extras: string[];
  requiresPython: string | null;
  setupRequires: string[];
  tests: string[];
  wheelRequirements?: GenRequirement[];
}

/** The files (with their extraction results) of one release uploaded at `time`. */
function releaseFiles(
  project: { display: string; compiled: boolean; pure: boolean; staticShare: number; index: number },
  plan: ReleasePlan,
  day: number,
): GenFile[] {
  const { rng, time, version } = plan;
  const year = new Date(time * 1000).getUTCFullYear();
  const files: GenFile[] = [];
  const wheelName = project.display.replace(/[-.]/g, '_');
  let t = time;
  const file = (filename: string, packagetype: string, pythonVersion: string): GenFile => {
    const sha256 = rng.hex(64);
    const hasCoreMetadata = packagetype === 'bdist_wheel' && t >= Date.UTC(2023, 5, 1) / 1000;
    const f: GenFile = {
      filename,
      packagetype,
      pythonVersion,
      sha256,
      size: rng.logInt(2_000, packagetype === 'bdist_wheel' && project.compiled ? 60_000_000 : 3_000_000),
      uploadTime: t,
      requiresPython: packagetype === 'bdist_egg' ? null : plan.requiresPython,
      yanked: false,
      yankedReason: null,
      hasCoreMetadata,
      coreMetadataSha256: hasCoreMetadata ? rng.hex(64) : null,
      removedAt: null,
      day,
      extractions: [],
    };
    t += rng.int(1, 40);
    files.push(f);
    return f;
  };
  // The sdist: nearly always, sdist-only before wheels existed.
  if (year < 2013 || rng.chance(0.88)) {
    const u = rng.next();
    const ext =
      year < 2010 && u < 0.25
        ? '.zip'
        : u < 0.03
          ? '.tar.bz2'
          : u < 0.05
            ? '.tgz'
            : u < 0.1
              ? '.zip'
              : '.tar.gz';
    const sdist = file(`${project.display}-${version}${ext}`, 'sdist', 'source');
    sdist.extractions = sdistResults(rng, plan, project.staticShare, year);
  }
  if (year < 2013 && rng.chance(0.05)) file(`${wheelName}-${version}-py2.7.egg`, 'bdist_egg', '2.7');
  if (year >= 2013) {
    const wheels: Array<[string, string]> = [];
    if (project.compiled) {
      const recent = year >= 2018;
      const pythons = recent
        ? Array.from({ length: rng.int(2, 5) }, (_, i) => `cp3${Math.min(13, year - 2011 - i)}`)
        : ['cp27', 'cp34', 'cp35', 'cp36'].slice(0, rng.int(1, 4));
      const platforms = recent
        ? PLATFORMS_RECENT.slice(0, rng.int(3, 7))
        : PLATFORMS_OLD.slice(0, rng.int(2, 5));
      for (const py of [...new Set(pythons)]) {
        for (const plat of platforms) wheels.push([`${py}-${py}${py === 'cp27' ? 'mu' : ''}-${plat}`, py]);
      }
    } else if (project.pure && (year >= 2018 ? rng.chance(0.9) : rng.chance(0.45))) {
      wheels.push(year >= 2020 ? ['py3-none-any', 'py3'] : ['py2.py3-none-any', 'py2.py3']);
    }
    for (const [tag, py] of wheels) {
      const w = file(`${wheelName}-${version}-${tag}.whl`, 'bdist_wheel', py);
      w.extractions = [wheelResult(rng, plan, w)];
    }
  }
  return files;
}

/** Every wheel of a release has the same METADATA dependencies (one list, shared). */
function wheelRequirementsOf(plan: ReleasePlan): GenRequirement[] {
  plan.wheelRequirements ??= wheelRequirements(plan.deps, plan.requiresPython, plan.extras);
  return plan.wheelRequirements;
}

function wheelResult(rng: Rng, plan: ReleasePlan, w: GenFile): GenExtraction {
  if (rng.chance(0.002)) {
    return {
      pythonKey: 'any',
      method: 'wheel',
      extractorVersion: WHEEL_EXTRACTOR,
      status: 'failed',
      failureCode: rng.chance(0.5) ? 'metadata-invalid' : 'archive-corrupt',
      log: 'METADATA is not valid: header line without a colon',
      requirements: [],
    };
  }
  return {
    pythonKey: 'any',
    method: w.hasCoreMetadata ? 'pep658' : rng.chance(0.97) ? 'range' : 'download',
    extractorVersion: WHEEL_EXTRACTOR,
    status: 'ok',
    failureCode: null,
    log: null,
    requirements: wheelRequirementsOf(plan),
  };
}

const ENUM34: GenRequirement = {
  kind: 'install',
  extra: null,
  requirement: 'enum34',
  name: 'enum34',
  specifier: null,
  marker: null,
};

function sdistResults(rng: Rng, plan: ReleasePlan, staticShare: number, year: number): GenExtraction[] {
  const base = { extractorVersion: SDIST_EXTRACTOR, failureCode: null, log: null };
  const u = rng.next();
  if (u < 0.02) {
    const code = rng.pick(['archive-corrupt', 'sandbox-timeout', 'archive-unsupported', 'sandbox-memory']);
    return [
      {
        ...base,
        pythonKey: 'any',
        method: 'sdist',
        status: 'failed',
        failureCode: code,
        log: `${code}: the sdist could not be processed`,
        requirements: [],
      },
    ];
  }
  const reqs = sdistRequirements(plan.deps, plan.requiresPython, plan.setupRequires, plan.tests);
  if (year >= 2019 && u < 0.02 + staticShare) {
    return [
      {
        ...base,
        pythonKey: 'any',
        method: rng.chance(0.6) ? 'pkg-info' : 'pyproject',
        status: 'ok',
        requirements: reqs,
      },
    ];
  }
  if (u > 0.97) {
    const [code, log] = rng.chance(0.5)
      ? ['missing-build-dependency', LOG_MISSING]
      : ['setup-py-error', LOG_ERROR];
    return SDIST_KEYS.map((k) => ({
      ...base,
      pythonKey: k,
      method: 'setup.py',
      status: 'failed' as const,
      failureCode: code,
      log,
      requirements: [],
    }));
  }
  const py3only = year >= 2020 || (plan.requiresPython !== null && year >= 2016);
  const py2extra = !py3only && rng.chance(0.15);
  const out: GenExtraction[] = [];
  for (const k of SDIST_KEYS) {
    if (k === '27' && py3only) {
      out.push({
        pythonKey: k,
        method: 'setup.py',
        extractorVersion: SDIST_EXTRACTOR,
        status: 'failed',
        failureCode: 'python-incompatible',
        log: LOG_SYNTAX,
        requirements: [],
      });
      continue;
    }
    // Python 2 often needs backports; the other interpreters share one list.
    const requirements = k === '27' && py2extra ? [ENUM34, ...reqs] : reqs;
    out.push({
      pythonKey: k,
      method: 'setup.py',
      extractorVersion: SDIST_EXTRACTOR,
      status: 'ok',
      failureCode: null,
      log: null,
      requirements,
    });
  }
  return out;
}

const pools = new Map<string, string[]>();
/** Names of other projects that dependencies point to (2,000 of them, from the seed). */
function namePool(seed: number, baseProjects: number): string[] {
  const key = `${seed}/${baseProjects}`;
  let names = pools.get(key);
  if (!names) {
    const rng = new Rng(seed, 0x9001);
    names = Array.from({ length: 2000 }, () => {
      const i = rng.int(0, baseProjects - 1);
      return pep503Name(displayNameOf(new Rng(seed, i, 0x7a17), i));
    });
    pools.set(key, names);
  }
  return names;
}

/** A project's static traits, the same on every day. */
function traitsOf(seed: number, index: number) {
  const rng = new Rng(seed, index, 0x7a17);
  const display = displayNameOf(rng, index);
  const compiled = rng.chance(0.03);
  return {
    rng,
    display,
    compiled,
    pure: !compiled && rng.chance(0.92),
    staticShare: rng.chance(0.3) ? 0.8 : 0.1,
    // When the project started and how often it releases.
    start: T_FIRST + Math.floor(rng.next() ** 0.7 * (T_NOW - T_FIRST - 30 * DAY)),
    releases: releaseCount(rng),
    deps: depCount(rng),
    extras: rng.chance(0.12) ? EXTRAS.slice(0, rng.int(1, 3)) : [],
  };
}

/** Projects the day-`day` changes touch, and new projects that day: chosen per index by hash. */
export function changedOn(seed: number, day: number, index: number, rate: number): boolean {
  return new Rng(seed, index, day, 0xc4a9).next() < rate;
}

export interface DayPlan {
  /** Fraction of the existing projects a day changes (≈ 6,000 of 736,000 at full size). */
  rate: number;
  /** New projects per day. */
  newProjects: number;
}

export function dayPlan(projects: number): DayPlan {
  return { rate: 6_000 / 736_000, newProjects: Math.max(1, Math.round((projects * 600) / 736_000)) };
}

/**
 * Project `index` as the index shows it at the end of `day` (0: the state the bulk load writes).
 * Projects ≥ `baseProjects` are created on later days (day of creation: see {@link creationDay}).
 */
export function generateProject(seed: number, index: number, day: number, baseProjects: number): GenProject {
  const tr = traitsOf(seed, index);
  const created = creationDay(index, baseProjects);
  const rng = tr.rng;
  const display = tr.display;
  const project = { display, compiled: tr.compiled, pure: tr.pure, staticShare: tr.staticShare, index };
  const names = namePool(seed, baseProjects);
  const pool = () => (rng.chance(0.7) ? rng.pick(POPULAR) : rng.pick(names));
  const releases: GenRelease[] = [];
  const events: GenProject['events'] = [];
  let version: [number, number, number] = [0, rng.int(0, 3), rng.int(0, 9)];
  let deps: Dep[] = [];
  for (let i = 0; i < tr.deps; i++) {
    deps.push({
      name: pool(),
      spec: rng.pick(SPECS),
      marker: rng.chance(0.1) ? rng.pick(MARKERS) : null,
      extra: null,
    });
  }
  for (const e of tr.extras) {
    for (let i = rng.int(1, 4); i > 0; i--)
      deps.push({ name: pool(), spec: rng.pick(SPECS), marker: null, extra: e });
  }
  const setupRequires = rng.chance(0.15) ? ['setuptools_scm'] : [];
  const tests = rng.chance(0.1) ? ['pytest', 'mock'] : [];
  const planOf = (r: Rng, time: number, v: string, d: Dep[]): ReleasePlan => {
    const year = new Date(time * 1000).getUTCFullYear();
    // Older releases declared fewer dependencies.
    const share = year < 2014 ? 0.34 : year < 2019 ? 0.67 : 1;
    return {
      rng: r,
      time,
      version: v,
      deps: share === 1 ? d : d.slice(0, Math.ceil(d.length * share)),
      extras: tr.extras,
      requiresPython: year >= 2018 && r.chance(0.7) ? r.pick(PY3_FLOOR) : null,
      setupRequires,
      tests,
    };
  };
  const addRelease = (r: Rng, time: number, fileDay: number) => {
    version = releases.length === 0 ? version : nextVersion(r, version);
    if (releases.length > 0 && r.chance(0.2)) deps = mutateDeps(r, deps, pool, tr.deps + 3);
    const v = `${version[0]}.${version[1]}.${version[2]}${r.chance(0.03) ? 'rc1' : ''}`;
    const files = releaseFiles(project, planOf(r, time, v, deps), fileDay);
    releases.push({ version: v, time, files });
    events.push({ time, version: v, action: 'new release' });
    for (const f of files)
      events.push({ time: f.uploadTime, version: v, action: `add ${f.pythonVersion} file ${f.filename}` });
  };

  if (created === 0) {
    // Releases spread from the project's start to now, denser at the end (active projects).
    const span = T_NOW - tr.start - DAY;
    for (let i = 0; i < tr.releases; i++) {
      const at =
        tr.start +
        Math.floor(
          span * (tr.releases === 1 ? rng.next() : (i / tr.releases + rng.next() / tr.releases) ** 0.8),
        );
      addRelease(rng, Math.max(at, releases.at(-1)?.time ?? 0) + 60, 0);
    }
    // Yanks and removals, before the load.
    for (const rel of releases) {
      if (rng.chance(0.004)) {
        for (const f of rel.files) {
          f.yanked = true;
          f.yankedReason = rng.chance(0.5) ? 'broken build' : null;
        }
      }
      for (const f of rel.files)
        if (rng.chance(0.01)) f.removedAt = Math.min(T_NOW - 1, f.uploadTime + rng.int(DAY, 200 * DAY));
    }
  }
  let removedAt: number | null = created === 0 && rng.chance(0.004) ? T_NOW - rng.int(DAY, 900 * DAY) : null;

  // The days since the load, each a change with the day's own randomness.
  const plan = dayPlan(baseProjects);
  for (let d = Math.max(1, created); d <= day; d++) {
    const start = T_NOW + (d - 1) * DAY;
    const r = new Rng(seed, index, d, 0xd4e5);
    const at = start + r.int(0, DAY - 3600);
    if (d === created) {
      addRelease(r, at, d);
      continue;
    }
    if (removedAt !== null || !changedOn(seed, d, index, plan.rate)) continue;
    const u = r.next();
    if (u < 0.6 || releases.length === 0) {
      addRelease(r, at, d);
    } else if (u < 0.75) {
      // Late wheels for the newest release.
      const last = releases.at(-1)!;
      const wheelName = display.replace(/[-.]/g, '_');
      const plan2 = planOf(r, at, last.version, deps);
      for (const plat of PLATFORMS_RECENT.slice(0, r.int(1, 5))) {
        const filename = `${wheelName}-${last.version}-cp313-cp313-${plat}.whl`;
        if (last.files.some((f) => f.filename === filename)) continue;
        const hasCoreMetadata = true;
        const w: GenFile = {
          filename,
          packagetype: 'bdist_wheel',
          pythonVersion: 'cp313',
          sha256: r.hex(64),
          size: r.logInt(50_000, 30_000_000),
          uploadTime: at + last.files.length,
          requiresPython: plan2.requiresPython,
          yanked: false,
          yankedReason: null,
          hasCoreMetadata,
          coreMetadataSha256: r.hex(64),
          removedAt: null,
          day: d,
          extractions: [],
        };
        w.extractions = [wheelResult(r, plan2, w)];
        last.files.push(w);
        events.push({ time: w.uploadTime, version: last.version, action: `add cp313 file ${filename}` });
      }
    } else if (u < 0.87) {
      const rel = releases[r.int(0, releases.length - 1)]!;
      for (const f of rel.files) {
        f.yanked = true;
        f.yankedReason = 'yanked on day ' + d;
      }
      events.push({ time: at, version: rel.version, action: 'yank release' });
    } else if (u < 0.97) {
      const rel = releases[r.int(0, releases.length - 1)]!;
      const live = rel.files.filter((f) => f.removedAt === null);
      if (live.length > 0) {
        const f = live[r.int(0, live.length - 1)]!;
        f.removedAt = at;
        events.push({ time: at, version: rel.version, action: `remove file ${f.filename}` });
      }
    } else if (d > 0 && r.chance(0.5)) {
      removedAt = at;
      events.push({ time: at, version: null, action: 'remove project' });
    } else {
      events.push({ time: at, version: null, action: 'update description' });
    }
  }
  if (removedAt !== null && created === 0 && !events.some((e) => e.action === 'remove project')) {
    events.push({ time: removedAt, version: null, action: 'remove project' });
  }
  // Events one second apart at least: their serials are unique and time-ordered.
  events.sort((a, b) => a.time - b.time);
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.time <= events[i - 1]!.time) events[i]!.time = events[i - 1]!.time + 1;
  }
  return { index, displayName: display, name: pep503Name(display), removedAt, releases, events };
}

/** Day on which project `index` appears: 0 for the loaded ones, then `newProjects` a day. */
export function creationDay(index: number, baseProjects: number): number {
  if (index < baseProjects) return 0;
  const perDay = dayPlan(baseProjects).newProjects;
  return 1 + Math.floor((index - baseProjects) / perDay);
}

export function serialOf(time: number, index: number): number {
  return (time - T_FIRST) * SERIAL_STRIDE + index;
}

export function lastSerialOf(p: GenProject): number {
  const e = p.events.at(-1);
  return e ? serialOf(e.time, p.index) : 0;
}

export const machnixOf = (display: string) => machNixName(display);
export const bucketOfName = (display: string) => bucketOf(machNixName(display));
