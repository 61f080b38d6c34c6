import { PURPOSE, Stream } from './preset-random';

// The numbers of one project of the PyPI-shaped preset: when it was created, when each release
// came out, which files each release has (as small integer descriptors, no strings), which of
// them came late, and what was yanked or removed when. Everything follows from (seed, index)
// and the model's size; `preset-project.ts` turns a plan into names, versions and archives.
//
// The history runs from 2005-01-01 to the base day 2025-01-01 (day 0 of `--day`), and goes on
// after it: releases, late uploads, yanks and removals planned after the base day are what
// `--day N` and advancing a day reveal.
//
// What shapes the index (measured figures are in readme.md):
// - Projects are created at an exponentially growing rate (time constant TAU_DAYS) until the
//   base day, then at the base day's rate; the index orders projects by creation.
// - Releases per project are heavy-tailed (Lomax: most have 1–5, a few thousands), spread over
//   a span that grows with their number (nightly-style projects release about daily).
// - Files per release follow the packaging of the release's time: sdists only before wheels
//   (2013), universal wheels, then py3 wheels, and for compiled projects a matrix of CPython
//   versions supported at that date × the platforms of the time (manylinux1, manylinux2014,
//   musllinux, macOS arm64, …): dozens of wheels for recent releases.
// - Some wheels of a release come late (other CI jobs, other platforms), some releases are
//   yanked, and some files, releases and projects are removed.

export const HISTORY_START_MS = Date.UTC(2005, 0, 1);
export const DAY_S = 86_400;
/** Day index (since 2005-01-01) of 2025-01-01, the day `--day 0` ends before. */
export const BASE_DAY = (Date.UTC(2025, 0, 1) - HISTORY_START_MS) / 86_400_000;
/** Projects created before the base day at scale 1 (about 0.6 % are removed by then). */
export const PROJECTS_AT_SCALE_1 = 741_000;
/** Time constant of the growth of project creations, in days. */
export const TAU_DAYS = 900;

const at = (iso: string) => (Date.parse(iso) - HISTORY_START_MS) / 1000;
const BASE_S = BASE_DAY * DAY_S;

export const KIND = { pure: 0, sdistOnly: 1, compiled: 2, wheelOnly: 3 } as const;
export type ProjectKind = (typeof KIND)[keyof typeof KIND];

// ---- File descriptors: format | python tag << 2 | abi << 8 | platform << 12 ----------------

export const FORMAT = { targz: 0, zip: 1, wheel: 2 } as const;

export const PYTHON_TAGS = ['py2.py3', 'py3', 'py2'] as const;
interface CPython {
  tag: string;
  minor: number;
  from: number;
  until: number;
}
/** CPython versions: wheels for them from shortly after the release to a while after EOL. */
export const CPYTHONS: CPython[] = [
  ['cp26', 6, '2008-10-01', '2013-10-29'],
  ['cp27', 7, '2010-07-03', '2020-01-01'],
  ['cp33', 33, '2012-09-29', '2017-09-29'],
  ['cp34', 34, '2014-03-16', '2019-03-18'],
  ['cp35', 35, '2015-09-13', '2020-09-30'],
  ['cp36', 36, '2016-12-23', '2021-12-23'],
  ['cp37', 37, '2018-06-27', '2023-06-27'],
  ['cp38', 38, '2019-10-14', '2024-10-07'],
  ['cp39', 39, '2020-10-05', '2025-10-31'],
  ['cp310', 310, '2021-10-04', '2026-10-31'],
  ['cp311', 311, '2022-10-24', '2027-10-31'],
  ['cp312', 312, '2023-10-02', '2028-10-31'],
  ['cp313', 313, '2024-10-07', '2029-10-31'],
  ['cp314', 314, '2025-10-07', '2030-10-31'],
].map(([tag, minor, from, until]) => ({
  tag: tag as string,
  minor: minor as number,
  from: at(`${from}T00:00:00Z`) + 45 * DAY_S,
  until: at(`${until}T00:00:00Z`) + 120 * DAY_S,
}));
/** Index of a CPython in the python-tag space of a descriptor. */
const CP0 = PYTHON_TAGS.length;

export const ABI = { none: 0, abi3: 1, m: 2, mu: 3, plain: 4 } as const;

/** Platform group bits: a compiled project builds for some groups only. */
const GROUP = {
  win32: 1,
  win64: 2,
  macX86: 4,
  macArm: 8,
  linux64: 16,
  linux32: 32,
  linuxArm: 64,
  musl: 128,
  muslArm: 256,
} as const;
interface Platform {
  tag: string;
  group: number;
  from: number;
  until: number;
}
export const PLATFORMS: Platform[] = [
  ['any', 0, '2005-01-01', '2100-01-01'],
  ['win32', GROUP.win32, '2013-01-01', '2100-01-01'],
  ['win_amd64', GROUP.win64, '2013-01-01', '2100-01-01'],
  ['macosx_10_6_intel', GROUP.macX86, '2013-01-01', '2018-01-01'],
  ['macosx_10_9_x86_64', GROUP.macX86, '2018-01-01', '2100-01-01'],
  ['macosx_11_0_arm64', GROUP.macArm, '2021-01-01', '2100-01-01'],
  ['manylinux1_x86_64', GROUP.linux64, '2016-04-01', '2020-06-01'],
  ['manylinux1_i686', GROUP.linux32, '2016-04-01', '2020-06-01'],
  ['manylinux_2_17_x86_64.manylinux2014_x86_64', GROUP.linux64, '2020-06-01', '2100-01-01'],
  ['manylinux_2_17_i686.manylinux2014_i686', GROUP.linux32, '2020-06-01', '2023-01-01'],
  ['manylinux_2_17_aarch64.manylinux2014_aarch64', GROUP.linuxArm, '2020-06-01', '2100-01-01'],
  ['musllinux_1_1_x86_64', GROUP.musl, '2021-09-01', '2024-06-01'],
  ['musllinux_1_2_x86_64', GROUP.musl, '2024-06-01', '2100-01-01'],
  ['musllinux_1_2_aarch64', GROUP.muslArm, '2024-06-01', '2100-01-01'],
].map(([tag, group, from, until]) => ({
  tag: tag as string,
  group: group as number,
  from: at(`${from}T00:00:00Z`),
  until: at(`${until}T00:00:00Z`),
}));

export const descriptor = (format: number, py = 0, abi = 0, platform = 0) =>
  format | (py << 2) | (abi << 8) | (platform << 12);
export const formatOf = (d: number) => d & 3;
export const pythonOf = (d: number) => (d >>> 2) & 63;
export const abiOf = (d: number) => (d >>> 8) & 15;
export const platformOf = (d: number) => (d >>> 12) & 31;
/** The CPython of a descriptor's python tag, if it is one. */
export const cpythonOf = (d: number): CPython | undefined => CPYTHONS[pythonOf(d) - CP0];

const WHEELS_FROM = at('2013-01-01T00:00:00Z');
const PY3_WHEELS_FROM = at('2018-01-01T00:00:00Z');
const MODERN_FROM = at('2021-01-01T00:00:00Z');
const ABI3_FROM = at('2020-01-01T00:00:00Z');

// ---- Sizes of the model ---------------------------------------------------------------------

export interface PresetModel {
  seed: number;
  /** Projects created before the base day. */
  baseProjects: number;
}

/** Creation rate of projects after the base day, per day. */
function rateAfterBase(m: PresetModel): number {
  const g = Math.exp(BASE_DAY / TAU_DAYS);
  return ((m.baseProjects / TAU_DAYS) * g) / (g - 1);
}

/** When project `index` was created, in seconds since 2005-01-01 (non-decreasing in index). */
export function creationTime(m: PresetModel, index: number): number {
  let days: number;
  if (index < m.baseProjects) {
    const g = Math.exp(BASE_DAY / TAU_DAYS) - 1;
    days = TAU_DAYS * Math.log1p(((index + 0.5) / m.baseProjects) * g);
  } else {
    days = BASE_DAY + (index - m.baseProjects + 0.5) / rateAfterBase(m);
  }
  return Math.floor(days * DAY_S);
}

/** How many projects were created before the start of day `day` (days since 2005-01-01). */
export function projectsCreatedBefore(m: PresetModel, day: number): number {
  const limit = day * DAY_S;
  let lo = 0;
  let hi = 1;
  while (creationTime(m, hi) < limit) hi *= 2;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (creationTime(m, mid) < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- The plan --------------------------------------------------------------------------------

/** Sentinel for "never" in the time arrays. */
export const NEVER = -1;

/** One project's numbers. Arrays are sized for reuse; `releases` and `files` say how much is used. */
export class ProjectPlan {
  index = 0;
  kind: ProjectKind = KIND.pure;
  /** Platform groups a compiled project builds wheels for. */
  groups = 0;
  /** Whether a compiled project ships one abi3 wheel per platform (from 2020). */
  abi3 = false;
  /** How many CPython versions at a time a compiled project builds for. */
  pythons = 0;
  /** Propensity to upload a wheel at all (pure projects). */
  wheelHabit = 0;
  releases = 0;
  files = 0;
  removedAt = NEVER;
  /** Release times, seconds since 2005-01-01, strictly increasing. */
  time = new Float64Array(8);
  /** Descriptors of release k are desc[fileStart[k] .. fileStart[k + 1]). */
  fileStart = new Uint32Array(9);
  desc = new Int32Array(16);
  /** The last `late[k]` files of release k were uploaded at lateAt[k]. */
  late = new Uint16Array(8);
  lateAt = new Float64Array(8);
  /** File (index within the release) removed at removedFileAt[k], or -1. */
  removedFile = new Int32Array(8);
  removedFileAt = new Float64Array(8);
  yankedAt = new Float64Array(8);
  /** Whether the yank has a reason. */
  yankReason = new Uint8Array(8);
  releaseRemovedAt = new Float64Array(8);

  ensure(releases: number, files: number): void {
    if (releases > this.time.length) {
      const n = Math.max(releases, this.time.length * 2);
      this.time = grow(this.time, n);
      this.fileStart = grow(this.fileStart, n + 1);
      this.late = grow(this.late, n);
      this.lateAt = grow(this.lateAt, n);
      this.removedFile = grow(this.removedFile, n);
      this.removedFileAt = grow(this.removedFileAt, n);
      this.yankedAt = grow(this.yankedAt, n);
      this.yankReason = grow(this.yankReason, n);
      this.releaseRemovedAt = grow(this.releaseRemovedAt, n);
    }
    if (files > this.desc.length) this.desc = grow(this.desc, Math.max(files, this.desc.length * 2));
  }

  /** Upload time of file j (index within release k). */
  uploadTime(k: number, j: number): number {
    const n = this.fileStart[k + 1]! - this.fileStart[k]!;
    return j >= n - this.late[k]! ? this.lateAt[k]! : this.time[k]!;
  }
}

type Typed = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;
function grow<T extends Typed>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** Optional platform groups of a compiled project and how likely each is (Linux x86-64 always). */
const GROUP_ODDS = [
  GROUP.win32,
  0.45,
  GROUP.win64,
  0.8,
  GROUP.macX86,
  0.75,
  GROUP.macArm,
  0.7,
  GROUP.linux32,
  0.45,
  GROUP.linuxArm,
  0.6,
  GROUP.musl,
  0.45,
  GROUP.muslArm,
  0.3,
];

/** Releases per project: Lomax (Pareto II) with shape ALPHA and scale SIGMA, capped. */
const ALPHA = 1.15;
const SIGMA = 1.5;
const MAX_RELEASES = 4_000;
const MAX_COMPILED_RELEASES = 600;

const SUPPORTED = new Int32Array(CPYTHONS.length);
const LINUX = PLATFORMS.map((p) => p.tag.includes('linux'));

// Reused by every call: planning is synchronous, so a stream is never in use twice.
const EVENTS_STREAM = new Stream();
const FILES_STREAM = new Stream();

/** Fills `plan` (reused between projects at start-up) for project `index`. */
export function planProject(m: PresetModel, index: number, plan = new ProjectPlan()): ProjectPlan {
  const p = new Stream(m.seed, index, PURPOSE.project);
  plan.index = index;
  plan.kind = [KIND.pure, KIND.sdistOnly, KIND.compiled, KIND.wheelOnly][
    p.weighted([75, 15, 7, 3])
  ] as ProjectKind;
  const cap = plan.kind === KIND.compiled ? MAX_COMPILED_RELEASES : MAX_RELEASES;
  const releases = Math.min(cap, 1 + Math.floor(SIGMA * (p.open() ** (-1 / ALPHA) - 1)));
  plan.releases = releases;
  plan.wheelHabit = 0.55 + 0.45 * p.next();
  plan.groups = GROUP.linux64;
  for (let g = 0; g < GROUP_ODDS.length; g += 2)
    if (p.chance(GROUP_ODDS[g + 1]!)) plan.groups |= GROUP_ODDS[g]!;
  plan.abi3 = p.chance(0.15);
  plan.pythons = 3 + p.below(4);

  // Release times: the first at creation, the others spread over a span that grows with their
  // number (exponential gaps, so some releases come in bursts).
  const created = creationTime(m, index);
  const t = new Stream(m.seed, index, PURPOSE.times);
  const spanDays = Math.min(
    9_000,
    t.logLogistic(Math.min(40 * (releases - 1) ** 0.8, 1.5 * releases), 1.6) + 0.02 * releases,
  );
  plan.ensure(releases, 0);
  plan.time[0] = created;
  if (releases > 1) {
    let total = 0;
    for (let k = 1; k <= releases; k++) {
      total += t.exponential();
      if (k < releases) plan.time[k] = total;
    }
    const scale = (spanDays * DAY_S) / total;
    for (let k = 1; k < releases; k++) {
      plan.time[k] = Math.max(created + Math.floor(plan.time[k]! * scale), plan.time[k - 1]! + 60);
    }
  }

  // Files and events, release by release.
  let files = 0;
  let lastEvent = created;
  for (let k = 0; k < releases; k++) {
    plan.fileStart[k] = files;
    plan.ensure(releases, files + 64);
    const n = releaseFiles(m, plan, k, plan.desc, files);
    files += n;
    plan.fileStart[k + 1] = files; // read by uploadTime() below
    const ev = EVENTS_STREAM.reset4(m.seed, index, k, PURPOSE.events);
    const when = plan.time[k]!;
    plan.late[k] = 0;
    plan.lateAt[k] = NEVER;
    const wheels = countWheels(plan.desc, files - n, files);
    if (plan.kind === KIND.compiled && when >= at('2016-01-01T00:00:00Z') && wheels > 2 && ev.chance(0.3)) {
      // Some CI jobs finish later, or wheels for more platforms follow days or months later.
      plan.late[k] = Math.max(1, Math.floor(wheels * (0.2 + 0.4 * ev.next())));
      plan.lateAt[k] = when + 300 + Math.floor(ev.logLogistic(0.8, 1.1) * DAY_S);
    } else if (wheels > 0 && wheels < n && ev.chance(0.03)) {
      plan.late[k] = 1; // the wheel, built after the sdist was uploaded
      plan.lateAt[k] = when + 60 + Math.floor(ev.logLogistic(0.1, 1.0) * DAY_S);
    }
    const lastUpload = Math.max(when, plan.lateAt[k]!);
    plan.removedFile[k] = -1;
    plan.removedFileAt[k] = NEVER;
    if (ev.chance(0.008) && n > 0) {
      const j = ev.below(n);
      plan.removedFile[k] = j;
      plan.removedFileAt[k] = plan.uploadTime(k, j) + 600 + Math.floor(ev.logLogistic(2, 1.0) * DAY_S);
    }
    plan.yankedAt[k] = NEVER;
    plan.yankReason[k] = 0;
    if (ev.chance(0.015)) {
      plan.yankedAt[k] = when + 600 + Math.floor(ev.logLogistic(5, 1.0) * DAY_S);
      plan.yankReason[k] = ev.chance(0.5) ? 1 : 0;
    }
    plan.releaseRemovedAt[k] = NEVER;
    if (ev.chance(0.004)) {
      const after = Math.max(lastUpload, plan.removedFileAt[k]!);
      plan.releaseRemovedAt[k] = after + 600 + Math.floor(ev.logLogistic(15, 1.0) * DAY_S);
      // A release is yanked before it is removed, or not at all.
      if (plan.yankedAt[k]! >= plan.releaseRemovedAt[k]!) plan.yankedAt[k] = NEVER;
    }
    lastEvent = Math.max(
      lastEvent,
      lastUpload,
      plan.removedFileAt[k]!,
      plan.yankedAt[k]!,
      plan.releaseRemovedAt[k]!,
    );
  }
  plan.fileStart[releases] = files;
  plan.files = files;
  plan.removedAt = p.chance(0.006) ? lastEvent + 3_600 + Math.floor(p.logLogistic(60, 1.0) * DAY_S) : NEVER;
  return plan;
}

function countWheels(desc: Int32Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (formatOf(desc[i]!) === FORMAT.wheel) n++;
  return n;
}

/**
 * Writes the descriptors of release k at desc[at…] and returns how many: sdists first, then
 * wheels, newest CPython last (so the files that come late are the newest ones).
 */
function releaseFiles(m: PresetModel, plan: ProjectPlan, k: number, desc: Int32Array, at0: number): number {
  const r = FILES_STREAM.reset4(m.seed, plan.index, k, PURPOSE.files);
  const when = plan.time[k]!;
  let n = at0;
  const zipShare = when < WHEELS_FROM ? 0.22 : when < PY3_WHEELS_FROM ? 0.06 : 0.01;
  const sdistFormat = r.chance(zipShare) ? FORMAT.zip : FORMAT.targz;
  const both = when < WHEELS_FROM && r.chance(0.03);
  // Wheel-only projects upload sdists until there are wheels: a release always has a file.
  const noSdist =
    (plan.kind === KIND.wheelOnly && when >= WHEELS_FROM) ||
    (plan.kind === KIND.pure && when >= MODERN_FROM && r.chance(0.03));
  if (!noSdist) {
    desc[n++] = descriptor(sdistFormat);
    if (both) desc[n++] = descriptor(sdistFormat === FORMAT.zip ? FORMAT.targz : FORMAT.zip);
  }
  if (when < WHEELS_FROM || plan.kind === KIND.sdistOnly) return n - at0;

  if (plan.kind !== KIND.compiled) {
    const share = when < PY3_WHEELS_FROM ? 0.45 : when < MODERN_FROM ? 0.8 : 0.9;
    if (plan.kind === KIND.wheelOnly || r.chance(share * plan.wheelHabit)) {
      const x = r.next();
      if (when < PY3_WHEELS_FROM) {
        if (x < 0.7) desc[n++] = descriptor(FORMAT.wheel, 0);
        else if (x < 0.85) {
          desc[n++] = descriptor(FORMAT.wheel, 2);
          desc[n++] = descriptor(FORMAT.wheel, 1);
        } else desc[n++] = descriptor(FORMAT.wheel, x < 0.93 ? 2 : 1);
      } else if (when < MODERN_FROM) desc[n++] = descriptor(FORMAT.wheel, x < 0.45 ? 0 : 1);
      else desc[n++] = descriptor(FORMAT.wheel, x < 0.08 ? 0 : 1);
    }
    return n - at0;
  }

  // Compiled: the CPythons supported at the time (the project's newest few) × its platforms.
  let count = 0;
  for (let c = CPYTHONS.length - 1; c >= 0 && count < plan.pythons; c--) {
    const cp = CPYTHONS[c]!;
    if (cp.from <= when && when < cp.until) SUPPORTED[count++] = c;
  }
  if (plan.abi3 && when >= ABI3_FROM && count > 0) {
    const oldest = SUPPORTED[count - 1]!;
    for (let q = 1; q < PLATFORMS.length; q++) {
      if (builds(plan, q, when)) desc[n++] = descriptor(FORMAT.wheel, CP0 + oldest, ABI.abi3, q);
    }
    return n - at0;
  }
  for (let i = count - 1; i >= 0; i--) {
    const c = SUPPORTED[i]!;
    const minor = CPYTHONS[c]!.minor;
    for (let q = 1; q < PLATFORMS.length; q++) {
      if (!builds(plan, q, when)) continue;
      const abi = minor === 6 || minor === 7 ? (LINUX[q] ? ABI.mu : ABI.m) : minor < 38 ? ABI.m : ABI.plain;
      desc[n++] = descriptor(FORMAT.wheel, CP0 + c, abi, q);
    }
  }
  return n - at0;
}

function builds(plan: ProjectPlan, q: number, when: number): boolean {
  const pl = PLATFORMS[q]!;
  return pl.from <= when && when < pl.until && (plan.groups & pl.group) !== 0;
}

/** Kinds of journal events, in the order they sort when they happen in the same second. */
export const EVENT = {
  create: 0,
  owner: 1,
  release: 2,
  file: 3,
  yank: 4,
  removeFile: 5,
  removeRelease: 6,
  removeProject: 7,
} as const;

/**
 * Calls `emit(day, count)` for every day (before `endDay`) on which the project has journal
 * events, in day order. `scratch` is reused between calls.
 */
export function eventsPerDay(
  plan: ProjectPlan,
  endDay: number,
  scratch: { keys: Int32Array },
  emit: (day: number, count: number) => void,
): void {
  const need = plan.releases * 5 + 2;
  if (scratch.keys.length < need) scratch.keys = new Int32Array(need * 2);
  const keys = scratch.keys;
  const endS = endDay * DAY_S;
  // Keys are day * 2^8 + count (count ≤ 255 per group: a release has under 100 files).
  let n = 0;
  const t0 = plan.time[0]!;
  if (t0 < endS) keys[n++] = Math.floor(t0 / DAY_S) * 256 + 2; // create, add Owner
  for (let k = 0; k < plan.releases; k++) {
    const late = plan.late[k]!;
    const onTime = 1 + plan.fileStart[k + 1]! - plan.fileStart[k]! - late;
    const t = plan.time[k]!;
    if (t >= endS) break; // releases are in time order; later events of earlier ones are not
    keys[n++] = Math.floor(t / DAY_S) * 256 + onTime;
    const tl = plan.lateAt[k]!;
    if (late > 0 && tl < endS) keys[n++] = Math.floor(tl / DAY_S) * 256 + late;
    const tf = plan.removedFileAt[k]!;
    if (tf >= 0 && tf < endS) keys[n++] = Math.floor(tf / DAY_S) * 256 + 1;
    const ty = plan.yankedAt[k]!;
    if (ty >= 0 && ty < endS) keys[n++] = Math.floor(ty / DAY_S) * 256 + 1;
    const tr = plan.releaseRemovedAt[k]!;
    if (tr >= 0 && tr < endS) keys[n++] = Math.floor(tr / DAY_S) * 256 + 1;
  }
  const tp = plan.removedAt;
  if (tp >= 0 && tp < endS) keys[n++] = Math.floor(tp / DAY_S) * 256 + 1;
  const sorted = keys.subarray(0, n).sort();
  let day = -1;
  let count = 0;
  for (const key of sorted) {
    const d = key >>> 8;
    if (d !== day) {
      if (count > 0) emit(day, count);
      day = d;
      count = 0;
    }
    count += key & 255;
  }
  if (count > 0) emit(day, count);
}

export { BASE_S };
