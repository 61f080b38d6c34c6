import { invariantError } from '@pypi-graph/core';
import { type CoreMetadata, parseCoreMetadata } from '@pypi-graph/pyspec';
import { type ArchiveEntry, gzipStored, tarArchive, wheelArchive, zipArchive } from './archive-writers';
import {
  type FileContent,
  type FileStat,
  type IndexFile,
  type Project,
  type Release,
  statOf,
  UPLOADER,
} from './index-model';
import type { WeightedLru } from './lru';
import type { PresetJournal } from './preset-journal';
import type { PresetName, PresetNames } from './preset-names';
import {
  ABI,
  abiOf,
  cpythonOf,
  DAY_S,
  EVENT,
  FORMAT,
  formatOf,
  HISTORY_START_MS,
  NEVER,
  PLATFORMS,
  type PresetModel,
  type ProjectPlan,
  PYTHON_TAGS,
  planProject,
  platformOf,
  pythonOf,
} from './preset-plan';
import { PURPOSE, Stream } from './preset-random';
import { canonicalizeVersion, isPrerelease } from './version-order';

// One project of the PyPI-shaped preset in full: its plan (preset-plan.ts) with versions, file
// names, dependencies and journal events, and the `Project` that the Simple and JSON APIs
// render for a given day. Built on demand and kept in a small cache by preset-source.ts.

export interface ExpandedFile {
  filename: string;
  descriptor: number;
  /** `source` for sdists, the wheel's python tag otherwise (the JSON API's python_version). */
  pythonVersion: string;
  wheel: boolean;
}

/** A Requires-Dist entry: `req` is name, extras and specifier; `marker` without the extra. */
export interface Dependency {
  req: string;
  marker: string;
  extra?: string;
}

export interface ExpandedRelease {
  version: string;
  requiresPython: string | null;
  requires: Dependency[];
  providesExtra: string[];
  /** How this release's metadata spells the project's name. */
  metadataName: string;
  sdistMetadataVersion: string;
  wheelMetadataVersion: string;
  /** Whether the sdist is built from pyproject.toml (PEP 621) rather than setup.py. */
  pyproject: boolean;
  yankReason: string | null;
  files: ExpandedFile[];
}

export interface JournalEvent {
  time: number;
  kind: number;
  release: number;
  file: number;
}

const at = (iso: string) => (Date.parse(iso) - HISTORY_START_MS) / 1000;
const Y2016 = at('2016-01-01T00:00:00Z');
const Y2018 = at('2018-01-01T00:00:00Z');
const Y2019 = at('2019-01-01T00:00:00Z');
const Y2020 = at('2020-01-01T00:00:00Z');
const Y2021 = at('2021-01-01T00:00:00Z');
const Y2023 = at('2023-01-01T00:00:00Z');
const Y2024_06 = at('2024-06-01T00:00:00Z');
const Y2012 = at('2012-01-01T00:00:00Z');

const dateOf = (seconds: number) => new Date(HISTORY_START_MS + seconds * 1000);

/**
 * A project's plan with its names: versions and journal events at once, each release's file
 * names and the rest of its metadata when first asked for (a changelog page needs the names of
 * a few releases of thousands of projects; a JSON page needs everything of one).
 */
export class ExpandedProject {
  readonly name: PresetName;
  readonly module: string;
  readonly versions: string[];
  private readonly escaped: string;
  private allEvents?: JournalEvent[];
  private readonly fileLists: Array<ExpandedFile[] | undefined> = [];
  private readonly details: Array<ExpandedRelease | undefined> = [];
  private deps?: Array<Dependency & { from: number }>;

  constructor(
    private readonly model: PresetModel,
    private readonly names: PresetNames,
    readonly plan: ProjectPlan,
  ) {
    this.name = names.name(plan.index);
    this.module = this.name.words.join('_');
    this.versions = releaseVersions(model, plan);
    this.escaped = this.name.display.replace(/[-_.]+/g, '_');
  }

  /** Every journal event of the project, in journal order. */
  get events(): JournalEvent[] {
    this.allEvents ??= journalEvents(this.plan, 0, Number.POSITIVE_INFINITY);
    return this.allEvents;
  }

  /** The journal events of one day, in journal order, without listing all the others. */
  eventsOn(day: number): JournalEvent[] {
    return journalEvents(this.plan, day * DAY_S, (day + 1) * DAY_S);
  }

  /** Files, for the caches' budgets. */
  get fileCount(): number {
    return this.plan.files;
  }

  /** The names of release k's files, in plan order. */
  files(k: number): ExpandedFile[] {
    let files = this.fileLists[k];
    if (!files) {
      files = this.releaseFiles(k, new Stream(this.model.seed, this.plan.index, k, PURPOSE.names));
      this.fileLists[k] = files;
    }
    return files;
  }

  // Draws the file-name choices from `r`, the release's names stream, which release() goes on with.
  private releaseFiles(k: number, r: Stream): ExpandedFile[] {
    const { plan, name, escaped } = this;
    const when = plan.time[k]!;
    const version = this.versions[k]!;
    // Sdists: the name as setuptools' safe_name wrote it (`Tem-Kovar`), then, from PEP 625's
    // tooling on, normalized with underscores (`tem_kovar`). Wheels: escaped as bdist_wheel
    // did (`Tem_Kovar`), lower case from newer tools.
    const sdistStem =
      when >= Y2023 && r.chance(when >= Y2024_06 ? 0.7 : 0.35)
        ? name.normalized.replace(/-/g, '_')
        : name.display.replace(/_/g, '-');
    const wheelStem = when >= Y2021 && r.chance(0.3) ? escaped.toLowerCase() : escaped;
    const files: ExpandedFile[] = [];
    for (let f = plan.fileStart[k]!; f < plan.fileStart[k + 1]!; f++) {
      const d = plan.desc[f]!;
      const format = formatOf(d);
      if (format === FORMAT.wheel) {
        const py = pythonTagOf(d);
        const tag = `${py}-${abiTagOf(d)}-${PLATFORMS[platformOf(d)]!.tag}`;
        files.push({
          filename: `${wheelStem}-${version}-${tag}.whl`,
          descriptor: d,
          pythonVersion: py,
          wheel: true,
        });
      } else {
        const ext = format === FORMAT.zip ? 'zip' : 'tar.gz';
        files.push({
          filename: `${sdistStem}-${version}.${ext}`,
          descriptor: d,
          pythonVersion: 'source',
          wheel: false,
        });
      }
    }
    return files;
  }

  /** Release k in full: its metadata and files. */
  release(k: number): ExpandedRelease {
    let rel = this.details[k];
    if (rel) return rel;
    const { plan, name, escaped, model } = this;
    const when = plan.time[k]!;
    const r = new Stream(model.seed, plan.index, k, PURPOSE.names);
    const files = this.releaseFiles(k, r);
    this.fileLists[k] ??= files;
    this.deps ??= projectDependencies(model, this.names, plan);
    const metaName =
      when >= Y2020
        ? [name.display, name.normalized, escaped.toLowerCase()][r.weighted([80, 10, 10])]!
        : name.display;
    const requires = this.deps.filter((d) => d.from <= k);
    rel = {
      version: this.versions[k]!,
      requiresPython: requiresPythonAt(when, new Stream(model.seed, plan.index, k, PURPOSE.deps)),
      requires,
      providesExtra: [...new Set(requires.flatMap((d) => (d.extra ? [d.extra] : [])))].sort(),
      metadataName: metaName,
      sdistMetadataVersion: sdistMetadataVersion(when, r),
      wheelMetadataVersion: when < Y2018 ? '2.0' : when < Y2023 ? '2.1' : r.pick(['2.1', '2.3', '2.4']),
      pyproject: when >= Y2020 && r.chance(when >= Y2023 ? 0.75 : 0.4),
      yankReason: plan.yankReason[k]
        ? r.pick(['broken build', 'security issue', 'Yanked: wrong metadata'])
        : null,
      files: this.fileLists[k]!,
    };
    this.details[k] = rel;
    return rel;
  }
}

export function expandProject(model: PresetModel, names: PresetNames, index: number): ExpandedProject {
  return new ExpandedProject(model, names, planProject(model, index));
}

function pythonTagOf(d: number): string {
  const cp = cpythonOf(d);
  return cp ? cp.tag : PYTHON_TAGS[pythonOf(d)]!;
}

function abiTagOf(d: number): string {
  const cp = cpythonOf(d);
  switch (abiOf(d)) {
    case ABI.abi3:
      return 'abi3';
    case ABI.m:
      return `${cp!.tag}m`;
    case ABI.mu:
      return `${cp!.tag}mu`;
    case ABI.plain:
      return cp!.tag;
    default:
      return 'none';
  }
}

function sdistMetadataVersion(when: number, r: Stream): string {
  if (when < Y2012) return r.chance(0.6) ? '1.0' : '1.1';
  if (when < Y2018) return r.chance(0.9) ? '1.1' : '1.2';
  if (when < Y2023) return '2.1';
  if (when < Y2024_06) return r.chance(0.6) ? '2.1' : '2.3';
  return r.pick(['2.1', '2.3', '2.4', '2.4']);
}

function requiresPythonAt(when: number, r: Stream): string | null {
  const choose = (xs: Array<[string | null, number]>) => xs[r.weighted(xs.map((x) => x[1]))]![0];
  if (when < Y2016) return null;
  if (when < Y2019) {
    return choose([
      [null, 40],
      ['>=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*', 30],
      ['>=3.5', 20],
      ['>=3.4', 10],
    ]);
  }
  if (when < Y2021) {
    return choose([
      [null, 20],
      ['>=3.6', 50],
      ['>=3.5', 15],
      ['>=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*', 15],
    ]);
  }
  if (when < Y2023) {
    return choose([
      ['>=3.7', 45],
      ['>=3.6', 20],
      ['>=3.8', 20],
      [null, 10],
      ['>=3.7,<4.0', 5],
    ]);
  }
  return choose([
    ['>=3.8', 40],
    ['>=3.9', 30],
    ['>=3.10', 10],
    ['>=3.8,<4.0', 10],
    [null, 10],
  ]);
}

/**
 * Versions in release order, strictly increasing, so no two canonicalize alike: semantic
 * (`1.4.2`, pre-releases before minor and major bumps, a few post releases), two-part (`0.7`),
 * calendar (`2024.3.1`), or nightlies (`2.16.0.dev202401150312`) for very active projects.
 */
function releaseVersions(model: PresetModel, plan: ProjectPlan): string[] {
  const r = new Stream(model.seed, plan.index, PURPOSE.versions);
  const out: string[] = [];
  const n = plan.releases;
  const style = n > 300 && r.chance(0.6) ? 3 : r.weighted([62, 18, 10, 10]);
  if (style === 3 && n > 300) {
    let [major, minor] = [1 + r.below(3), r.below(10)];
    for (let k = 0; k < n; k++) {
      if (k > 0 && r.chance(1 / 60)) minor++;
      const d = dateOf(plan.time[k]!);
      const stamp =
        d.getUTCFullYear() * 1e8 +
        (d.getUTCMonth() + 1) * 1e6 +
        d.getUTCDate() * 1e4 +
        d.getUTCHours() * 100 +
        d.getUTCMinutes();
      out.push(`${major}.${minor}.0.dev${stamp}`);
      if (r.chance(0.002)) major++;
    }
    return out;
  }
  if (style === 2) {
    let prev = '';
    let same = 0;
    for (let k = 0; k < n; k++) {
      const d = dateOf(plan.time[k]!);
      const day = `${d.getUTCFullYear()}.${d.getUTCMonth() + 1}.${d.getUTCDate()}`;
      same = day === prev ? same + 1 : 0;
      prev = day;
      out.push(same === 0 ? day : `${day}.${same}`);
    }
    return out;
  }
  if (style === 1) {
    let [major, minor] = [0, 1];
    for (let k = 0; k < n; k++) {
      if (k > 0) {
        if (r.chance(0.12)) [major, minor] = [major + 1, 0];
        else minor++;
      }
      out.push(`${major}.${minor}`);
    }
    return out;
  }
  // Semantic versions (style 0), or zero-ver (style 3 without enough releases): 0.x.y forever.
  let v = style === 0 && r.chance(0.5) ? [1, 0, 0] : [0, 1, 0];
  let pending: { target: number[]; stage: number; n: number } | undefined;
  let post = false;
  for (let k = 0; k < n; k++) {
    if (k === 0) {
      out.push(v.join('.'));
      continue;
    }
    if (pending) {
      if (pending.stage < 2 && r.chance(0.4)) {
        pending = { ...pending, stage: pending.stage + 1, n: 1 };
      } else if (r.chance(0.3)) {
        pending = { ...pending, n: pending.n + 1 };
      } else {
        v = pending.target;
        pending = undefined;
        out.push(v.join('.'));
        continue;
      }
      out.push(`${pending.target.join('.')}${['a', 'b', 'rc'][pending.stage]}${pending.n}`);
      continue;
    }
    if (!post && r.chance(0.01)) {
      post = true;
      out.push(`${v.join('.')}.post1`);
      continue;
    }
    post = false;
    const bump = r.weighted([65, 27, style === 0 ? 8 : 0]);
    const target =
      bump === 0 ? [v[0]!, v[1]!, v[2]! + 1] : bump === 1 ? [v[0]!, v[1]! + 1, 0] : [v[0]! + 1, 0, 0];
    if (bump > 0 && r.chance(0.08)) {
      pending = { target, stage: r.below(3), n: 1 };
      out.push(`${target.join('.')}${['a', 'b', 'rc'][pending.stage]}1`);
      continue;
    }
    v = target;
    out.push(v.join('.'));
  }
  return out;
}

/** A project's dependencies, each from some release on, on older (more popular) projects. */
function projectDependencies(
  model: PresetModel,
  names: PresetNames,
  plan: ProjectPlan,
): Array<Dependency & { from: number }> {
  const r = new Stream(model.seed, plan.index, PURPOSE.deps);
  const bucket = r.weighted([22, 35, 28, 12, 3]);
  const count =
    plan.index === 0 ? 0 : [0, 1 + r.below(3), 4 + r.below(5), 9 + r.below(12), 21 + r.below(40)][bucket]!;
  const deps: Array<Dependency & { from: number }> = [];
  const seen = new Set<number>();
  for (let d = 0; d < count; d++) {
    // Popular projects are old ones: u^3 leans to small indexes.
    const target = Math.floor(plan.index * r.next() ** 3);
    const n = names.name(target);
    const spelled = [n.display, n.normalized, n.display.replace(/[-_.]+/g, '_').toLowerCase()][
      r.weighted([70, 15, 15])
    ]!;
    const a = r.below(4);
    const b = r.below(20);
    const spec = [
      '',
      `>=${a}.${b}`,
      `>=${a}.${b},<${a + 1 + r.below(2)}`,
      `~=${a}.${b}`,
      `==${a}.${b}.${r.below(10)}`,
      `!=${a}.${b}`,
      `<${a + 1}`,
    ][r.weighted([30, 35, 15, 8, 4, 3, 5])]!;
    const extras = r.chance(0.05) ? '[socks]' : '';
    const marker = [
      '',
      'python_version < "3.8"',
      'sys_platform == "win32"',
      'platform_python_implementation == "CPython"',
    ][r.weighted([80, 10, 5, 5])]!;
    const extra = r.chance(0.1) ? r.pick(['dev', 'test', 'docs', 'all']) : undefined;
    const from = Math.floor(r.next() * Math.min(plan.releases, 20) * 0.5);
    if (seen.has(target)) continue;
    seen.add(target);
    deps.push({ req: `${spelled}${extras}${spec}`, marker, extra, from });
  }
  return deps;
}

/** The Requires-Dist line of a dependency. */
export function requiresDistLine(d: Dependency): string {
  const conditions = [d.marker, d.extra ? `extra == "${d.extra}"` : ''].filter(Boolean);
  return conditions.length > 0 ? `${d.req}; ${conditions.join(' and ')}` : d.req;
}

/** A dependency as setup.py and pyproject.toml write it (the extra is the group it is in). */
const requirementLine = (d: Dependency) => (d.marker ? `${d.req}; ${d.marker}` : d.req);

/**
 * The project's journal events in [from, to), in journal order (time, then kind, release and
 * file). Events of a release come at or after its time, so releases from `to` on are not read.
 */
function journalEvents(plan: ProjectPlan, from: number, to: number): JournalEvent[] {
  const ev: JournalEvent[] = [];
  const push = (time: number, kind: number, release = -1, file = -1) => {
    if (time >= from && time < to) ev.push({ time, kind, release, file });
  };
  push(plan.time[0]!, EVENT.create);
  push(plan.time[0]!, EVENT.owner);
  for (let k = 0; k < plan.releases && plan.time[k]! < to; k++) {
    const n = plan.fileStart[k + 1]! - plan.fileStart[k]!;
    push(plan.time[k]!, EVENT.release, k);
    for (let j = 0; j < n; j++) push(plan.uploadTime(k, j), EVENT.file, k, j);
    if (plan.removedFile[k]! >= 0) push(plan.removedFileAt[k]!, EVENT.removeFile, k, plan.removedFile[k]!);
    push(plan.yankedAt[k]!, EVENT.yank, k);
    push(plan.releaseRemovedAt[k]!, EVENT.removeRelease, k);
  }
  push(plan.removedAt, EVENT.removeProject);
  ev.sort((a, b) => a.time - b.time || a.kind - b.kind || a.release - b.release || a.file - b.file);
  return ev;
}

/** What the journal says about an event: its `action` column. */
export function eventAction(p: ExpandedProject, e: JournalEvent): string {
  switch (e.kind) {
    case EVENT.create:
      return 'create';
    case EVENT.owner:
      return `add Owner ${UPLOADER}`;
    case EVENT.release:
      return 'new release';
    case EVENT.file: {
      const f = p.files(e.release)[e.file]!;
      return `add ${f.pythonVersion} file ${f.filename}`;
    }
    case EVENT.yank:
      return 'yank release';
    case EVENT.removeFile:
      return `remove file ${p.files(e.release)[e.file]!.filename}`;
    case EVENT.removeRelease:
      return 'remove release';
    default:
      return 'remove project';
  }
}

/** The project as served on `day` (its events before that day), or undefined if it is not. */
export interface ProjectView {
  project: Project;
  /** Served files by name. */
  files: Map<string, IndexFile>;
}

export function viewProject(
  p: ExpandedProject,
  journal: PresetJournal,
  day: number,
  content: (p: ExpandedProject, release: number, file: number) => FileContent,
): ProjectView | undefined {
  const endS = day * DAY_S;
  if (p.plan.time[0]! >= endS) return undefined;
  if (p.plan.removedAt !== NEVER && p.plan.removedAt < endS) return undefined;
  const project: Project = {
    name: p.name.display,
    normalized: p.name.normalized,
    releases: [],
    lastSerial: 0,
    removed: false,
  };
  const releases: Release[] = [];
  const files = new Map<string, IndexFile>();
  const fileAt: IndexFile[][] = [];
  let currentDay = -1;
  let serial = 0;
  let unitEnd = 0;
  for (const e of p.events) {
    if (e.time >= endS) break;
    const d = Math.floor(e.time / DAY_S);
    if (d !== currentDay) {
      if (serial !== unitEnd)
        throw invariantError(`preset journal out of step for ${project.name}, day ${currentDay}`);
      const u = journal.unitOf(p.plan.index, d);
      if (u < 0) throw invariantError(`preset journal has no events of ${project.name} on day ${d}`);
      currentDay = d;
      serial = journal.unitFirstSerial(u) - 1;
      unitEnd = journal.unitLastSerial(u);
    }
    serial++;
    const rel = e.release >= 0 ? p.release(e.release) : undefined;
    switch (e.kind) {
      case EVENT.release: {
        const release: Release = {
          version: rel!.version,
          canonical: canonicalizeVersion(rel!.version),
          project,
          files: [],
          requiresPython: rel!.requiresPython,
          prerelease: isPrerelease(rel!.version),
          yanked: false,
          yankedReason: null,
          removed: false,
        };
        releases[e.release] = release;
        fileAt[e.release] = [];
        project.releases.push(release);
        break;
      }
      case EVENT.file: {
        const f = rel!.files[e.file]!;
        const file: IndexFile = {
          filename: f.filename,
          project,
          release: releases[e.release]!,
          packagetype: f.wheel ? 'bdist_wheel' : 'sdist',
          pythonVersion: f.pythonVersion,
          uploadTimeUs: journal.timeUs(serial, d),
          hasMetadataFile: f.wheel,
          content: content(p, e.release, e.file),
          removed: false,
        };
        (file.release.files as IndexFile[]).push(file);
        fileAt[e.release]![e.file] = file;
        files.set(f.filename, file);
        break;
      }
      case EVENT.yank:
        releases[e.release]!.yanked = true;
        releases[e.release]!.yankedReason = rel!.yankReason;
        break;
      case EVENT.removeFile: {
        const file = fileAt[e.release]![e.file]!;
        file.removed = true;
        files.delete(file.filename);
        break;
      }
      case EVENT.removeRelease:
        releases[e.release]!.removed = true;
        for (const f of releases[e.release]!.files) files.delete(f.filename);
        break;
      default:
        break;
    }
    project.lastSerial = serial;
  }
  if (serial !== unitEnd)
    throw invariantError(`preset journal out of step for ${project.name}, day ${currentDay}`);
  return { project, files };
}

// ---- Archives ----------------------------------------------------------------------------

function metadataText(p: ExpandedProject, rel: ExpandedRelease, version: string, withDeps: boolean): Buffer {
  const lines = [
    `Metadata-Version: ${version}`,
    `Name: ${rel.metadataName}`,
    `Version: ${rel.version}`,
    `Summary: PyPI-shaped synthetic project ${p.plan.index}`,
    'License: MIT',
    'Classifier: Programming Language :: Python',
  ];
  if (withDeps) {
    if (rel.requiresPython) lines.push(`Requires-Python: ${rel.requiresPython}`);
    for (const dep of rel.requires) lines.push(`Requires-Dist: ${requiresDistLine(dep)}`);
    for (const extra of rel.providesExtra) lines.push(`Provides-Extra: ${extra}`);
  }
  return Buffer.from(
    `${lines.join('\n')}\n\n${p.name.display} ${rel.version}, generated by pypi-graph's pypi-server.\n`,
    'utf8',
  );
}

/** The core metadata file of a file: a wheel's METADATA or an sdist's PKG-INFO. */
export function presetMetadata(p: ExpandedProject, k: number, j: number): Buffer {
  const rel = p.release(k);
  const f = rel.files[j]!;
  if (f.wheel) return metadataText(p, rel, rel.wheelMetadataVersion, true);
  // Metadata 1.0 and 1.1 have no Requires-Dist: those dependencies live in setup.py only.
  const v = rel.sdistMetadataVersion;
  return metadataText(p, rel, v, v !== '1.0' && v !== '1.1');
}

const py = (s: string) => JSON.stringify(s);

function payloadBytes(seed: number, p: ExpandedProject, k: number, j: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  const r = new Stream(seed, p.plan.index, k, j, PURPOSE.payload);
  for (let off = 0; off < size; off += 4) {
    const x = Math.floor(r.next() * 0x100000000);
    for (let b = 0; b < 4 && off + b < size; b++) out[off + b] = (x >>> (8 * b)) & 0xff;
  }
  return out;
}

/** The bytes of a file: a small, valid sdist or wheel, the same on every machine for a seed. */
export function presetArchive(
  seed: number,
  payload: number,
  p: ExpandedProject,
  k: number,
  j: number,
): Buffer {
  const rel = p.release(k);
  const f = rel.files[j]!;
  const init = Buffer.from(
    `# ${p.name.display} ${rel.version} (synthetic)\n__version__ = ${py(rel.version)}\n`,
  );
  const data = payload > 0 ? payloadBytes(seed, p, k, j, payload) : undefined;
  if (f.wheel) {
    const distInfo = `${f.filename.split('-')[0]}-${rel.version}.dist-info`;
    const tag = f.filename.slice(0, -4).split('-').slice(-3).join('-');
    const files: ArchiveEntry[] = [
      { path: `${p.module}/__init__.py`, data: init },
      ...(data ? [{ path: `${p.module}/_payload.bin`, data }] : []),
    ];
    return wheelArchive(files, distInfo, presetMetadata(p, k, j), tag, tag.endsWith('-any'));
  }
  const zip = formatOf(f.descriptor) === FORMAT.zip;
  const top = f.filename.slice(0, zip ? -4 : -7);
  const entries: ArchiveEntry[] = [
    { path: `${top}/PKG-INFO`, data: presetMetadata(p, k, j) },
    { path: `${top}/${p.module}/__init__.py`, data: init },
    ...(data ? [{ path: `${top}/${p.module}/_payload.bin`, data }] : []),
  ];
  const install = rel.requires.filter((d) => !d.extra).map(requirementLine);
  const extras = new Map<string, string[]>();
  for (const d of rel.requires) {
    if (d.extra) extras.set(d.extra, [...(extras.get(d.extra) ?? []), requirementLine(d)]);
  }
  if (rel.pyproject) {
    const list = (xs: string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
    const lines = [
      '[build-system]',
      `requires = ['setuptools>=61']`,
      `build-backend = 'setuptools.build_meta'`,
      '',
      '[project]',
      `name = ${py(rel.metadataName)}`,
      `version = ${py(rel.version)}`,
      `dependencies = ${list(install)}`,
    ];
    if (rel.requiresPython) lines.push(`requires-python = ${py(rel.requiresPython)}`);
    if (extras.size > 0) {
      lines.push('', '[project.optional-dependencies]');
      for (const [extra, reqs] of extras) lines.push(`${extra} = ${list(reqs)}`);
    }
    entries.push({ path: `${top}/pyproject.toml`, data: Buffer.from(`${lines.join('\n')}\n`) });
  } else {
    const extrasPy = [...extras].map(([e, reqs]) => `${py(e)}: ${JSON.stringify(reqs)}`).join(', ');
    const setup =
      `from setuptools import setup\n\nsetup(\n    name=${py(rel.metadataName)},\n    version=${py(rel.version)},\n` +
      `    packages=[${py(p.module)}],\n    install_requires=${JSON.stringify(install)},\n` +
      (extras.size > 0 ? `    extras_require={${extrasPy}},\n` : '') +
      (rel.requiresPython ? `    python_requires=${py(rel.requiresPython)},\n` : '') +
      ')\n';
    entries.push({ path: `${top}/setup.py`, data: Buffer.from(setup) });
  }
  return zip ? zipArchive(entries) : gzipStored(tarArchive(entries));
}

/** A preset file's bytes, built when asked for; one small object per file. */
export class PresetContent implements FileContent {
  constructor(
    private readonly seed: number,
    private readonly payload: number,
    /** Recently built archives by file name, up to a byte budget (Range requests re-read one). */
    private readonly cache: WeightedLru<string, Buffer>,
    private readonly p: ExpandedProject,
    private readonly k: number,
    private readonly j: number,
  ) {}

  private bytes(): Buffer {
    const name = this.p.files(this.k)[this.j]!.filename;
    return this.cache.getOrSet(
      name,
      () => presetArchive(this.seed, this.payload, this.p, this.k, this.j),
      (b) => b.length,
    );
  }

  async stat(): Promise<FileStat> {
    // Not through the cache: listing a project hashes every file once, reads are rarer.
    return statOf(presetArchive(this.seed, this.payload, this.p, this.k, this.j));
  }

  async read(start: number, end: number): Promise<Buffer> {
    return this.bytes().subarray(start, end);
  }

  async metadataBytes(): Promise<Buffer | undefined> {
    return presetMetadata(this.p, this.k, this.j);
  }

  async metadata(): Promise<CoreMetadata | undefined> {
    return parseCoreMetadata(presetMetadata(this.p, this.k, this.j));
  }
}
