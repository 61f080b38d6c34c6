/**
 * Publishes one snapshot (docs/architecture.md §7): every layout's 256 bucket files, `UNIX_TIMESTAMP`,
 * `manifest.json`, a deterministic tarball with its sha256 and Nix hash, and the `latest`
 * pointers — atomically, so a crash or an abort leaves the previous snapshot as it was.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readlink, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CrawlError, type Logger, silentLogger, toCrawlError } from '@pypi-graph/core';
import { ALL_BUCKETS } from '@pypi-graph/pyspec';
import { makeTempDir, removeStaleTemps, replaceSymlink, syncDir, writeFileAtomic } from './fs-atomic';
import { narSha256OfTree, nixBase32, sriSha256 } from './nar';
import { buildPypiBucketValue, type LayoutCounts, type PypiProject } from './pypi-layout';
import { dumpPython, dumpPythonChunks, type PyObject, type PyValue } from './python-json';
import { compareCodePoints } from './python-str';
import { buildSdistBucketValue, type SdistProject } from './sdist-layout';
import { writeTarGz } from './tarball';
import { readTree } from './tree';
import { buildWheelBucketValue, type WheelProject } from './wheel-layout';

/** What the snapshot covers. */
export interface SnapshotMeta {
  /** The PyPI changelog serial the data is complete up to. */
  serial: number;
  /** The data's time, UNIX seconds; written to `UNIX_TIMESTAMP` and used as every tar mtime. */
  unixTimestamp: number;
}

/**
 * Where the data comes from (the lead implements it over Postgres). One method per layout; a
 * later layout (`sdist/`, `wheel/`, `sdist-errors/`) is an optional method, and its directory is
 * written only when the source has it.
 */
export interface SnapshotSource {
  meta(): Promise<SnapshotMeta>;
  /** Projects whose `machNixName` falls in `bucket`, in any order; releases and files in PyPI order. */
  pypiProjects(bucket: string): AsyncIterable<PypiProject>;
  /**
   * `wheel/` (docs/formats.md §B2): projects whose `machNixName` falls in `bucket`, in any order, each
   * with the wheels whose metadata was extracted, in PyPI release order. Projects without such a
   * wheel may be left out.
   */
  wheelProjects?(bucket: string): AsyncIterable<WheelProject>;
  /**
   * `sdist/` and `sdist-errors/` (docs/formats.md §B1, §B3), both from this one method, called once
   * per layout and bucket: projects whose `machNixName` falls in `bucket`, in any order, each
   * with its crawled releases (PyPI release order) and their results per Python key. Projects
   * without a result may be left out.
   */
  sdistProjects?(bucket: string): AsyncIterable<SdistProject>;
}

export interface PublishOptions {
  /** Directory holding every snapshot, the tarballs and the `latest` pointers. */
  outDir: string;
  source: SnapshotSource;
  /** Checked between buckets and while compressing; an abort leaves `outDir` as it was. */
  signal?: AbortSignal;
  logger?: Logger;
  /**
   * Test-only fault hook: awaited after `latest.json` names the new snapshot and before `latest`
   * is switched. That window lasts microseconds, so a test that kills a real publishing process
   * there (packages/snapshot/test/crash.test.ts) pauses it with this; nothing else sets it.
   */
  beforeLatestSwitch?: () => Promise<void>;
}

/** `manifest.json` of a snapshot (written with snake_case keys, see {@link manifestValue}). */
export interface SnapshotManifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: typeof FORMAT_VERSION;
  id: string;
  /** The changelog serial covered (written as `changelog_serial`). */
  serial: number;
  unixTimestamp: number;
  /** Counts per layout directory (`pypi`, …). */
  layouts: Record<string, LayoutCounts>;
  /** sha256 hex of every other file of the tree, by relative path, in code-point order. */
  files: Record<string, string>;
}

export interface PublishResult {
  id: string;
  /** `outDir/<id>`: the published tree. */
  dir: string;
  /** `outDir/<id>.tar.gz`. */
  tarball: string;
  tarballSha256: string;
  /** For `fetchTarball { sha256 = …; }`: NAR hash of the unpacked tree, Nix base32. */
  narHashBase32: string;
  /** The same hash as SRI, `sha256-<base64>`. */
  narHashSri: string;
  counts: Record<string, LayoutCounts>;
  manifest: SnapshotManifest;
  /** sha256 hex of `manifest.json`, which pins every file of the tree by its hash. */
  manifestSha256: string;
  /** True when `outDir/<id>` already held this exact snapshot and only `latest` was repointed. */
  reused: boolean;
}

export const MANIFEST_FORMAT = 'pypi-graph-snapshot';
/** Bumped when the tree's layout or any writing rule changes; it feeds the snapshot id. */
export const FORMAT_VERSION = 1;

interface Layout {
  dir: string;
  has(source: SnapshotSource): boolean;
  bucket(source: SnapshotSource, bucket: string): Promise<{ value: PyObject; counts: LayoutCounts }>;
}

/**
 * The layouts, in the order they are written. docs/formats.md §A2 (pypi/), §B2 (wheel/), §B1 (sdist/),
 * §B3 (sdist-errors/).
 */
const LAYOUTS: readonly Layout[] = [
  { dir: 'pypi', has: () => true, bucket: (source, b) => buildPypiBucketValue(source.pypiProjects(b), b) },
  {
    dir: 'wheel',
    has: (source) => typeof source.wheelProjects === 'function',
    bucket: (source, b) => buildWheelBucketValue(source.wheelProjects!(b), b),
  },
  {
    dir: 'sdist',
    has: (source) => typeof source.sdistProjects === 'function',
    bucket: (source, b) => buildSdistBucketValue(source.sdistProjects!(b), 'sdist', b),
  },
  {
    dir: 'sdist-errors',
    has: (source) => typeof source.sdistProjects === 'function',
    bucket: (source, b) => buildSdistBucketValue(source.sdistProjects!(b), 'sdist-errors', b),
  },
];

/** Writes `chunks` to a new file and returns its sha256 hex (flushed later by {@link syncFiles}). */
async function writeHashed(path: string, chunks: Iterable<string>): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'wx', 0o644);
  try {
    for (const chunk of chunks) {
      const buf = Buffer.from(chunk, 'utf8');
      hash.update(buf);
      for (let off = 0; off < buf.length; ) off += (await handle.write(buf, off)).bytesWritten;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * fsyncs files before they are renamed into place, so a power loss after the rename cannot
 * expose an empty file. Done together at the end: many parallel fsyncs share journal commits
 * and cost far less than one per file as it is written.
 */
async function syncFiles(paths: readonly string[], concurrency = 32): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const handle = await open(paths[next++]!, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
}

/**
 * The snapshot id: `<serial>-<12 hex>`, the hex being the start of the sha256 of the format
 * version and the `sha256sum`-style listing of every file but the manifest. The same data gives
 * the same id; any changed byte gives another.
 */
export function snapshotId(serial: number, files: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256').update(`${MANIFEST_FORMAT} ${FORMAT_VERSION}\n`);
  for (const path of [...files.keys()].sort(compareCodePoints)) hash.update(`${files.get(path)}  ${path}\n`);
  return `${serial}-${hash.digest('hex').slice(0, 12)}`;
}

/** The manifest as written: snake_case keys in a fixed order, files sorted by path. */
export function manifestValue(manifest: SnapshotManifest): PyObject {
  const layouts = new Map<string, PyValue>();
  for (const dir of Object.keys(manifest.layouts).sort(compareCodePoints)) {
    const c = manifest.layouts[dir]!;
    layouts.set(
      dir,
      new Map<string, PyValue>([
        ['projects', c.projects],
        ['releases', c.releases],
        ['files', c.files],
      ]),
    );
  }
  const files = new Map<string, PyValue>();
  for (const path of Object.keys(manifest.files).sort(compareCodePoints))
    files.set(path, manifest.files[path]!);
  return new Map<string, PyValue>([
    ['format', manifest.format],
    ['format_version', manifest.formatVersion],
    ['id', manifest.id],
    ['changelog_serial', manifest.serial],
    ['unix_timestamp', manifest.unixTimestamp],
    ['layouts', layouts],
    ['files', files],
  ]);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function sha256File(path: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    // Streamed: a tarball of the full index is far larger than one bucket.
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hash.digest('hex');
}

function checkMeta(meta: SnapshotMeta): void {
  for (const [field, value] of Object.entries(meta)) {
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw new CrawlError(
        'snapshot-failed',
        `snapshot meta ${field} must be a non-negative integer, got ${value}`,
      );
    }
  }
}

/**
 * Writes a snapshot of `source` into `outDir`:
 * `outDir/<id>/` (the tree), `outDir/<id>.tar.gz` (+ `.sha256`), `outDir/latest` → `<id>` and
 * `outDir/latest.json`. Everything is built in `outDir/.tmp-<pid>-<random>/` and renamed into
 * place only when complete; `latest` moves last.
 */
export async function publishSnapshot(options: PublishOptions): Promise<PublishResult> {
  const { outDir, source, signal } = options;
  const log = (options.logger ?? silentLogger).child({ outDir });
  try {
    signal?.throwIfAborted();
    await mkdir(outDir, { recursive: true });
    const removed = await removeStaleTemps(outDir);
    if (removed.length > 0) log.info({ removed }, 'removed temporary files of an earlier run');
    const finished = await finishLatestSwitch(outDir);
    if (finished !== undefined)
      log.warn({ latest: finished }, 'finished the switch of latest an earlier run began');

    const meta = await source.meta();
    checkMeta(meta);
    const tmp = await makeTempDir(outDir);
    try {
      return await build(tmp.path, meta);
    } finally {
      await tmp.release();
    }
  } catch (err) {
    if (signal?.aborted && !(err instanceof CrawlError && err.code !== 'aborted')) {
      throw new CrawlError('aborted', 'snapshot aborted; the previous snapshot is unchanged', { cause: err });
    }
    throw toCrawlError(err, 'snapshot-failed');
  }

  async function build(tmpDir: string, meta: SnapshotMeta): Promise<PublishResult> {
    const tree = join(tmpDir, 'tree');
    await mkdir(tree);
    const files = new Map<string, string>();
    const counts: Record<string, LayoutCounts> = {};

    for (const layout of LAYOUTS) {
      if (!layout.has(source)) continue;
      await mkdir(join(tree, layout.dir));
      const total: LayoutCounts = { projects: 0, releases: 0, files: 0 };
      // All 256 files are written, an empty bucket as `{}`: the fetcher's `allNames` opens
      // every one (docs/formats.md §A3). One bucket is in memory at a time.
      for (const bucket of ALL_BUCKETS) {
        signal?.throwIfAborted();
        const { value, counts: c } = await layout.bucket(source, bucket);
        const path = `${layout.dir}/${bucket}.json`;
        files.set(path, await writeHashed(join(tree, path), dumpPythonChunks(value)));
        total.projects += c.projects;
        total.releases += c.releases;
        total.files += c.files;
      }
      counts[layout.dir] = total;
      log.info({ layout: layout.dir, ...total }, 'layout written');
    }

    // docs/formats.md §A4/§B4: decimal seconds and a newline, as `echo $(date +%s)` writes it.
    files.set('UNIX_TIMESTAMP', await writeHashed(join(tree, 'UNIX_TIMESTAMP'), [`${meta.unixTimestamp}\n`]));

    const id = snapshotId(meta.serial, files);
    const manifest: SnapshotManifest = {
      format: MANIFEST_FORMAT,
      formatVersion: FORMAT_VERSION,
      id,
      serial: meta.serial,
      unixTimestamp: meta.unixTimestamp,
      layouts: counts,
      files: Object.fromEntries([...files].sort(([a], [b]) => compareCodePoints(a, b))),
    };
    const manifestText = dumpPython(manifestValue(manifest));
    const manifestSha256 = await writeHashed(join(tree, 'manifest.json'), [manifestText]);

    const dir = join(outDir, id);
    const tarball = join(outDir, `${id}.tar.gz`);
    const sumFile = `${tarball}.sha256`;
    const sameSnapshotThere = async () => {
      const existing = await readIfExists(join(dir, 'manifest.json'));
      if (existing === undefined && !(await stat(dir).catch(() => undefined))) return false;
      if (existing === manifestText) return true;
      throw new CrawlError('snapshot-failed', `${dir} exists but holds another snapshot`, {
        hint: 'the directory was changed by hand or half-deleted; remove it and publish again',
      });
    };

    let reused = await sameSnapshotThere();
    const root = await readTree(tree);
    const nar = await narSha256OfTree(root);

    // A reused snapshot keeps its tarball when the tarball still matches its .sha256 file.
    let tarballSha256: string | undefined;
    if (reused) {
      const recorded = (await readIfExists(sumFile))?.split(' ')[0];
      const actual = await sha256File(tarball);
      if (recorded !== undefined && recorded === actual) tarballSha256 = actual;
    }
    const tmpTarball = join(tmpDir, `${id}.tar.gz`);
    if (tarballSha256 === undefined) {
      tarballSha256 = (await writeTarGz(root, id, tmpTarball, { mtime: meta.unixTimestamp }, signal)).sha256;
    }

    if (!reused) {
      await syncFiles([...files.keys(), 'manifest.json'].map((path) => join(tree, path)));
      for (const sub of Object.keys(counts)) await syncDir(join(tree, sub));
      await syncDir(tree);
    }

    // The last abort check: what follows is a few renames, always carried to the end.
    signal?.throwIfAborted();
    if (!reused) {
      try {
        await rename(tree, dir);
      } catch (err) {
        // Another run published the same snapshot meanwhile.
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await sameSnapshotThere())) throw err;
        reused = true;
      }
    }
    if (await stat(tmpTarball).catch(() => undefined)) await rename(tmpTarball, tarball);
    await syncDir(outDir);
    await writeFileAtomic(outDir, sumFile, `${tarballSha256}  ${id}.tar.gz\n`);

    const result: PublishResult = {
      id,
      dir,
      tarball,
      tarballSha256,
      narHashBase32: nixBase32(nar),
      narHashSri: sriSha256(nar),
      counts,
      manifest,
      manifestSha256,
      reused,
    };
    // latest.json first: it is what consumers pin (id, hashes, `dir`), and every path it names is
    // complete by now. A crash before `latest` moves leaves each pointer on a complete snapshot
    // (latest.json on the new one, `latest` on the previous), and the next publish finishes the
    // switch (finishLatestSwitch). The other order would leave `latest` on the new tree with the
    // previous snapshot's hashes in latest.json.
    await writeFileAtomic(outDir, join(outDir, 'latest.json'), dumpPython(latestValue(result)));
    await options.beforeLatestSwitch?.();
    await replaceSymlink(outDir, join(outDir, 'latest'), id);
    log.info(
      { id, serial: meta.serial, tarballSha256, narHash: result.narHashSri, reused, counts },
      'snapshot published',
    );
    return result;
  }
}

/**
 * Finishes a switch that a crash interrupted: when `latest.json` names a complete snapshot (its
 * directory's manifest.json and its tarball exist) and `latest` points elsewhere, `latest` is
 * pointed at it. Returns the id it switched to, undefined when there was nothing to finish.
 */
export async function finishLatestSwitch(outDir: string): Promise<string | undefined> {
  const text = await readIfExists(join(outDir, 'latest.json'));
  if (text === undefined) return undefined;
  let id: unknown;
  try {
    id = (JSON.parse(text) as { id?: unknown }).id;
  } catch {
    return undefined; // not ours to repair; the next publish rewrites it
  }
  if (typeof id !== 'string' || !/^\d+-[0-9a-f]{12}$/.test(id)) return undefined;
  const current = await readlink(join(outDir, 'latest')).catch(() => undefined);
  if (current === id) return undefined;
  const complete =
    (await stat(join(outDir, id, 'manifest.json')).catch(() => undefined)) !== undefined &&
    (await stat(join(outDir, `${id}.tar.gz`)).catch(() => undefined)) !== undefined;
  if (!complete) return undefined;
  await replaceSymlink(outDir, join(outDir, 'latest'), id);
  return id;
}

/** `latest.json`: what a consumer needs to pin the current snapshot. */
function latestValue(result: PublishResult): PyObject {
  return new Map<string, PyValue>([
    ['id', result.id],
    ['changelog_serial', result.manifest.serial],
    ['unix_timestamp', result.manifest.unixTimestamp],
    ['dir', result.id],
    ['tarball', `${result.id}.tar.gz`],
    ['tarball_sha256', result.tarballSha256],
    ['nar_hash_base32', result.narHashBase32],
    ['nar_hash_sri', result.narHashSri],
    ['layouts', (manifestValue(result.manifest).get('layouts') ?? new Map()) as PyValue],
  ]);
}
