import { createHash } from 'node:crypto';
import type { Logger } from '@pypi-graph/core';
import type { ChangelogRow } from '@pypi-graph/model';
import { type CoreMetadata, type PackageType, pep503Name } from '@pypi-graph/pyspec';
import { blake2b256Hex } from './blake2b';
import { canonicalizeVersion, compareVersions, isPrerelease } from './version-order';

// The in-memory index: projects, releases, files and the journal (changelog) that warehouse
// would have written while those files were uploaded, yanked and removed. The changelog is
// synthesized in time order with serials 1…N, using warehouse's action strings:
//   create · add Owner <user> · new release · add <python_version> file <filename>
//   yank release · remove file <filename> · remove release · remove project
// (warehouse/forklift/legacy.py, warehouse/manage/views, warehouse/utils/project.py).

/** Size and digests of a file's bytes, as PyPI reports them. */
export interface FileStat {
  size: number;
  sha256: string;
  md5: string;
  blake2b256: string;
}

/** Where a file's bytes come from: a file on disk, or generated on demand (synthetic mode). */
export interface FileContent {
  stat(): Promise<FileStat>;
  /** Bytes [start, end). */
  read(start: number, end: number): Promise<Buffer>;
  /** The core metadata file (METADATA / PKG-INFO) bytes, if the archive has one. */
  metadataBytes(): Promise<Buffer | undefined>;
  /** Parsed core metadata, for the JSON API's `info`. */
  metadata(): Promise<CoreMetadata | undefined>;
}

/** One upload: what a `twine upload` of one file tells warehouse. Input of {@link buildIndex}. */
export interface UploadSpec {
  filename: string;
  /** Project name as the file's metadata (or file name) spells it. */
  name: string;
  version: string;
  uploadTimeUs: number;
  packagetype: PackageType;
  /** `source` for sdists, the wheel's python tag (`py3`, `cp311`, `py2.py3`) otherwise. */
  pythonVersion: string;
  /** Requires-Python of the file's metadata; the release keeps its first file's. */
  requiresPython: string | null;
  /** Per-file override of requires-python (manifest). */
  fileRequiresPython?: string | null;
  /** PEP 592 yank of this one file (manifest); PyPI itself only yanks whole releases. */
  yanked?: boolean | string;
  removedAtUs?: number;
  /** Whether a `.metadata` file (PEP 658) is served: wheels with a METADATA file. */
  hasMetadataFile: boolean;
  content: FileContent;
}

export interface ReleaseDirective {
  yanked?: boolean | string;
  yankedAtUs?: number;
  removedAtUs?: number;
}

export interface ProjectDirective {
  removedAtUs?: number;
}

export interface IndexFile {
  readonly filename: string;
  readonly project: Project;
  readonly release: Release;
  readonly packagetype: PackageType;
  readonly pythonVersion: string;
  readonly uploadTimeUs: number;
  readonly fileRequiresPython?: string | null;
  readonly fileYanked?: boolean | string;
  readonly hasMetadataFile: boolean;
  readonly content: FileContent;
  removed: boolean;
  /** Filled by {@link materialize}. */
  stat?: FileStat;
  metadataSha256?: string;
}

export interface Release {
  readonly version: string;
  readonly canonical: string;
  readonly project: Project;
  /** Every file ever uploaded, in upload order (removed ones flagged). */
  readonly files: IndexFile[];
  readonly requiresPython: string | null;
  readonly prerelease: boolean | undefined;
  yanked: boolean;
  yankedReason: string | null;
  removed: boolean;
}

export interface Project {
  /** Display name: as spelled by the upload that created the project. */
  readonly name: string;
  readonly normalized: string;
  /** In creation order. */
  readonly releases: Release[];
  lastSerial: number;
  removed: boolean;
}

/** The journal, stored column-wise: a synthetic index has hundreds of thousands of rows. */
export class Changelog {
  private readonly names: string[] = [];
  private readonly versions: Array<string | null> = [];
  private readonly times: number[] = [];
  private readonly actions: string[] = [];

  get lastSerial(): number {
    return this.names.length;
  }

  push(name: string, version: string | null, timestamp: number, action: string): number {
    this.names.push(name);
    this.versions.push(version);
    this.times.push(timestamp);
    this.actions.push(action);
    return this.names.length;
  }

  /** Rows with serial > `since`, ascending, at most `limit` (warehouse: 50,000). */
  since(since: number, limit: number): ChangelogRow[] {
    const rows: ChangelogRow[] = [];
    const start = Math.max(0, Math.floor(since));
    for (let i = start; i < this.names.length && rows.length < limit; i++) {
      rows.push({
        name: this.names[i]!,
        version: this.versions[i]!,
        timestamp: this.times[i]!,
        action: this.actions[i]!,
        serial: i + 1,
      });
    }
    return rows;
  }
}

export interface PypiIndex {
  /** Current projects by normalized name (removed projects are not here). */
  readonly projects: Map<string, Project>;
  /** Current projects sorted by normalized name (the order of PyPI's `/simple/`). */
  readonly projectList: Project[];
  /** Files that are served, by file name (PyPI file names are unique across the index). */
  readonly files: Map<string, IndexFile>;
  readonly changelog: Changelog;
  readonly lastSerial: number;
}

/** The user PyPI's journal names in `add Owner <user>` rows. */
export const UPLOADER = 'pypi-graph';

interface Event {
  us: number;
  seq: number;
  project: Project;
  version: string | null;
  action: string;
}

export interface BuildInput {
  uploads: UploadSpec[];
  /** Keyed by `<normalized project>==<canonical version>`. */
  releases?: Map<string, ReleaseDirective>;
  /** Keyed by normalized project name. */
  projects?: Map<string, ProjectDirective>;
  log?: Logger;
}

/** Replays uploads, yanks and removals in time order into projects, releases and a journal. */
export function buildIndex(input: BuildInput): PypiIndex {
  const uploads = input.uploads
    .map((u, i) => ({ u, i }))
    .sort((a, b) => a.u.uploadTimeUs - b.u.uploadTimeUs || a.i - b.i);
  const allProjects = new Map<string, Project>();
  const releaseByKey = new Map<string, Release>();
  const files = new Map<string, IndexFile>();
  const events: Event[] = [];
  let seq = 0;
  const emit = (us: number, project: Project, version: string | null, action: string) =>
    events.push({ us, seq: seq++, project, version, action });

  for (const { u } of uploads) {
    if (files.has(u.filename)) {
      input.log?.warn({ filename: u.filename }, 'duplicate file name, keeping the first upload');
      continue;
    }
    const normalized = pep503Name(u.name);
    let project = allProjects.get(normalized);
    if (!project) {
      project = { name: u.name, normalized, releases: [], lastSerial: 0, removed: false };
      allProjects.set(normalized, project);
      emit(u.uploadTimeUs, project, null, 'create');
      emit(u.uploadTimeUs, project, null, `add Owner ${UPLOADER}`);
    }
    const canonical = canonicalizeVersion(u.version);
    const key = `${normalized}==${canonical}`;
    let release = releaseByKey.get(key);
    if (!release) {
      release = {
        version: u.version,
        canonical,
        project,
        files: [],
        requiresPython: u.requiresPython || null,
        prerelease: isPrerelease(u.version),
        yanked: false,
        yankedReason: null,
        removed: false,
      };
      releaseByKey.set(key, release);
      project.releases.push(release);
      emit(u.uploadTimeUs, project, release.version, 'new release');
    }
    const file: IndexFile = {
      filename: u.filename,
      project,
      release,
      packagetype: u.packagetype,
      pythonVersion: u.pythonVersion,
      uploadTimeUs: u.uploadTimeUs,
      fileRequiresPython: u.fileRequiresPython,
      fileYanked: u.yanked,
      hasMetadataFile: u.hasMetadataFile,
      content: u.content,
      removed: false,
    };
    release.files.push(file);
    files.set(u.filename, file);
    emit(u.uploadTimeUs, project, release.version, `add ${u.pythonVersion} file ${u.filename}`);
    if (u.removedAtUs !== undefined) {
      file.removed = true;
      emit(u.removedAtUs, project, release.version, `remove file ${u.filename}`);
    }
  }

  for (const [key, d] of input.releases ?? []) {
    const release = releaseByKey.get(key);
    if (!release) {
      input.log?.warn({ release: key }, 'manifest names a release that has no files, ignored');
      continue;
    }
    const lastUpload = release.files.reduce((m, f) => Math.max(m, f.uploadTimeUs), -Infinity);
    if (d.yanked !== undefined && d.yanked !== false) {
      release.yanked = true;
      release.yankedReason = typeof d.yanked === 'string' && d.yanked !== '' ? d.yanked : null;
      // Without a time, the yank happens an hour after the release's last upload.
      emit(d.yankedAtUs ?? lastUpload + 3_600_000_000, release.project, release.version, 'yank release');
    }
    if (d.removedAtUs !== undefined) {
      release.removed = true;
      emit(d.removedAtUs, release.project, release.version, 'remove release');
    }
  }

  for (const [normalized, d] of input.projects ?? []) {
    const project = allProjects.get(normalized);
    if (!project) {
      input.log?.warn({ project: normalized }, 'manifest names a project that has no files, ignored');
      continue;
    }
    if (d.removedAtUs !== undefined) {
      project.removed = true;
      emit(d.removedAtUs, project, null, 'remove project');
    }
  }

  events.sort((a, b) => a.us - b.us || a.seq - b.seq);
  const changelog = new Changelog();
  for (const e of events) {
    const serial = changelog.push(e.project.name, e.version, Math.floor(e.us / 1_000_000), e.action);
    e.project.lastSerial = serial;
  }

  const projects = new Map<string, Project>();
  for (const [normalized, project] of allProjects) {
    if (!project.removed) projects.set(normalized, project);
  }
  for (const [filename, file] of files) {
    if (file.removed || file.release.removed || file.project.removed) files.delete(filename);
  }
  const projectList = [...projects.values()].sort((a, b) =>
    a.normalized < b.normalized ? -1 : a.normalized > b.normalized ? 1 : 0,
  );
  return { projects, projectList, files, changelog, lastSerial: changelog.lastSerial };
}

/** Releases that are still served (not removed), in creation order. */
export function liveReleases(project: Project): Release[] {
  return project.releases.filter((r) => !r.removed);
}

/** Files of a release that are still served, in upload order. */
export function liveFiles(release: Release): IndexFile[] {
  return release.removed || release.project.removed ? [] : release.files.filter((f) => !f.removed);
}

/**
 * The release warehouse shows as "latest" (JSON API `info.version`, `urls`): ordered by
 * (yanked, is_prerelease NULLS LAST, version descending).
 */
export function latestRelease(project: Project): Release | undefined {
  const rank = (r: Release) => (r.prerelease === false ? 0 : r.prerelease === true ? 1 : 2);
  let best: Release | undefined;
  for (const r of liveReleases(project)) {
    if (
      !best ||
      Number(r.yanked) - Number(best.yanked) < 0 ||
      (r.yanked === best.yanked &&
        (rank(r) < rank(best) || (rank(r) === rank(best) && compareVersions(r.version, best.version) > 0)))
    ) {
      best = r;
    }
  }
  return best;
}

/** The release matching `version` the way `/pypi/<p>/<v>/json` does (canonical, then exact). */
export function findRelease(project: Project, version: string): Release | undefined {
  const canonical = canonicalizeVersion(version);
  const matches = liveReleases(project).filter((r) => r.canonical === canonical);
  if (matches.length <= 1) return matches[0];
  return matches.find((r) => r.version === version);
}

/** Effective PEP 592 yank of a file: its own, else its release's. */
export function fileYank(file: IndexFile): { yanked: boolean; reason: string | null } {
  if (file.fileYanked !== undefined && file.fileYanked !== false) {
    return {
      yanked: true,
      reason: typeof file.fileYanked === 'string' && file.fileYanked ? file.fileYanked : null,
    };
  }
  return { yanked: file.release.yanked, reason: file.release.yanked ? file.release.yankedReason : null };
}

/** Effective requires-python of a file: the manifest's, else its release's. */
export function fileRequiresPython(file: IndexFile): string | null {
  if (file.fileRequiresPython !== undefined) return file.fileRequiresPython || null;
  return file.release.requiresPython || null;
}

/** Computes (once) a file's size, digests and PEP 658 metadata digest. */
export async function materialize(file: IndexFile): Promise<Required<Pick<IndexFile, 'stat'>> & IndexFile> {
  if (!file.stat) {
    file.stat = await file.content.stat();
    if (file.hasMetadataFile) {
      const bytes = await file.content.metadataBytes();
      if (bytes) file.metadataSha256 = createHash('sha256').update(bytes).digest('hex');
    }
  }
  return file as Required<Pick<IndexFile, 'stat'>> & IndexFile;
}

/** size, sha256, md5 and blake2b-256 of a buffer. */
export function statOf(bytes: Uint8Array): FileStat {
  return {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    blake2b256: blake2b256Hex(bytes),
  };
}

/**
 * The file's path on the files host, as warehouse stores it:
 * `<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>` with b2 the BLAKE2b-256 of the content.
 */
export function storagePath(file: IndexFile & { stat: FileStat }): string {
  const b = file.stat.blake2b256;
  return `${b.slice(0, 2)}/${b.slice(2, 4)}/${b.slice(4)}/${file.filename}`;
}
