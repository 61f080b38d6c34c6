// `pnpm bench scale` child: applies day `d` of changes to a database loaded by scale-load.ts,
// through the same db functions a crawl calls (saveProject, markProjectRemoved, saveExtraction,
// insertChangelog, advanceCrawlState), so the project change markers move as they would in
// production. About 15,000 files a day across a few thousand projects at PyPI's size.
import {
  advanceCrawlState,
  type FileRecord,
  fileBySha256,
  insertChangelog,
  markProjectRemoved,
  openDatabase,
  saveExtraction,
  saveProject,
} from '@pypi-graph/db';
import { scaleStep } from './common';
import {
  changedOn,
  dayPlan,
  type GenFile,
  type GenProject,
  generateProject,
  lastSerialOf,
  PROJECTS_PER_FILE,
  serialOf,
  T_NOW,
} from './scale-data';

const DAY = 86_400;

export function fileUrl(f: GenFile): string {
  return `https://files.pythonhosted.org/packages/${f.sha256.slice(0, 2)}/${f.sha256.slice(2, 4)}/${f.sha256.slice(4)}/${f.filename}`;
}

export function fileRecord(version: string, f: GenFile): FileRecord {
  return {
    filename: f.filename,
    version,
    packagetype: f.packagetype,
    pythonVersion: f.pythonVersion,
    url: fileUrl(f),
    sha256: f.sha256,
    size: f.size,
    uploadTime: new Date(f.uploadTime * 1000),
    requiresPython: f.requiresPython,
    yanked: f.yanked,
    yankedReason: f.yankedReason,
    hasCoreMetadata: f.hasCoreMetadata,
    coreMetadataSha256: f.coreMetadataSha256,
  };
}

/** The projects day `day` touches: existing ones chosen by hash, and the day's new ones. */
export function projectsOfDay(seed: number, day: number, baseProjects: number): number[] {
  const plan = dayPlan(baseProjects);
  const out: number[] = [];
  for (let i = 0; i < baseProjects; i++) if (changedOn(seed, day, i, plan.rate)) out.push(i);
  const first = baseProjects + (day - 1) * plan.newProjects;
  for (let i = first; i < first + plan.newProjects; i++) out.push(i);
  return out;
}

export async function applyDay(
  databaseUrl: string,
  files: number,
  seed: number,
  day: number,
  concurrency = 8,
) {
  const baseProjects = Math.max(1, Math.round(files * PROJECTS_PER_FILE));
  const database = await openDatabase({ databaseUrl, poolSize: concurrency + 2 });
  const db = database.db;
  const todo = projectsOfDay(seed, day, baseProjects);
  const start = T_NOW + (day - 1) * DAY;
  const counts = {
    projects: todo.length,
    removed: 0,
    filesAdded: 0,
    filesRemoved: 0,
    extractions: 0,
    changelog: 0,
  };
  const events: Parameters<typeof insertChangelog>[1] = [];
  let maxSerial = 0;
  const one = async (index: number) => {
    const g: GenProject = generateProject(seed, index, day, baseProjects);
    for (const e of g.events) {
      if (e.time < start) continue;
      const serial = serialOf(e.time, index);
      maxSerial = Math.max(maxSerial, serial);
      events.push({ serial, timestamp: e.time, name: g.displayName, version: e.version, action: e.action });
    }
    if (g.removedAt !== null) {
      const r = await markProjectRemoved(db, g.displayName, lastSerialOf(g), new Date(g.removedAt * 1000));
      counts.removed++;
      counts.filesRemoved += r.filesRemoved;
      return;
    }
    const live = g.releases.map((r) => ({ ...r, files: r.files.filter((f) => f.removedAt === null) }));
    const saved = await saveProject(
      db,
      {
        displayName: g.displayName,
        serial: lastSerialOf(g),
        versions: live.map((r) => r.version),
        files: live.flatMap((r) => r.files.map((f) => fileRecord(r.version, f))),
      },
      new Date((start + DAY - 1) * 1000),
    );
    counts.filesAdded += saved.filesAdded;
    counts.filesRemoved += saved.filesRemoved;
    // What the wheel and sdist jobs would store for the day's new files.
    for (const rel of live) {
      for (const f of rel.files) {
        if (f.day !== day || f.extractions.length === 0) continue;
        const row = await fileBySha256(db, f.sha256, f.filename);
        if (!row) throw new Error(`file ${f.filename} was not saved`);
        for (const e of f.extractions) {
          await saveExtraction(db, {
            fileId: row.fileId,
            pythonKey: e.pythonKey,
            method: e.method,
            extractorVersion: e.extractorVersion,
            status: e.status,
            failureCode: e.failureCode,
            log: e.log,
            bytesTransferred: null,
            requests: 1,
            startedAt: new Date((start + DAY - 1) * 1000),
            requirements: e.requirements,
          });
          counts.extractions++;
        }
      }
    }
  };
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < todo.length) await one(todo[next++]!);
      }),
    );
    counts.changelog = await insertChangelog(db, events);
    await advanceCrawlState(db, 'changelog', maxSerial);
  } finally {
    await database.close();
  }
  return counts;
}

await scaleStep(
  import.meta,
  'scale-day.ts --database-url URL --files N [--seed S] [--day D]',
  { day: { type: 'string', default: '1' } },
  (a) => applyDay(a.databaseUrl, a.files, a.seed, Number(a.values.day)),
);
