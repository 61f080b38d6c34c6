import type { ChangelogRow } from '@pypi-graph/model';
import type { IndexFile, Project, PypiIndex } from './index-model';

// What the server asks of an index. Two kinds answer: a `PypiIndex` held in memory (a folder,
// the small synthetic index), and the PyPI-shaped preset, which holds no project at all and
// builds each one from its seed when asked (preset-source.ts).

/** A current project as the listings show it. */
export interface ProjectListing {
  name: string;
  normalized: string;
  lastSerial: number;
}

export interface IndexSource {
  /** Highest changelog serial (0 for an empty journal). */
  readonly lastSerial: number;
  /** Changelog rows with serial > `since`, ascending, at most `limit`. Lazily, for streaming. */
  changelogSince(since: number, limit: number): Iterable<ChangelogRow>;
  /** Current projects, in no particular order (`list_packages_with_serial`). Lazily, for streaming. */
  listProjects(): Iterable<ProjectListing>;
  /** Current projects by normalized name (`/simple/`). Lazily, for streaming. */
  listProjectsByName(): Iterable<ProjectListing>;
  /** A current project by PEP 503 name. */
  project(normalized: string): Project | undefined;
  /** Whether a current project has this PEP 503 name (cheaper than `project`). */
  hasProject(normalized: string): boolean;
  /** A served file by file name. */
  file(filename: string): IndexFile | undefined;
}

/** An index held in memory. */
export function memorySource(index: PypiIndex): IndexSource {
  const listing = (p: Project): ProjectListing => ({
    name: p.name,
    normalized: p.normalized,
    lastSerial: p.lastSerial,
  });
  return {
    get lastSerial() {
      return index.lastSerial;
    },
    changelogSince: (since, limit) => index.changelog.since(since, limit),
    listProjects: () => index.projectList.map(listing),
    listProjectsByName: () => index.projectList.map(listing),
    project: (normalized) => index.projects.get(normalized),
    hasProject: (normalized) => index.projects.has(normalized),
    file: (filename) => index.files.get(filename),
  };
}
