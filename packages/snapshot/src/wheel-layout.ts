/**
 * The `wheel/XX.json` dependency layout of pypi-deps-db (docs/formats.md §B2), built the way the
 * original wheel crawler left it after a run (DavHau/pypi-deps-db `updater/crawl_wheel_deps.py`:
 * `process_bucket_result`, `sort`, `compress`; mach-nix `LazyBucketDict.save_bucket`):
 *
 * ```
 * { "<name>": { "<python_version>": { "<version>": {
 *     "<wheel file>": { provides_extras?, requires_dist?, requires_external?, requires_python? }
 *                   | "<version>@<wheel file>" } } } }
 * ```
 *
 * Every level is sorted in Python string order, field names included; lists keep their order.
 * An entry equal to an earlier one of the same `name/python_version` group (any version) is
 * replaced by a reference to the first one, so references point backwards and never chain.
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
} from '@pypi-graph/pyspec';
import { publishedRequirement } from './published-requirement';
import type { KeyEntry, LayoutCounts } from './pypi-layout';

/** One wheel whose metadata was extracted, with the fields the crawler kept from it. */
export interface WheelFile {
  /** The raw release key as PyPI has it (stripped here, docs/formats.md §0). */
  version: string;
  filename: string;
  /** PyPI's `python_version` of the file (`py3`, `py2.py3`, `cp38`…): the grouping key. */
  pythonVersion: string;
  /** `Requires-Dist` values, verbatim, in METADATA order (published canonical: published-requirement.ts). */
  requiresDist: readonly string[];
  /** `Requires-Python`, verbatim (mach-nix strips `,` when reading); null when absent. */
  requiresPython: string | null;
  /** `Provides-Extra` values, in METADATA order (stored; mach-nix ignores them). */
  providesExtras: readonly string[];
  /** `Requires-External` values, in METADATA order (stored; mach-nix ignores them). */
  requiresExternal: readonly string[];
}

/** One project with the wheels whose metadata was extracted, in PyPI release order. */
export interface WheelProject {
  /** The display name; the key is `machNixName(name)`. */
  name: string;
  wheels: readonly WheelFile[];
}

/** A bucket's object and counts (`releases` = version keys per project, `files` = wheel entries). */
export interface WheelBucket {
  value: PyObject;
  counts: LayoutCounts;
}

/** The four fields, in the order the original's recursive `sort` leaves them (by name). */
type Fields = Map<string, PyValue>;

function checkStrings(value: unknown, field: string, wheel: WheelFile, project: string): readonly string[] {
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
    throw snapshotError(
      'snapshot-failed',
      `${field} of ${wheel.filename} (${project}) is not a list of strings`,
      {
        details: { project, filename: wheel.filename, field },
      },
    );
  }
  return value;
}

/**
 * The entry of one wheel, as `process_bucket_result` builds it (a field is set only when
 * truthy: an empty list or an empty/absent `requires_python` is left out, so a wheel without
 * metadata is `{}`) and `sort` orders it. Also returns a key that is equal exactly when the
 * entries are equal under Python's `==`.
 */
function wheelEntry(wheel: WheelFile, project: string): { fields: Fields; identity: string } {
  const providesExtras = checkStrings(wheel.providesExtras, 'providesExtras', wheel, project);
  // Published in their canonical spelling (published-requirement.ts); equal after it, equal here.
  const requiresDist = checkStrings(wheel.requiresDist, 'requiresDist', wheel, project).map(
    publishedRequirement,
  );
  const requiresExternal = checkStrings(wheel.requiresExternal, 'requiresExternal', wheel, project);
  const requiresPython = wheel.requiresPython ?? null;
  // docs/formats.md §D: a list here crashes mach-nix (`.strip(',')`), so only a string passes.
  if (requiresPython !== null && typeof requiresPython !== 'string') {
    throw snapshotError(
      'snapshot-failed',
      `requiresPython of ${wheel.filename} (${project}) is not a string`,
      {
        details: { project, filename: wheel.filename, requiresPython },
      },
    );
  }
  const fields: Fields = new Map();
  if (providesExtras.length > 0) fields.set('provides_extras', [...providesExtras]);
  if (requiresDist.length > 0) fields.set('requires_dist', [...requiresDist]);
  if (requiresExternal.length > 0) fields.set('requires_external', [...requiresExternal]);
  if (requiresPython) fields.set('requires_python', requiresPython);
  const identity = JSON.stringify([providesExtras, requiresDist, requiresExternal, requiresPython || null]);
  return { fields, identity };
}

function sortedKeys<V>(map: ReadonlyMap<string, V>): string[] {
  return [...map.keys()].sort(compareCodePoints);
}

/**
 * One project's value (`python_version → version → file → entry`), or undefined without wheels.
 *
 * Version keys are stripped. Two raw versions that strip to the same key: the first one given
 * keeps the key. Given in PyPI release order, that is the release `pypi/` keeps (see
 * `buildPypiBucketValue`), unless an earlier one with that key has publishable files but no
 * extracted wheel. A file name given twice for one version: the last one counts, as
 * in the index's dict comprehension, which also decides its `python_version`.
 */
function projectValue(
  project: WheelProject,
): { value: PyObject; releases: number; files: number } | undefined {
  const rawOfKey = new Map<string, string>();
  const byVersion = new Map<string, Map<string, WheelFile>>();
  for (const wheel of project.wheels) {
    const key = pyStrip(wheel.version);
    const raw = rawOfKey.get(key);
    if (raw === undefined) {
      rawOfKey.set(key, wheel.version);
      byVersion.set(key, new Map());
    } else if (raw !== wheel.version) {
      continue;
    }
    byVersion.get(key)!.set(wheel.filename, wheel);
  }
  if (byVersion.size === 0) return undefined;

  // python_version → version → file → wheel
  const groups = new Map<string, Map<string, Map<string, WheelFile>>>();
  let files = 0;
  for (const [version, wheels] of byVersion) {
    for (const [filename, wheel] of wheels) {
      let versions = groups.get(wheel.pythonVersion);
      if (versions === undefined) {
        versions = new Map();
        groups.set(wheel.pythonVersion, versions);
      }
      let names = versions.get(version);
      if (names === undefined) {
        names = new Map();
        versions.set(version, names);
      }
      names.set(filename, wheel);
      files += 1;
    }
  }

  const value = new Map<string, PyValue>();
  for (const pythonVersion of sortedKeys(groups)) {
    const versions = groups.get(pythonVersion)!;
    // `compress`: walking the sorted group, the first entry with given contents is kept and
    // every later equal one (any version) becomes "<version>@<file>" of that first one.
    const firstOf = new Map<string, string>();
    const group = new Map<string, PyValue>();
    for (const version of sortedKeys(versions)) {
      const names = versions.get(version)!;
      const out = new Map<string, PyValue>();
      for (const filename of sortedKeys(names)) {
        const { fields, identity } = wheelEntry(names.get(filename)!, project.name);
        const ref = firstOf.get(identity);
        if (ref === undefined) {
          firstOf.set(identity, `${version}@${filename}`);
          out.set(filename, fields);
        } else {
          out.set(filename, ref);
        }
      }
      group.set(version, out);
    }
    value.set(pythonVersion, group);
  }
  return { value, releases: byVersion.size, files };
}

/**
 * The entry of every key (machNixName) of `projects` that has one, unsorted (see below for
 * how a key shared by two projects is settled).
 */
export async function wheelEntries(
  projects: AsyncIterable<WheelProject> | Iterable<WheelProject>,
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
    const seen = byKey.get(key);
    if (seen !== undefined && compareCodePoints(project.name, seen.name) >= 0) continue;
    const built = projectValue(project);
    if (built === undefined) continue;
    byKey.set(key, { name: project.name, ...built });
  }
  return byKey;
}

/**
 * Builds one `wheel/<bucket>.json` object from the projects whose key falls in `bucket`, given in
 * any order. Names are sorted in Python string order. Two projects with the same key (which PyPI
 * itself prevents) are settled by display name in code-point order, the first one with a wheel
 * winning, as `buildPypiBucketValue` does.
 */
export async function buildWheelBucketValue(
  projects: AsyncIterable<WheelProject> | Iterable<WheelProject>,
  bucket?: string,
): Promise<WheelBucket> {
  const byKey = await wheelEntries(projects, bucket);
  const value = new Map<string, PyValue>();
  const counts: LayoutCounts = { projects: 0, releases: 0, files: 0 };
  for (const key of sortedKeys(byKey)) {
    const built = byKey.get(key)!;
    value.set(key, built.value);
    counts.projects += 1;
    counts.releases += built.releases;
    counts.files += built.files;
  }
  return { value, counts };
}

/**
 * The text of one `wheel/<bucket>.json` (Python's `json.dump(..., indent=2)`, no trailing
 * newline; an empty bucket is `{}`) and what it holds.
 */
export async function buildWheelBucket(
  projects: AsyncIterable<WheelProject> | Iterable<WheelProject>,
  bucket?: string,
): Promise<{ json: string; counts: LayoutCounts }> {
  const { value, counts } = await buildWheelBucketValue(projects, bucket);
  return { json: dumpPython(value), counts };
}
