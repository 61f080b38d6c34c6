import { configError, invariantError, type Logger, silentLogger } from '@pypi-graph/core';
import type { ChangelogRow } from '@pypi-graph/model';
import type { IndexFile, Project } from './index-model';
import type { IndexSource, ProjectListing } from './index-source';
import { WeightedLru } from './lru';
import { PresetJournal } from './preset-journal';
import { fromSortKey, MAX_PROJECTS, PresetNames, sortKey } from './preset-names';
import {
  BASE_DAY,
  DAY_S,
  HISTORY_START_MS,
  PROJECTS_AT_SCALE_1,
  type PresetModel,
  projectsCreatedBefore,
} from './preset-plan';
import {
  type ExpandedProject,
  eventAction,
  expandProject,
  PresetContent,
  type ProjectView,
  viewProject,
} from './preset-project';

// The PyPI-shaped preset as an index the server can serve: `--synthetic pypi[,scale=F]`.
// Nothing per file is held: the journal index (preset-journal.ts) places every event, and a
// project is planned, expanded and viewed when a request names it, then kept in small caches.

export interface PresetOptions {
  /** 1 = PyPI's size (741,000 projects created before the base day, about 10.8 million files). */
  scale: number;
  seed: number;
  /** Extra pseudo-random bytes in every archive. */
  payloadBytes: number;
}

/** `--day` is at most this: ten years after the base day. */
export const MAX_DAY = 3650;
/** Days planned ahead of the served day, so that advancing does not rebuild the journal. */
const HORIZON_DAYS = 30;
const MAX_SCALE = 4;

export function isPresetSpec(spec: string): boolean {
  return spec.split(',')[0]!.trim() === 'pypi';
}

/** Parses `pypi[,scale=F][,seed=S][,payload-bytes=B]`. */
export function parsePresetSpec(spec: string): PresetOptions {
  const [head, ...parts] = spec.split(',').map((s) => s.trim());
  if (head !== 'pypi') throw configError('config-invalid', `--synthetic: "${spec}" is not pypi[,key=value…]`);
  const out: PresetOptions = { scale: 1, seed: 1, payloadBytes: 0 };
  for (const part of parts.filter(Boolean)) {
    const [key, value] = part.split('=', 2).map((s) => s.trim());
    const hint = 'usage: --synthetic pypi[,scale=F][,seed=S][,payload-bytes=B], e.g. pypi,scale=0.01';
    if (key === 'scale' && value !== undefined && /^\d*\.?\d+(e-?\d+)?$/i.test(value)) {
      out.scale = Number(value);
      if (!(out.scale > 0 && out.scale <= MAX_SCALE)) {
        throw configError('config-invalid', `--synthetic: scale=${value} is not in (0, ${MAX_SCALE}]`, {
          hint,
        });
      }
    } else if ((key === 'seed' || key === 'payload-bytes') && value !== undefined && /^\d+$/.test(value)) {
      if (key === 'seed') out.seed = Number(value);
      else out.payloadBytes = Number(value);
    } else {
      throw configError(
        'config-invalid',
        `--synthetic: "${part}" is not scale=F, seed=S or payload-bytes=B`,
        {
          hint,
        },
      );
    }
  }
  if (out.payloadBytes > 64 * 1024 * 1024) {
    throw configError('config-invalid', `--synthetic: payload-bytes=${out.payloadBytes} is over 64 MiB`);
  }
  return out;
}

/** What advancing the served day changed, from the journal. */
export interface DayChange {
  /** The served day now (0 = the base day, 2025-01-01). */
  day: number;
  /** The index is as of this instant (events before it are served). */
  asOf: string;
  /** The last serial before the advance; the new rows are the ones after it. */
  fromSerial: number;
  lastSerial: number;
  /** Journal rows added. */
  events: number;
  /** Projects with at least one new row. */
  projects: number;
}

export interface PresetStatus {
  day: number;
  asOf: string;
  lastSerial: number;
  /** Projects served (created and not removed). */
  projects: number;
  scale: number;
  seed: number;
  journal: { units: number; bytes: number; plannedUntilDay: number };
}

const isoOfDay = (day: number) => new Date(HISTORY_START_MS + day * DAY_S * 1000).toISOString();

export class PresetSource implements IndexSource {
  readonly options: PresetOptions;
  private readonly model: PresetModel;
  private readonly names: PresetNames;
  private readonly log: Logger;
  private journal: PresetJournal;
  /** Served day as days since 2005-01-01: events before its start are served. */
  private cutoff: number;
  private created: number;
  private serials: Uint32Array;
  // Budgets in files: the projects a crawler is working on, and the one biggest project (about
  // 25,000 files) whole. They bound the server's memory whatever the index's size.
  private readonly expansions = new WeightedLru<number, ExpandedProject>(40_000);
  private readonly views = new WeightedLru<number, ProjectView | null>(50_000);
  private readonly archives = new WeightedLru<string, Buffer>(16 * 1024 * 1024);
  /** Sort keys of the names of the projects created so far, in order (for `/simple/`). */
  private sorted?: Float64Array;

  constructor(options: PresetOptions, day = 0, log: Logger = silentLogger) {
    if (!Number.isInteger(day) || day < 0 || day > MAX_DAY) {
      throw configError('config-invalid', `--day ${day} is not an integer in [0, ${MAX_DAY}]`);
    }
    this.options = options;
    this.log = log;
    this.model = {
      seed: options.seed,
      baseProjects: Math.max(1, Math.round(PROJECTS_AT_SCALE_1 * options.scale)),
    };
    this.names = new PresetNames(options.seed);
    this.cutoff = BASE_DAY + day;
    const started = Date.now();
    this.journal = PresetJournal.build(this.model, this.cutoff + HORIZON_DAYS);
    if (this.journal.projects > MAX_PROJECTS) throw configError('config-invalid', 'scale too large');
    this.created = projectsCreatedBefore(this.model, this.cutoff);
    this.serials = new Uint32Array(this.journal.projects);
    this.journal.lastSerials(this.cutoff, this.serials);
    log.info(
      {
        scale: options.scale,
        day,
        projects: this.created,
        lastSerial: this.lastSerial,
        units: this.journal.units,
        journalMb: Math.round(this.journal.bytes / 1e5) / 10,
        ms: Date.now() - started,
      },
      'PyPI-shaped index planned',
    );
  }

  get day(): number {
    return this.cutoff - BASE_DAY;
  }

  get lastSerial(): number {
    return this.journal.serialBefore(this.cutoff);
  }

  status(): PresetStatus {
    let projects = 0;
    for (let i = 0; i < this.created; i++) if (!this.journal.removedBefore(i, this.cutoff)) projects++;
    return {
      day: this.day,
      asOf: isoOfDay(this.cutoff),
      lastSerial: this.lastSerial,
      projects,
      scale: this.options.scale,
      seed: this.options.seed,
      journal: {
        units: this.journal.units,
        bytes: this.journal.bytes,
        plannedUntilDay: this.journal.endDay - BASE_DAY,
      },
    };
  }

  /** Serves `days` more days of changes: new projects, releases, late uploads, yanks, removals. */
  advance(days = 1): DayChange {
    if (!Number.isInteger(days) || days < 1 || this.day + days > MAX_DAY) {
      throw configError(
        'config-invalid',
        `cannot advance by ${days} day(s) from day ${this.day} (max ${MAX_DAY})`,
      );
    }
    const fromSerial = this.lastSerial;
    const from = this.cutoff;
    this.cutoff += days;
    if (this.cutoff > this.journal.endDay) {
      const started = Date.now();
      this.journal = PresetJournal.build(this.model, this.cutoff + HORIZON_DAYS);
      this.serials = new Uint32Array(this.journal.projects);
      this.journal.lastSerials(from, this.serials);
      this.log.info({ day: this.day, ms: Date.now() - started }, 'journal planned further ahead');
    }
    const touched = new Set<number>();
    for (let d = from; d < this.cutoff; d++) {
      const [start, end] = this.journal.dayUnits(d);
      for (let u = start; u < end; u++) {
        const i = this.journal.unitProjectIndex(u);
        this.serials[i] = this.journal.unitLastSerial(u);
        touched.add(i);
      }
    }
    const created = projectsCreatedBefore(this.model, this.cutoff);
    if (created !== this.created) this.sorted = undefined;
    this.created = created;
    this.views.clear();
    const change: DayChange = {
      day: this.day,
      asOf: isoOfDay(this.cutoff),
      fromSerial,
      lastSerial: this.lastSerial,
      events: this.lastSerial - fromSerial,
      projects: touched.size,
    };
    this.log.info(change, 'advanced');
    return change;
  }

  *changelogSince(since: number, limit: number): Generator<ChangelogRow> {
    const last = this.lastSerial;
    if (since >= last) return;
    let n = 0;
    let u = this.journal.unitAtSerial(Math.max(0, Math.floor(since)) + 1);
    let day = this.journal.dayOfUnit(u);
    let dayEnd = this.journal.dayUnits(day)[1];
    // A project busy every day (a nightly build, thousands of files) has a unit on each day of
    // the page: it is kept from its first unit to its last here, not built again for each.
    const lastUnit = new Map<number, number>();
    const uEnd = this.journal.unitAtSerial(Math.min(last, Math.floor(since) + limit));
    for (let v = u; v <= uEnd; v++) lastUnit.set(this.journal.unitProjectIndex(v), v);
    const held = new Map<number, ExpandedProject>();
    while (u >= 0 && u < this.journal.units && n < limit) {
      const first = this.journal.unitFirstSerial(u);
      if (first > last) break;
      while (u >= dayEnd) {
        day++;
        dayEnd = this.journal.dayUnits(day)[1];
      }
      const i = this.journal.unitProjectIndex(u);
      const p = held.get(i) ?? this.expansion(i);
      if ((lastUnit.get(i) ?? u) > u) held.set(i, p);
      else held.delete(i);
      const events = p.eventsOn(day);
      const count = this.journal.unitLastSerial(u) - first + 1;
      if (events.length !== count) {
        throw invariantError(`preset journal out of step for ${p.name.display} on day ${day}`);
      }
      for (let k = 0; k < count && n < limit; k++) {
        const e = events[k]!;
        const serial = first + k;
        if (serial <= since) continue;
        n++;
        yield {
          name: p.name.display,
          version: e.release >= 0 ? p.versions[e.release]! : null,
          timestamp: Math.floor(this.journal.timeUs(serial, day) / 1_000_000),
          action: eventAction(p, e),
          serial,
        };
      }
      u++;
    }
  }

  *listProjects(): Iterable<ProjectListing> {
    for (let i = 0; i < this.created; i++) {
      if (this.journal.removedBefore(i, this.cutoff)) continue;
      const n = this.names.name(i);
      yield { name: n.display, normalized: n.normalized, lastSerial: this.serials[i]! };
    }
  }

  *listProjectsByName(): Iterable<ProjectListing> {
    if (!this.sorted) {
      const keys = new Float64Array(this.created);
      for (let i = 0; i < this.created; i++) keys[i] = sortKey(this.names.name(i).normalized);
      this.sorted = keys.sort();
    }
    for (const key of this.sorted) {
      const i = this.names.indexOf(fromSortKey(key))!;
      if (this.journal.removedBefore(i, this.cutoff)) continue;
      const n = this.names.name(i);
      yield { name: n.display, normalized: n.normalized, lastSerial: this.serials[i]! };
    }
  }

  private indexOf(name: string): number | undefined {
    const i = this.names.indexOf(name);
    return i !== undefined && i < this.created && !this.journal.removedBefore(i, this.cutoff) ? i : undefined;
  }

  hasProject(normalized: string): boolean {
    return this.indexOf(normalized) !== undefined;
  }

  project(normalized: string): Project | undefined {
    const i = this.indexOf(normalized);
    return i === undefined ? undefined : this.view(i)?.project;
  }

  file(filename: string): IndexFile | undefined {
    // The project's name is the file name up to the version: `<name>-<version>-….whl`, and
    // `<name>-<version>.tar.gz` where a legacy sdist name may itself contain dashes.
    const m = filename.endsWith('.whl')
      ? /^([^-]+)-/.exec(filename)
      : /^(.+?)-\d[^-]*\.(?:tar\.gz|zip)$/.exec(filename);
    if (!m) return undefined;
    const i = this.indexOf(m[1]!);
    return i === undefined ? undefined : this.view(i)?.files.get(filename);
  }

  private expansion(i: number): ExpandedProject {
    let p = this.expansions.get(i);
    if (!p) {
      p = expandProject(this.model, this.names, i);
      // A small project costs about as much as twenty files (its plan's arrays, its strings).
      this.expansions.set(i, p, p.fileCount + 20);
    }
    return p;
  }

  private view(i: number): ProjectView | undefined {
    let v = this.views.get(i);
    if (v === undefined) {
      const p = this.expansion(i);
      const { seed, payloadBytes } = this.options;
      v =
        viewProject(
          p,
          this.journal,
          this.cutoff,
          (proj, k, j) => new PresetContent(seed, payloadBytes, this.archives, proj, k, j),
        ) ?? null;
      this.views.set(i, v, p.fileCount + 20);
    }
    return v ?? undefined;
  }
}
