import {
  DAY_S,
  eventsPerDay,
  HISTORY_START_MS,
  type PresetModel,
  ProjectPlan,
  planProject,
  projectsCreatedBefore,
} from './preset-plan';

// The journal (changelog) of the PyPI-shaped preset, without its rows. Serials are assigned by
// day; within a day, by project index; within a project's day, by the plan's event order. So
// all that has to be known to place any event is, for each (project, day) with events — a
// "unit" — which project it is and the serial of its last event: two 32-bit numbers. Rows are
// generated from the projects' plans when a changelog page is asked for.
//
// Built once at start-up by planning every project (numbers only) up to `endDay`. At PyPI's
// size that is about 3.5 million units, 8 bytes each.
//
// An event's time is its day plus its rank among the day's events, spread evenly over the day:
// timestamps grow with serials, as PyPI's journal does, and a file's upload time is the time of
// its `add … file` row.

const NEVER_DAY = 0xffff;
const US_PER_DAY = DAY_S * 1_000_000;
const HISTORY_START_US = HISTORY_START_MS * 1000;

export class PresetJournal {
  /** Projects created before `endDay` (the index space this journal covers). */
  readonly projects: number;
  /** dayUnitStart[d] … dayUnitStart[d + 1] are the units of day d. */
  private readonly dayUnitStart: Uint32Array;
  private readonly unitProject: Uint32Array;
  /** Serial of each unit's last event; serials count from 1. */
  private readonly unitSerialEnd: Uint32Array;
  /** Day each project is removed on, NEVER_DAY if not before endDay. */
  private readonly removedDay: Uint16Array;

  private constructor(
    readonly endDay: number,
    projects: number,
    dayUnitStart: Uint32Array,
    unitProject: Uint32Array,
    unitSerialEnd: Uint32Array,
    removedDay: Uint16Array,
  ) {
    this.projects = projects;
    this.dayUnitStart = dayUnitStart;
    this.unitProject = unitProject;
    this.unitSerialEnd = unitSerialEnd;
    this.removedDay = removedDay;
  }

  /** Plans every project created before `endDay` and places their events up to it. */
  static build(model: PresetModel, endDay: number): PresetJournal {
    if (endDay >= NEVER_DAY) throw new RangeError(`day ${endDay} is past what the journal can hold`);
    const projects = projectsCreatedBefore(model, endDay);
    const removedDay = new Uint16Array(projects).fill(NEVER_DAY);
    // Units in project order first (day and count), then sorted by day with a counting sort.
    const projectUnitStart = new Uint32Array(projects + 1);
    let tmpDay = new Uint16Array(Math.max(1024, projects * 5));
    let tmpCount = new Uint16Array(tmpDay.length);
    const dayUnits = new Uint32Array(endDay + 1);
    let units = 0;
    const plan = new ProjectPlan();
    const scratch = { keys: new Int32Array(64) };
    let current = 0;
    const emit = (day: number, count: number) => {
      if (units === tmpDay.length) {
        const d = new Uint16Array(units * 2);
        d.set(tmpDay);
        tmpDay = d;
        const c = new Uint16Array(units * 2);
        c.set(tmpCount);
        tmpCount = c;
      }
      if (count > 0xffff) throw new RangeError(`project ${current} has ${count} events on day ${day}`);
      tmpDay[units] = day;
      tmpCount[units] = count;
      dayUnits[day]!++;
      units++;
    };
    for (let i = 0; i < projects; i++) {
      current = i;
      projectUnitStart[i] = units;
      planProject(model, i, plan);
      eventsPerDay(plan, endDay, scratch, emit);
      if (plan.removedAt >= 0 && plan.removedAt < endDay * DAY_S) {
        removedDay[i] = Math.floor(plan.removedAt / DAY_S);
      }
    }
    projectUnitStart[projects] = units;

    const dayUnitStart = new Uint32Array(endDay + 1);
    for (let d = 0, at = 0; d < endDay; d++) {
      dayUnitStart[d] = at;
      at += dayUnits[d]!;
    }
    dayUnitStart[endDay] = units;
    const fill = dayUnitStart.slice(0, endDay);
    const unitProject = new Uint32Array(units);
    const unitCount = new Uint16Array(units);
    for (let i = 0; i < projects; i++) {
      for (let u = projectUnitStart[i]!; u < projectUnitStart[i + 1]!; u++) {
        const pos = fill[tmpDay[u]!]!++;
        unitProject[pos] = i;
        unitCount[pos] = tmpCount[u]!;
      }
    }
    const unitSerialEnd = new Uint32Array(units);
    let serial = 0;
    for (let u = 0; u < units; u++) {
      serial += unitCount[u]!;
      unitSerialEnd[u] = serial;
    }
    return new PresetJournal(endDay, projects, dayUnitStart, unitProject, unitSerialEnd, removedDay);
  }

  /** Units (project-days) in the journal. */
  get units(): number {
    return this.unitProject.length;
  }

  /** The last serial of the days before `day`. */
  serialBefore(day: number): number {
    const u = this.dayUnitStart[Math.min(day, this.endDay)]!;
    return u === 0 ? 0 : this.unitSerialEnd[u - 1]!;
  }

  /** Serial of the first event of unit u. */
  unitFirstSerial(u: number): number {
    return u === 0 ? 1 : this.unitSerialEnd[u - 1]! + 1;
  }

  unitLastSerial(u: number): number {
    return this.unitSerialEnd[u]!;
  }

  unitProjectIndex(u: number): number {
    return this.unitProject[u]!;
  }

  /** The unit of `project` on `day`, or -1. */
  unitOf(project: number, day: number): number {
    if (day < 0 || day >= this.endDay) return -1;
    let lo = this.dayUnitStart[day]!;
    let hi = this.dayUnitStart[day + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.unitProject[mid]!;
      if (p === project) return mid;
      if (p < project) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** The unit holding `serial` (≥ 1), or -1 past the end. */
  unitAtSerial(serial: number): number {
    let lo = 0;
    let hi = this.unitSerialEnd.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.unitSerialEnd[mid]! < serial) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.unitSerialEnd.length ? lo : -1;
  }

  /** The day of unit u. */
  dayOfUnit(u: number): number {
    let lo = 0;
    let hi = this.endDay;
    // Last day whose first unit is ≤ u.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.dayUnitStart[mid]! <= u) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Units of day d: [start, end). */
  dayUnits(day: number): [number, number] {
    return [this.dayUnitStart[day]!, this.dayUnitStart[day + 1]!];
  }

  /** Microseconds since the epoch of the event with `serial`, which happened on `day`. */
  timeUs(serial: number, day: number): number {
    const first = this.serialBefore(day) + 1;
    const count = this.serialBefore(day + 1) - first + 1;
    return HISTORY_START_US + day * US_PER_DAY + Math.floor(((serial - first) * US_PER_DAY) / count);
  }

  /** Whether project `index` was removed before `day`. */
  removedBefore(index: number, day: number): boolean {
    return this.removedDay[index]! < day;
  }

  /**
   * The last serial of every project before `day`, written into `out` (length ≥ projects),
   * 0 for projects with no event yet.
   */
  lastSerials(day: number, out: Uint32Array): void {
    out.fill(0);
    const end = this.dayUnitStart[Math.min(day, this.endDay)]!;
    for (let u = 0; u < end; u++) out[this.unitProject[u]!] = this.unitSerialEnd[u]!;
  }

  /** Bytes held by the journal's arrays. */
  get bytes(): number {
    return (
      this.dayUnitStart.byteLength +
      this.unitProject.byteLength +
      this.unitSerialEnd.byteLength +
      this.removedDay.byteLength
    );
  }
}
