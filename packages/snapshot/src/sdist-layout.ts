/**
 * The `sdist/XX.json` and `sdist-errors/XX.json` layouts of pypi-deps-db (docs/formats.md §B1, §B3),
 * with the compression of DavHau/pypi-deps-db `updater/crawl_sdist_deps.py` (`pkg_to_dict`,
 * `insert`, `sort_key_pyver`, `compress_dict`, `compress`) and the order pypi-graph chose:
 *
 * ```
 * { "<name>": { "<version>": { "<pyver>": {<fields>} | "<other pyver>" } | "<other version>" } }
 * ```
 *
 * - names sorted by code point; versions in PEP 440 order (unparsable last, by string); pyvers in
 *   interpreter order `27, 36, 37, 38, 39, 310, 311, 312, 313`;
 * - `<fields>` in `pkg_to_dict` order: `install_requires`, `setup_requires`, `extras_require`,
 *   `tests_require`, `python_requires`, each left out when empty (`{}` = crawled, no deps);
 *   `extras_require` keeps its keys in the given order and an extra with no requirement as `[]`;
 * - `sdist-errors/` has the error text as leaf instead of `{fields}`;
 * - compression, pyvers of each version first, then the versions of each project: walking the
 *   keys by `(length, string)`, a value equal (Python `==`) to a kept one becomes the key of the
 *   first kept one, so references never chain and point to the shortest, then string-smallest
 *   equal key — forwards for versions (`"0.0.5": "0.10"`), backwards for pyvers.
 */
import { snapshotError } from '@pypi-graph/core';
import {
  type PublishedSdistDeps,
  PYTHON_KEYS,
  SDIST_DEPS_FIELDS,
  type SdistProject,
  type SdistResult,
} from '@pypi-graph/model';
import {
  bucketOf,
  compareCodePoints,
  compareVersions,
  dumpPython,
  machNixName,
  type PyObject,
  type PyValue,
  pyStrip,
} from '@pypi-graph/pyspec';
import { publishedRequirement } from './published-requirement';
import type { KeyEntry, LayoutCounts } from './pypi-layout';

/** Which of the two layouts to build from the same projects. */
export type SdistLayoutKind = 'sdist' | 'sdist-errors';

/** A bucket's object and counts (`releases` = version keys, `files` = Python results written). */
export interface SdistBucket {
  value: PyObject;
  counts: LayoutCounts;
}

const PY_RANK = new Map<string, number>(PYTHON_KEYS.map((k, i) => [k, i]));

/** `pkg_to_dict`'s field order (the `PKG` dataclass); `extras_require` is the only dict. */
const FIELD_ORDER = SDIST_DEPS_FIELDS;

function fail(message: string, details: Record<string, unknown>): never {
  throw snapshotError('snapshot-failed', message, { details });
}

function isStrings(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((s) => typeof s === 'string');
}

/** A node with its value and a text that is equal exactly when Python's `==` says equal. */
interface Node {
  value: PyValue;
  identity: string;
}

/** The length of `s` in code points (a surrogate pair counts once), as Python's `len`. */
function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Python's `len(key), key` (`sort_key_pyver`): length in code points, then code points. */
function compareSortKey(a: string, b: string): number {
  return codePointLength(a) - codePointLength(b) || compareCodePoints(a, b);
}

const FIELD_NAMES: ReadonlySet<string> = new Set(FIELD_ORDER);

/** Where a result is: the details of an error about it (a type alias, so it passes as they are). */
type Where = {
  project: string;
  version: string;
  python: string;
};

/** The `{fields}` of an ok result, as `pkg_to_dict` writes it. */
function fieldsNode(req: PublishedSdistDeps, where: Where): Node {
  const value = new Map<string, PyValue>();
  const identity: [string, unknown][] = [];
  for (const field of FIELD_ORDER) {
    const raw = req[field];
    if (raw === undefined) continue;
    if (field === 'extras_require') {
      if (!Array.isArray(raw)) fail(`extras_require is not a list of [key, requirements]`, where);
      const extras = new Map<string, PyValue>();
      for (const pair of raw as ReadonlyArray<readonly [string, readonly string[]]>) {
        if (!Array.isArray(pair) || typeof pair[0] !== 'string' || !isStrings(pair[1])) {
          fail(`extras_require entry is not [key, list of strings]`, { ...where, pair });
        }
        extras.set(pair[0], pair[1].map(publishedRequirement));
      }
      if (extras.size === 0) continue;
      value.set(field, extras);
      // dict equality ignores key order
      identity.push([field, [...extras].sort(([a], [b]) => compareCodePoints(a, b))]);
    } else {
      if (!isStrings(raw)) fail(`${field} is not a list of strings`, { ...where, field });
      if (raw.length === 0) continue;
      // Requirement strings in their canonical spelling (published-requirement.ts);
      // python_requires is a specifier set, published as it is.
      const list = field === 'python_requires' ? [...raw] : raw.map(publishedRequirement);
      value.set(field, list);
      identity.push([field, list]);
    }
  }
  for (const key in req) {
    if (!FIELD_NAMES.has(key)) fail(`unknown field ${key}`, where);
  }
  return { value, identity: `d${JSON.stringify(identity)}` };
}

const stringNode = (s: string): Node => ({ value: s, identity: `s${JSON.stringify(s)}` });

/**
 * `compress_dict` on `entries` (distinct keys): walking the keys by `(length, string)`, a value
 * equal to a kept one becomes the key of the first kept one; a value is kept unless it is (now)
 * a string naming a kept key. Returns the new nodes in the input's order and, when asked, the
 * identity of the whole dict (Python dict equality: order-free).
 */
function compress(
  entries: ReadonlyArray<readonly [string, Node]>,
  withIdentity: boolean,
): {
  out: [string, Node][];
  identity: string;
} {
  const out = entries.map(([k, n]) => [k, n] as [string, Node]);
  if (out.length > 1) {
    const order = out.map((_, i) => i).sort((i, j) => compareSortKey(out[i]![0], out[j]![0]));
    const keep = new Map<string, string>(); // identity → key, first kept wins
    const keptKeys = new Set<string>();
    for (const i of order) {
      const [key, node] = out[i]!;
      const target = keep.get(node.identity);
      if (target !== undefined) {
        out[i] = [key, stringNode(target)];
        continue;
      }
      if (typeof node.value === 'string' && keptKeys.has(node.value)) continue;
      keep.set(node.identity, key);
      keptKeys.add(key);
    }
  }
  const identity = withIdentity
    ? `d${JSON.stringify(
        [...out].sort(([a], [b]) => compareCodePoints(a, b)).map(([k, n]) => [k, n.identity]),
      )}`
    : '';
  return { out, identity };
}

function checkResult(result: unknown, where: Where): SdistResult {
  if (typeof result === 'object' && result !== null) {
    if ('ok' in result && typeof result.ok === 'object' && result.ok !== null && !('error' in result)) {
      return result as SdistResult;
    }
    if ('error' in result && typeof result.error === 'string' && !('ok' in result))
      return result as SdistResult;
  }
  return fail('a result must be { ok: {...} } or { error: string }', where);
}

/** One project's value for `kind`, or undefined when nothing of that kind was crawled. */
function projectValue(
  project: SdistProject,
  kind: SdistLayoutKind,
): { value: PyObject; releases: number; files: number } | undefined {
  // Two releases whose versions strip to one key: the first one given keeps it (as for wheel/).
  const seenKeys = new Set<string>();
  const versions: [string, [string, Node][]][] = [];
  let files = 0;
  for (const release of project.releases) {
    const key = pyStrip(release.version);
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    if (!(release.results instanceof Map)) {
      fail(`results of ${project.name} ${release.version} is not a Map`, {
        project: project.name,
        version: release.version,
      });
    }
    const pyvers: [string, Node][] = [];
    // The same result object given for several keys (static metadata) is one node.
    let lastOk: PublishedSdistDeps | undefined;
    let lastNode: Node | undefined;
    for (const [pyKey, raw] of release.results) {
      const where = { project: project.name, version: release.version, python: pyKey };
      if (!PY_RANK.has(pyKey))
        fail(`unknown Python key ${pyKey} for ${project.name} ${release.version}`, where);
      const result = checkResult(raw, where);
      if ('ok' in result) {
        if (kind !== 'sdist') continue;
        if (result.ok !== lastOk || lastNode === undefined) {
          lastOk = result.ok;
          lastNode = fieldsNode(result.ok, where);
        }
        pyvers.push([pyKey, lastNode]);
      } else if (kind === 'sdist-errors') {
        pyvers.push([pyKey, stringNode(result.error)]);
      }
    }
    if (pyvers.length === 0) continue;
    pyvers.sort(([a], [b]) => PY_RANK.get(a)! - PY_RANK.get(b)!);
    files += pyvers.length;
    versions.push([key, pyvers]);
  }
  if (versions.length === 0) return undefined;
  versions.sort(([a], [b]) => compareVersions(a, b));

  // `compress`: the pyvers of each version first, then the versions.
  const level1 = versions.map(([version, pyvers]) => {
    const { out, identity } = compress(pyvers, true);
    return [version, { value: new Map(out.map(([k, n]) => [k, n.value])), identity }] as [string, Node];
  });
  const { out } = compress(level1, false);
  return { value: new Map(out.map(([k, n]) => [k, n.value])), releases: versions.length, files };
}

/**
 * The entry of every key (machNixName) of `projects` that has one, unsorted (see below for
 * how a key shared by two projects is settled).
 */
export async function sdistEntries(
  projects: AsyncIterable<SdistProject> | Iterable<SdistProject>,
  kind: SdistLayoutKind,
  bucket?: string,
): Promise<Map<string, KeyEntry>> {
  const byKey = new Map<string, KeyEntry>();
  for await (const project of projects) {
    const key = machNixName(project.name);
    // A key in the wrong bucket is silently invisible to mach-nix (docs/formats.md §0).
    if (bucket !== undefined && bucketOf(key) !== bucket) {
      fail(`project ${project.name} does not belong in bucket ${bucket}`, {
        project: project.name,
        key,
        bucket,
        expected: bucketOf(key),
      });
    }
    const seen = byKey.get(key);
    if (seen !== undefined && compareCodePoints(project.name, seen.name) >= 0) continue;
    const built = projectValue(project, kind);
    if (built === undefined) continue;
    byKey.set(key, { name: project.name, ...built });
  }
  return byKey;
}

/**
 * Builds one `sdist/<bucket>.json` (kind `sdist`, ok results) or `sdist-errors/<bucket>.json`
 * (kind `sdist-errors`, error texts) object from the projects whose key falls in `bucket`, in any
 * order. Two projects with the same key (which PyPI prevents) are settled by display name in
 * code-point order, the first one with something to write winning.
 */
export async function buildSdistBucketValue(
  projects: AsyncIterable<SdistProject> | Iterable<SdistProject>,
  kind: SdistLayoutKind,
  bucket?: string,
): Promise<SdistBucket> {
  const byKey = await sdistEntries(projects, kind, bucket);
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

/** The text of one bucket file (Python's `json.dump(..., indent=2)`, empty bucket `{}`). */
export async function buildSdistBucket(
  projects: AsyncIterable<SdistProject> | Iterable<SdistProject>,
  kind: SdistLayoutKind,
  bucket?: string,
): Promise<{ json: string; counts: LayoutCounts }> {
  const { value, counts } = await buildSdistBucketValue(projects, kind, bucket);
  return { json: dumpPython(value), counts };
}
