import {
  BASE_DAY,
  DAY_S,
  FORMAT,
  formatOf,
  NEVER,
  PROJECTS_AT_SCALE_1,
  ProjectPlan,
  planProject,
  projectsCreatedBefore,
} from './preset-plan';
import { MAX_DAY, type PresetOptions, parsePresetSpec } from './preset-source';

// What the PyPI-shaped preset serves on a day, counted by planning every project — the same
// plans the server serves from, so a benchmark can know the size of what it crawls without
// crawling it. The tests check these counts against what the server serves over HTTP.

export interface PresetCensus {
  scale: number;
  seed: number;
  day: number;
  /** Projects served (created and not removed); `empty` of them have no release left. */
  projects: number;
  empty: number;
  releases: number;
  files: number;
  sdists: number;
  wheels: number;
  yankedReleases: number;
  /** Releases per project: share with 1–5, the median and the largest. */
  releasesPerProject: { oneToFive: number; median: number; max: number };
  maxFilesPerProject: number;
  /** Largest number of wheels in one release. */
  maxWheelsPerRelease: number;
  /** Journal rows before the day, and per day over the 30 days before it. */
  journalRows: number;
  lastDays: { rowsPerDay: number; fileEventsPerDay: number; projectsPerDay: number };
  /** Removals that happened before the day. */
  removed: { files: number; releases: number; projects: number };
}

/** Counts what `pnpm pypi-server --synthetic <spec> --day <day>` serves. Seconds at scale 1. */
export function presetCensus(spec: string | PresetOptions, day = 0): PresetCensus {
  const options = typeof spec === 'string' ? parsePresetSpec(spec) : spec;
  if (!Number.isInteger(day) || day < 0 || day > MAX_DAY) throw new RangeError(`day ${day}`);
  const model = {
    seed: options.seed,
    baseProjects: Math.max(1, Math.round(PROJECTS_AT_SCALE_1 * options.scale)),
  };
  const cutoff = BASE_DAY + day;
  const end = cutoff * DAY_S;
  const windowStart = end - 30 * DAY_S;
  const created = projectsCreatedBefore(model, cutoff);
  const plan = new ProjectPlan();
  const c: PresetCensus = {
    scale: options.scale,
    seed: options.seed,
    day,
    projects: 0,
    empty: 0,
    releases: 0,
    files: 0,
    sdists: 0,
    wheels: 0,
    yankedReleases: 0,
    releasesPerProject: { oneToFive: 0, median: 0, max: 0 },
    maxFilesPerProject: 0,
    maxWheelsPerRelease: 0,
    journalRows: 0,
    lastDays: { rowsPerDay: 0, fileEventsPerDay: 0, projectsPerDay: 0 },
    removed: { files: 0, releases: 0, projects: 0 },
  };
  const perProject: number[] = [];
  let windowRows = 0;
  let windowFiles = 0;
  let windowProjectDays = 0;
  const days = new Set<number>();
  const at = (t: number, n = 1) => {
    if (t < 0 || t >= end) return 0;
    c.journalRows += n;
    if (t >= windowStart) {
      windowRows += n;
      days.add(Math.floor(t / DAY_S));
    }
    return n;
  };
  for (let i = 0; i < created; i++) {
    planProject(model, i, plan);
    days.clear();
    at(plan.time[0]!, 2);
    let releases = 0;
    let files = 0;
    let projectWheels = 0;
    let yankedReleases = 0;
    let maxWheels = 0;
    for (let k = 0; k < plan.releases; k++) {
      const t = plan.time[k]!;
      if (t >= end) break;
      at(t);
      const n = plan.fileStart[k + 1]! - plan.fileStart[k]!;
      let live = 0;
      let wheels = 0;
      for (let j = 0; j < n; j++) {
        const up = plan.uploadTime(k, j);
        if (!at(up)) continue;
        if (up >= windowStart) windowFiles++;
        if (j === plan.removedFile[k] && plan.removedFileAt[k]! < end) continue;
        live++;
        if (formatOf(plan.desc[plan.fileStart[k]! + j]!) === FORMAT.wheel) wheels++;
      }
      if (plan.removedFile[k]! >= 0 && at(plan.removedFileAt[k]!)) {
        c.removed.files++;
        if (plan.removedFileAt[k]! >= windowStart) windowFiles++;
      }
      const yanked = at(plan.yankedAt[k]!) > 0;
      if (at(plan.releaseRemovedAt[k]!)) {
        c.removed.releases++;
        continue;
      }
      releases++;
      files += live;
      projectWheels += wheels;
      if (yanked) yankedReleases++;
      maxWheels = Math.max(maxWheels, wheels);
    }
    windowProjectDays += days.size;
    if (plan.removedAt !== NEVER && at(plan.removedAt)) {
      c.removed.projects++;
      continue;
    }
    c.projects++;
    if (releases === 0) c.empty++;
    c.releases += releases;
    c.files += files;
    c.wheels += projectWheels;
    c.sdists += files - projectWheels;
    c.yankedReleases += yankedReleases;
    c.maxWheelsPerRelease = Math.max(c.maxWheelsPerRelease, maxWheels);
    perProject.push(releases);
    c.maxFilesPerProject = Math.max(c.maxFilesPerProject, files);
  }
  perProject.sort((a, b) => a - b);
  c.releasesPerProject = {
    oneToFive: perProject.filter((r) => r >= 1 && r <= 5).length / Math.max(1, perProject.length),
    median: perProject[perProject.length >> 1] ?? 0,
    max: perProject.at(-1) ?? 0,
  };
  c.lastDays = {
    rowsPerDay: windowRows / 30,
    fileEventsPerDay: windowFiles / 30,
    projectsPerDay: windowProjectDays / 30,
  };
  return c;
}
