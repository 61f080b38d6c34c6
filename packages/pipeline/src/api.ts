// What the pipeline needs from the index. packages/pypi-client implements it over HTTP;
// the pipeline never speaks HTTP itself (docs/architecture.md §8: only pypi-client does).
import type { ChangelogRow } from '@pypi-graph/model';

export interface SimpleFileInfo {
  filename: string;
  url: string;
  sha256?: string;
  yanked: boolean | string;
  coreMetadata: boolean | { sha256?: string };
  size?: number;
  uploadTime?: string;
  requiresPython?: string;
}

export interface SimpleProjectInfo {
  name: string;
  lastSerial?: number;
  versions?: string[];
  files: SimpleFileInfo[];
}

export interface JsonFileInfo {
  filename: string;
  url: string;
  sha256: string;
  packagetype: string;
  pythonVersion: string;
  size?: number;
  uploadTime?: string;
  requiresPython?: string | null;
  yanked: boolean;
  yankedReason?: string | null;
}

export interface ProjectJsonInfo {
  name: string;
  lastSerial: number;
  releases: Map<string, JsonFileInfo[]>;
}

export interface PypiApi {
  changelogLastSerial(signal?: AbortSignal): Promise<number>;
  changelogSinceSerial(serial: number, signal?: AbortSignal): Promise<ChangelogRow[]>;
  /**
   * Every project with the serial of its last change, handed to `onBatch` a batch at a time as
   * the answer arrives (never held whole: 737,000 entries at PyPI's size); a batch may come again
   * when the request is retried. Returns how many entries were delivered.
   */
  eachPackageWithSerial(
    onBatch: (batch: Array<[string, number]>) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<number>;
  /** The serial just before `time` (every event after it is at or after `time`). */
  changelogSerialAt(time: Date, signal?: AbortSignal): Promise<number>;
  getSimpleProject(name: string, signal?: AbortSignal): Promise<SimpleProjectInfo>;
  getProjectJson(name: string, signal?: AbortSignal): Promise<ProjectJsonInfo>;
}
