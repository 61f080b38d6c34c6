/**
 * The `pypi/XX.json` URL/sha256 index, nix-pypi-fetcher-2 layout (docs/formats.md §A2), built the way
 * the original crawler's `save_pkg_meta` did (DavHau/nix-pypi-fetcher-2 `updater/crawl_urls.py`).
 */
import { snapshotError } from '@pypi-graph/core';
import {
  bucketOf,
  compareCodePoints,
  dumpPython,
  machNixName,
  type PyObject,
  type PyValue,
  pyStrip,
  pythonQuote,
} from '@pypi-graph/pyspec';

/** One distribution file as the index needs it. */
export interface PypiFile {
  filename: string;
  /** PyPI's `packagetype`: only `sdist` and `bdist_wheel` are published. */
  packagetype: string;
  /** PyPI's `python_version` (`source`, `py3`, `cp311`…); written for wheels. */
  pythonVersion: string;
  /** The file's sha256, 64 hex digits. */
  sha256Hex: string;
  /** Not written; the source already yields files in upload order, which is what counts. */
  uploadTime?: Date | string | null;
}

/** One release with its files in PyPI upload order. */
export interface PypiRelease {
  /** The raw release key as PyPI has it (stripped here, docs/formats.md §0). */
  version: string;
  files: readonly PypiFile[];
}

/** One project with its releases in PyPI order. */
export interface PypiProject {
  /** The display name; the key is `machNixName(name)`. */
  name: string;
  releases: readonly PypiRelease[];
}

/** What one layout wrote: keys at the top level, version keys, and file entries. */
export interface LayoutCounts {
  projects: number;
  releases: number;
  files: number;
}

// crawl_urls.py `select_favorite_sdist_release`: f_types = ('tar.gz', '.tgz', '.zip', '.tar.bz2'),
// matched with a case-sensitive `filename.endswith(t)`. The first has no dot in the original;
// kept as is so the same names qualify. Left is better; Python's sort is stable, so within one
// suffix the first file in PyPI order wins (the docstring's "shortest name" is not implemented).
const SDIST_PREFERENCE = ['tar.gz', '.tgz', '.zip', '.tar.bz2'] as const;

function sdistRank(filename: string): number {
  return SDIST_PREFERENCE.findIndex((suffix) => filename.endsWith(suffix));
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** crawl_urls.py `hash_hex_to_base64`: standard base64 with padding (44 characters). */
function sha256Base64(file: PypiFile, project: string): string {
  if (!SHA256_HEX.test(file.sha256Hex)) {
    throw snapshotError('snapshot-failed', `file ${file.filename} of ${project} has no valid sha256`, {
      details: { project, filename: file.filename, sha256: file.sha256Hex },
    });
  }
  return Buffer.from(file.sha256Hex, 'hex').toString('base64');
}

/** The release entry (`{sdist?, wheels?}`) and its file count, or undefined when it has neither. */
function releaseEntry(release: PypiRelease, project: string): { entry: PyObject; files: number } | undefined {
  let sdist: PypiFile | undefined;
  let sdistRankSeen: number = SDIST_PREFERENCE.length;
  const wheels = new Map<string, PyValue>();
  for (const file of release.files) {
    if (file.packagetype === 'sdist') {
      const rank = sdistRank(file.filename);
      if (rank >= 0 && rank < sdistRankSeen) {
        sdist = file;
        sdistRankSeen = rank;
      }
    } else if (file.packagetype === 'bdist_wheel') {
      // A dict comprehension keyed by file name: a repeated name keeps its first position
      // and takes the last value, which Map.set does too.
      wheels.set(file.filename, [sha256Base64(file, project), file.pythonVersion]);
    }
  }
  if (sdist === undefined && wheels.size === 0) return undefined;
  const entry = new Map<string, PyValue>();
  if (sdist !== undefined) {
    let quoted: string;
    try {
      quoted = pythonQuote(sdist.filename, '/ ');
    } catch (cause) {
      throw snapshotError('snapshot-failed', `sdist name of ${project} is not valid Unicode`, { cause });
    }
    entry.set('sdist', [sha256Base64(sdist, project), quoted]);
  }
  if (wheels.size > 0) entry.set('wheels', wheels);
  return { entry, files: (sdist === undefined ? 0 : 1) + wheels.size };
}

/** One project's releases map, or undefined when no release has a publishable file. */
function projectEntry(
  project: PypiProject,
): { value: PyObject; releases: number; files: number } | undefined {
  const releases = new Map<string, PyValue>();
  let files = 0;
  for (const release of project.releases) {
    const key = pyStrip(release.version);
    // Two raw keys that strip to the same string: we keep the first release that has a
    // publishable file. (The original assigned in a loop, so the last one's value won at the
    // first one's position; PyPI no longer accepts such versions, so this only settles ties.)
    if (releases.has(key)) continue;
    const built = releaseEntry(release, project.name);
    if (built === undefined) continue;
    releases.set(key, built.entry);
    files += built.files;
  }
  if (releases.size === 0) return undefined;
  return { value: releases, releases: releases.size, files };
}

/** One key's entry of a layout's bucket and what it holds (its share of {@link LayoutCounts}). */
export interface KeyEntry {
  /** The display name of the project the entry is from. */
  name: string;
  value: PyObject;
  releases: number;
  files: number;
}

/** A bucket's object and counts. */
export interface PypiBucket {
  value: PyObject;
  counts: LayoutCounts;
}

/**
 * The `pypi/` entry of every key (machNixName) of `projects` that has one, unsorted. Two projects
 * with the same key (which PyPI itself prevents) are settled by display name in code-point order:
 * the first one that has a publishable release wins, so the result does not depend on the
 * source's order.
 */
export async function pypiEntries(
  projects: AsyncIterable<PypiProject> | Iterable<PypiProject>,
  bucket?: string,
): Promise<Map<string, KeyEntry>> {
  const byKey = new Map<string, KeyEntry>();
  for await (const project of projects) {
    const key = machNixName(project.name);
    // A key in the wrong bucket is silently invisible to mach-nix (docs/formats.md §0).
    if (bucket !== undefined && bucketOf(key) !== bucket) {
      throw snapshotError('snapshot-failed', `project ${project.name} does not belong in bucket ${bucket}`, {
        details: { project: project.name, key, bucket, expected: bucketOf(key) },
      });
    }
    const built = projectEntry(project);
    if (built === undefined) continue;
    const seen = byKey.get(key);
    if (seen === undefined || compareCodePoints(project.name, seen.name) < 0) {
      byKey.set(key, { name: project.name, ...built });
    }
  }
  return byKey;
}

/**
 * Builds one `pypi/<bucket>.json` object from the projects whose key falls in `bucket`, given in
 * any order. Keys are sorted in Python string order.
 */
export async function buildPypiBucketValue(
  projects: AsyncIterable<PypiProject> | Iterable<PypiProject>,
  bucket?: string,
): Promise<PypiBucket> {
  const byKey = await pypiEntries(projects, bucket);
  const value = new Map<string, PyValue>();
  const counts: LayoutCounts = { projects: 0, releases: 0, files: 0 };
  for (const key of [...byKey.keys()].sort(compareCodePoints)) {
    const built = byKey.get(key)!;
    value.set(key, built.value);
    counts.projects += 1;
    counts.releases += built.releases;
    counts.files += built.files;
  }
  return { value, counts };
}

/**
 * The text of one `pypi/<bucket>.json` (Python's `json.dump(..., indent=2)`, no trailing
 * newline; an empty bucket is `{}`) and what it holds.
 */
export async function buildPypiBucket(
  projects: AsyncIterable<PypiProject> | Iterable<PypiProject>,
  bucket?: string,
): Promise<{ json: string; counts: LayoutCounts }> {
  const { value, counts } = await buildPypiBucketValue(projects, bucket);
  return { json: dumpPython(value), counts };
}
