import type { FileRecord, ProjectRecord } from '@pypi-graph/db';
import type { ProjectJsonInfo, SimpleProjectInfo } from './api';

export interface MergeResult {
  record: ProjectRecord;
  /** Files one API lists and the other does not (caches of the two APIs can lag each other). */
  onlyInSimple: string[];
  onlyInJson: string[];
}

/**
 * Joins the JSON API (packagetype, python_version, release keys) with the PEP 691 Simple API
 * (PEP 658/714 core-metadata, PEP 592 yanked reasons) by file name. The JSON API decides which
 * files exist, since only it ties a file to its release key.
 */
export function mergeProject(json: ProjectJsonInfo, simple: SimpleProjectInfo): MergeResult {
  const simpleByName = new Map(simple.files.map((f) => [f.filename, f]));
  const files: FileRecord[] = [];
  const jsonNames = new Set<string>();
  for (const [version, list] of json.releases) {
    for (const f of list) {
      jsonNames.add(f.filename);
      const s = simpleByName.get(f.filename);
      const core = s?.coreMetadata;
      const yankedReason =
        (typeof s?.yanked === 'string' && s.yanked !== '' ? s.yanked : undefined) ?? f.yankedReason ?? null;
      files.push({
        filename: f.filename,
        version,
        packagetype: f.packagetype,
        pythonVersion: f.pythonVersion,
        url: f.url,
        sha256: f.sha256.toLowerCase(),
        size: f.size ?? s?.size ?? null,
        uploadTime: parseTime(f.uploadTime ?? s?.uploadTime),
        requiresPython: f.requiresPython ?? s?.requiresPython ?? null,
        yanked: f.yanked || (s !== undefined && s.yanked !== false),
        yankedReason: f.yanked || (s !== undefined && s.yanked !== false) ? yankedReason : null,
        hasCoreMetadata: core !== undefined && core !== false,
        coreMetadataSha256: typeof core === 'object' ? (core.sha256?.toLowerCase() ?? null) : null,
      });
    }
  }
  // The stored state is as new as the older of the two answers: a later job brings the rest.
  const serials = [json.lastSerial, simple.lastSerial].filter((s): s is number => typeof s === 'number');
  return {
    record: {
      displayName: json.name,
      serial: serials.length > 0 ? Math.min(...serials) : 0,
      versions: [...json.releases.keys()],
      files,
    },
    onlyInSimple: simple.files.filter((f) => !jsonNames.has(f.filename)).map((f) => f.filename),
    onlyInJson: [...jsonNames].filter((n) => !simpleByName.has(n)),
  };
}

function parseTime(value: string | undefined): Date | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}
