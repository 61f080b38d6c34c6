/**
 * Publishes one snapshot (docs/architecture.md §7): every layout's 256 bucket files, `UNIX_TIMESTAMP`,
 * `manifest.json`, a deterministic tarball with its sha256 and Nix hash, and the `latest`
 * pointers — atomically, so a crash or an abort leaves the previous snapshot as it was.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, readlink, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  CrawlError,
  configError,
  jobError,
  type Logger,
  silentLogger,
  snapshotError,
  toCrawlError,
} from '@pypi-graph/core';
import type { SdistProject } from '@pypi-graph/model';
import {
  ALL_BUCKETS,
  compareCodePoints,
  dumpPython,
  dumpPythonEntry,
  type PyObject,
  type PyValue,
} from '@pypi-graph/pyspec';
import { BucketWriter } from './bucket-writer';
import { renderingSourceDirs, sourceFingerprint } from './code-fingerprint';
import { makeTempDir, removeStaleTemps, replaceSymlink, syncDir, writeFileAtomic } from './fs-atomic';
import { DeflatePool, GzipAssembler, type Piece, PieceCompressor } from './gzip-pieces';
import { narSha256OfTree, nixBase32, sriSha256 } from './nar';
import { type KeyEntry, type LayoutCounts, type PypiProject, pypiEntries } from './pypi-layout';
import { type PruneResult, pruneSnapshots } from './retention';
import {
  type EntryBlock,
  EntryReader,
  type EntryRecord,
  type FilePieces,
  LineWriter,
  REUSE_DIR,
  readPieces,
  writeEntriesHeader,
  writeEntryBlock,
  writePieces,
} from './reuse';
import { sdistEntries } from './sdist-layout';
import { ustarHeader } from './tarball';
import { readTree, type TreeNode } from './tree';
import { type WheelProject, wheelEntries } from './wheel-layout';

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
  /**
   * Projects whose `machNixName` falls in `bucket`, in any order; releases and files in PyPI
   * order. With `keys`, only the projects with one of these `machNixName`s.
   */
  pypiProjects(bucket: string, keys?: readonly string[]): AsyncIterable<PypiProject>;
  /**
   * `wheel/` (FORMATS.md §B2): projects whose `machNixName` falls in `bucket` (and is one of
   * `keys`, when given), in any order, each with the wheels whose metadata was extracted, in PyPI
   * release order. Projects without such a wheel may be left out.
   */
  wheelProjects?(bucket: string, keys?: readonly string[]): AsyncIterable<WheelProject>;
  /**
   * `sdist/` and `sdist-errors/` (docs/formats.md §B1, §B3), both from this one method, called once
   * per slice of a bucket (both layouts render from one read): projects whose `machNixName` falls
   * in `bucket` (and is one of `keys`, when given), in any order, each with its crawled releases
   * (PyPI release order) and their results per Python key. Projects without a result may be left
   * out.
   */
  sdistProjects?(bucket: string, keys?: readonly string[]): AsyncIterable<SdistProject>;
  /**
   * Incremental snapshots: the `machNixName` of every project of `bucket` with a token (no
   * whitespace) that changes whenever anything any layout writes for that key may have changed.
   * With it, a snapshot reuses the previous one's entry of every key whose token is unchanged and
   * asks the methods above for the other keys only. Without it, every snapshot renders all.
   */
  bucketTokens?(bucket: string): Promise<ReadonlyMap<string, string>>;
  /**
   * Identifies the code that turns stored data into projects (the caller's side of rendering):
   * entries are reused only from a snapshot written with the same version and the same snapshot
   * code.
   */
  readonly version?: string;
}

export type PublishProgress = { phase: 'buckets'; bucket: string; index: number } | { phase: 'tarball' };

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
  /** Render every entry even when the previous snapshot's could be reused. */
  full?: boolean;
  /** Keys per slice of a bucket (default {@link SLICE_KEYS}); tests set it small. */
  sliceKeys?: number;
  /** Told when a bucket is started (`index` 0–255) and when the tarball is: only a display. */
  onProgress?: (progress: PublishProgress) => void;
  /**
   * Keep this many snapshots, the new one included, and remove older ones (never the one
   * `latest` points to). Unset: remove nothing.
   */
  keep?: number;
}

/** What a publish did, for logs and benchmarks. */
export interface PublishStats {
  /** The snapshot whose entries and compressed pieces were reused, if any. */
  previous: string | null;
  /** Keys whose entries were rendered from the source / copied from the previous snapshot. */
  keysRendered: number;
  keysReused: number;
  /** Uncompressed bytes compressed by this run / whose compressed bytes were copied. */
  bytesCompressed: number;
  bytesReused: number;
  /**
   * Of `bytesReused`, the bytes of pieces copied whole from where the previous file had them,
   * taken without hashing; the rest was recognised by the sha256 of its bytes.
   */
  bytesReusedInPlace: number;
  /** Snapshots removed by `keep`. */
  pruned: string[];
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
  stats: PublishStats;
}

export const MANIFEST_FORMAT = 'pypi-graph-snapshot';
/** Bumped when the tree's layout or any writing rule changes; it feeds the snapshot id. */
export const FORMAT_VERSION = 1;

type DataKind = 'pypi' | 'wheel' | 'sdist';
type ProjectsOf = { pypi: PypiProject[]; wheel: WheelProject[]; sdist: SdistProject[] };

interface Layout {
  dir: string;
  /** Which source method feeds it: `sdist/` and `sdist-errors/` share one read. */
  data: DataKind;
  entries(projects: ProjectsOf[DataKind], bucket: string): Promise<Map<string, KeyEntry>>;
}

/**
 * The layouts, in the order they are written. docs/formats.md §A2 (pypi/), §B2 (wheel/), §B1 (sdist/),
 * §B3 (sdist-errors/).
 */
const LAYOUTS: readonly Layout[] = [
  { dir: 'pypi', data: 'pypi', entries: (p, b) => pypiEntries(p as PypiProject[], b) },
  { dir: 'wheel', data: 'wheel', entries: (p, b) => wheelEntries(p as WheelProject[], b) },
  { dir: 'sdist', data: 'sdist', entries: (p, b) => sdistEntries(p as SdistProject[], 'sdist', b) },
  {
    dir: 'sdist-errors',
    data: 'sdist',
    entries: (p, b) => sdistEntries(p as SdistProject[], 'sdist-errors', b),
  },
];

function fetcher(
  source: SnapshotSource,
  kind: DataKind,
): ((bucket: string, keys?: readonly string[]) => AsyncIterable<unknown>) | undefined {
  if (kind === 'pypi') return (b, k) => source.pypiProjects(b, k);
  if (kind === 'wheel') return source.wheelProjects?.bind(source);
  return source.sdistProjects?.bind(source);
}

const TOKEN = /^\S+$/;

let codeFingerprint: Promise<string> | undefined;
/**
 * sha256 of the code that renders (code-fingerprint.ts): entries rendered by other code, this
 * package's or a package it renders with, are never reused.
 */
function snapshotCodeFingerprint(): Promise<string> {
  codeFingerprint ??= sourceFingerprint(renderingSourceDirs(), `${MANIFEST_FORMAT} ${FORMAT_VERSION}\n`);
  return codeFingerprint;
}

/** The latest snapshot of `outDir`, when its tree, reuse data and (for pieces) tarball are sound. */
interface Previous {
  id: string;
  dir: string;
  entries: EntryReader | undefined;
  pieces: Map<string, FilePieces> | undefined;
  tarball: FileHandle | undefined;
  close(): Promise<void>;
}

async function openPrevious(outDir: string, fingerprint: string, log: Logger): Promise<Previous | undefined> {
  const id = await readlink(join(outDir, 'latest')).catch(() => undefined);
  if (id === undefined || id.includes('/')) return undefined;
  const order = (layout: string, bucket: string) =>
    ALL_BUCKETS.indexOf(bucket) * LAYOUTS.length + LAYOUTS.findIndex((l) => l.dir === layout);
  const entries = await EntryReader.open(join(outDir, REUSE_DIR, `${id}.entries`), fingerprint, order);
  let pieces = await readPieces(join(outDir, REUSE_DIR, `${id}.pieces`), fingerprint);
  let tarball: FileHandle | undefined;
  if (pieces) {
    // Compressed bytes are copied only from a tarball that still is what its .sha256 says.
    const recorded = (await readIfExists(join(outDir, `${id}.tar.gz.sha256`)))?.split(' ')[0];
    const actual = await sha256File(join(outDir, `${id}.tar.gz`));
    if (recorded !== undefined && recorded === actual)
      tarball = await open(join(outDir, `${id}.tar.gz`), 'r');
    else pieces = undefined;
  }
  if (!entries && !pieces) return undefined;
  log.info(
    { previous: id, entries: entries !== undefined, pieces: pieces !== undefined },
    'reusing the previous snapshot',
  );
  return {
    id,
    dir: join(outDir, id),
    entries,
    pieces,
    tarball,
    async close() {
      entries?.close();
      await tarball?.close();
    },
  };
}

/**
 * One layout's previous bucket file, checked against the size and CRC-32 its reuse data
 * recorded: a file damaged or edited since is not copied from (its keys are rendered again).
 * CRC-32 rather than the recorded sha256: it runs at several GB/s where sha256 ran at one, and
 * this check is against accidents; whoever can write the snapshot directory can write the reuse
 * data too.
 */
interface PreviousFile {
  block: EntryBlock;
  bytes: Buffer;
  byKey: Map<string, EntryRecord>;
}

async function previousFile(
  previous: Previous | undefined,
  layout: string,
  bucket: string,
  block: EntryBlock | undefined,
) {
  if (!block || !previous) return undefined;
  const bytes = await readFile(join(previous.dir, layout, `${bucket}.json`)).catch(() => undefined);
  if (!bytes || bytes.length !== block.size) return undefined;
  if (crc32(bytes) !== block.crc32) return undefined;
  return { block, bytes, byKey: new Map(block.entries.map((e) => [e.key, e])) } satisfies PreviousFile;
}

/** One bucket: its tokens and sorted keys (none without tokens), previous files, changed keys. */
interface BucketState {
  bucket: string;
  tokens: ReadonlyMap<string, string> | undefined;
  keys: string[] | undefined;
  previous: Map<string, PreviousFile>;
  /** Per data kind: the keys to read from the source, or `all`. */
  changed: Map<DataKind, Set<string> | 'all'>;
}

/** A run of consecutive keys of one bucket, with the source's projects of those it renders. */
interface SliceInput {
  state: BucketState;
  /** The slice's keys in order; undefined: the whole bucket, whatever keys the source gave. */
  keys: string[] | undefined;
  first: boolean;
  last: boolean;
  projects: ProjectsOf;
}

/**
 * Keys rendered per slice: a bucket is read and rendered this many keys at a time. At PyPI's
 * size a bucket has about 2,900 keys; 500 is a whole bucket of a 1.7-million-file index.
 */
export const SLICE_KEYS = 500;

/** Iterates `items` with the next item's work started while the caller handles the current one. */
async function* aheadByOne<T>(items: AsyncIterator<T>): AsyncGenerator<T> {
  let next = items.next();
  for (;;) {
    const item = await next;
    if (item.done) return;
    next = items.next();
    next.catch(() => {});
    yield item.value;
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

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
 * fsyncs each bucket file in the background as soon as it is complete, at most `concurrency` at
 * a time, so that the disk writes the tree while the next buckets are rendered instead of all of
 * it at the end (4–5 GB at PyPI's size). {@link done} waits for every file given.
 */
class BackgroundSync {
  private readonly waiting: string[] = [];
  private running = 0;
  private readonly finished: Promise<void>[] = [];
  private failure: unknown;

  constructor(private readonly concurrency = 4) {}

  add(path: string): void {
    this.waiting.push(path);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const path = this.waiting.shift()!;
      this.running++;
      const job = syncFiles([path], 1)
        .catch((err) => {
          this.failure ??= err;
        })
        .finally(() => {
          this.running--;
          this.pump();
        });
      this.finished.push(job);
    }
  }

  async done(): Promise<void> {
    while (this.finished.length > 0 || this.waiting.length > 0) {
      await Promise.all(this.finished.splice(0));
    }
    if (this.failure) throw this.failure;
  }
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
      throw snapshotError(
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
 *
 * When `latest` has reuse data from the same code (`outDir/.reuse/`) and the source gives
 * tokens, every key whose token did not change is copied from the previous snapshot's bucket
 * file and only the others are read and rendered; compressed pieces of the previous tarball
 * whose bytes recur are copied too. The result is byte for byte what a full render gives.
 */
export async function publishSnapshot(options: PublishOptions): Promise<PublishResult> {
  const { outDir, source, signal } = options;
  const log = (options.logger ?? silentLogger).child({ outDir });
  const sliceKeys = options.sliceKeys ?? SLICE_KEYS;
  if (!Number.isInteger(sliceKeys) || sliceKeys < 1) {
    throw configError('config-invalid', `sliceKeys must be a positive integer, got ${sliceKeys}`);
  }
  if (options.keep !== undefined && (!Number.isInteger(options.keep) || options.keep < 1)) {
    throw configError('config-invalid', `keep must be a positive integer, got ${options.keep}`);
  }
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
    const fingerprint = createHash('sha256')
      .update(`${await snapshotCodeFingerprint()}\n${source.version ?? ''}`)
      .digest('hex');
    const previous = options.full ? undefined : await openPrevious(outDir, fingerprint, log);
    const tmp = await makeTempDir(outDir);
    const pool = new DeflatePool();
    try {
      return await build(tmp.path, meta, fingerprint, previous, pool);
    } finally {
      await pool.close();
      await previous?.close();
      await tmp.release();
    }
  } catch (err) {
    if (signal?.aborted && !(err instanceof CrawlError && err.code !== 'aborted')) {
      throw jobError('aborted', 'snapshot aborted; the previous snapshot is unchanged', { cause: err });
    }
    throw toCrawlError(err, 'snapshot-failed');
  }

  async function build(
    tmpDir: string,
    meta: SnapshotMeta,
    fingerprint: string,
    previous: Previous | undefined,
    pool: DeflatePool,
  ): Promise<PublishResult> {
    const tree = join(tmpDir, 'tree');
    await mkdir(tree);
    const layouts = LAYOUTS.filter((l) => fetcher(source, l.data) !== undefined);
    for (const layout of layouts) await mkdir(join(tree, layout.dir));
    const files = new Map<string, string>();
    const counts: Record<string, LayoutCounts> = Object.fromEntries(
      layouts.map((l) => [l.dir, { projects: 0, releases: 0, files: 0 }]),
    );
    const stats: PublishStats = {
      previous: previous?.id ?? null,
      keysRendered: 0,
      keysReused: 0,
      bytesCompressed: 0,
      bytesReused: 0,
      bytesReusedInPlace: 0,
      pruned: [],
    };
    const syncing = new BackgroundSync();
    const spool = await open(join(tmpDir, 'pieces'), 'w+');
    const compressor = new PieceCompressor(spool, pool);
    const filePieces = new Map<string, Promise<Piece>[]>();
    await mkdir(join(tmpDir, REUSE_DIR));
    const entriesOut = await LineWriter.create(join(tmpDir, REUSE_DIR, 'entries'));
    await writeEntriesHeader(entriesOut, fingerprint);

    /** A bucket's state: its keys and tokens, the previous files, what changed per data kind. */
    const openBucket = async (bucket: string): Promise<BucketState> => {
      // The database's tokens, the previous files' records (one reader, in order) and their
      // bytes are fetched at the same time: one after the other they were most of an
      // incremental snapshot's time at PyPI's size, the main thread idle meanwhile.
      const tokensRead = source.bucketTokens?.(bucket);
      tokensRead?.catch(() => {});
      const blocks: Array<EntryBlock | undefined> = [];
      for (const layout of layouts) blocks.push(await previous?.entries?.take(layout.dir, bucket));
      const files = await Promise.all(
        layouts.map((layout, i) => previousFile(previous, layout.dir, bucket, blocks[i])),
      );
      const tokens = await tokensRead;
      const prev = new Map<string, PreviousFile>();
      for (const [i, layout] of layouts.entries()) if (files[i]) prev.set(layout.dir, files[i]);
      const changed = new Map<DataKind, Set<string> | 'all'>();
      for (const kind of ['pypi', 'wheel', 'sdist'] as const) {
        if (!fetcher(source, kind)) continue;
        const users = layouts.filter((l) => l.data === kind).map((l) => prev.get(l.dir));
        let keys: Set<string> | 'all' = 'all';
        if (tokens && users.every((u) => u !== undefined)) {
          keys = new Set();
          for (const [key, token] of tokens) {
            if (!TOKEN.test(token) || users.some((u) => u!.byKey.get(key)?.token !== token)) keys.add(key);
          }
          if (keys.size === tokens.size) keys = 'all';
        }
        changed.set(kind, keys);
      }
      const keys = tokens ? [...tokens.keys()].sort(compareCodePoints) : undefined;
      return { bucket, tokens, keys, previous: prev, changed };
    };

    /**
     * A bucket's slices in key order, each with the source's projects of the keys it renders
     * (the database part). With tokens a slice renders at most SLICE_KEYS keys (the others it
     * copies from the previous file, already in memory), so memory does not grow with the
     * bucket; without them the bucket is one slice read whole.
     */
    async function* slices(): AsyncGenerator<SliceInput> {
      for (const [index, bucket] of ALL_BUCKETS.entries()) {
        signal?.throwIfAborted(); // read nothing more once aborted: this runs a slice ahead
        options.onProgress?.({ phase: 'buckets', bucket, index });
        const state = await openBucket(bucket);
        if (state.keys === undefined) {
          const projects: ProjectsOf = { pypi: [], wheel: [], sdist: [] };
          for (const kind of state.changed.keys()) {
            projects[kind] = (await collect(fetcher(source, kind)!(bucket))) as never;
          }
          yield { state, keys: undefined, first: true, last: true, projects };
          continue;
        }
        // Cut where a slice holds sliceKeys keys to render: a full snapshot reads 500 keys at a
        // time, an incremental one usually reads a bucket's few changed keys in one go.
        const kinds = [...state.changed.values()];
        const renders = (k: string) => kinds.some((c) => c === 'all' || c.has(k));
        const ranges: string[][] = [];
        let current: string[] = [];
        let toRender = 0;
        for (const key of state.keys) {
          current.push(key);
          if (renders(key) && ++toRender === sliceKeys) {
            ranges.push(current);
            current = [];
            toRender = 0;
          }
        }
        if (current.length > 0 || ranges.length === 0) ranges.push(current);
        const count = ranges.length;
        for (let i = 0; i < count; i++) {
          if (i > 0) signal?.throwIfAborted();
          const keys = ranges[i]!;
          const projects: ProjectsOf = { pypi: [], wheel: [], sdist: [] };
          // The data kinds' reads at once (each its own statement; PGlite runs them in turn).
          await Promise.all(
            [...state.changed].map(async ([kind, changed]) => {
              const wanted = changed === 'all' ? keys : keys.filter((k) => changed.has(k));
              if (wanted.length > 0)
                projects[kind] = (await collect(fetcher(source, kind)!(bucket, wanted))) as never;
            }),
          );
          yield { state, keys, first: i === 0, last: i === count - 1, projects };
        }
      }
    }

    /** One bucket's open files, one per layout, filled slice by slice. */
    let open_: Map<string, { writer: BucketWriter; records: EntryRecord[] }> | undefined;

    /** Render a slice's changed keys, copy the others, append them to the bucket's files. */
    const write = async (slice: SliceInput) => {
      const { bucket, tokens } = slice.state;
      if (slice.first) {
        open_ = new Map();
        for (const layout of layouts) {
          const path = `${layout.dir}/${bucket}.json`;
          const pieces = previous?.pieces?.get(path);
          const prevFile = slice.state.previous.get(layout.dir);
          const writer = await BucketWriter.create(
            join(tree, path),
            compressor,
            pieces?.bySha256,
            prevFile ? { bytes: prevFile.bytes, byOffset: pieces?.byOffset ?? new Map() } : undefined,
          );
          open_.set(layout.dir, { writer, records: [] });
        }
      }
      for (const layout of layouts) {
        const { writer, records } = open_!.get(layout.dir)!;
        const rendered = await layout.entries(slice.projects[layout.data], bucket);
        const changed = slice.state.changed.get(layout.data)!;
        const prev = slice.state.previous.get(layout.dir);
        const keys = slice.keys ?? [...rendered.keys()].sort(compareCodePoints);
        const total = counts[layout.dir]!;
        for (const key of keys) {
          const token = tokens?.get(key);
          const old = changed === 'all' || changed.has(key) ? undefined : prev?.byKey.get(key);
          if (old && old.token === token) {
            // The previous entry as it was: its bytes copied, its record (a valid token, as
            // every recorded one) kept for the next snapshot.
            stats.keysReused++;
            if (old.length > 0) {
              const copying = writer.copied(key, old.offset, old.length);
              if (copying) await copying;
              total.projects += 1;
              total.releases += old.releases;
              total.files += old.files;
            }
            records.push(old);
            continue;
          }
          stats.keysRendered++;
          const e = rendered.get(key);
          let length = 0;
          if (e) {
            const text = Buffer.from(dumpPythonEntry(key, e.value), 'utf8');
            length = text.length;
            const writing = writer.entry(key, text);
            if (writing) await writing;
            total.projects += 1;
            total.releases += e.releases;
            total.files += e.files;
          }
          if (token !== undefined && TOKEN.test(token)) {
            records.push({
              key,
              token,
              offset: 0,
              length,
              releases: e?.releases ?? 0,
              files: e?.files ?? 0,
            });
          }
        }
      }
      if (!slice.last) return;
      for (const layout of layouts) {
        const { writer, records } = open_!.get(layout.dir)!;
        const path = `${layout.dir}/${bucket}.json`;
        const done = await writer.finish();
        syncing.add(join(tree, path));
        files.set(path, done.sha256);
        filePieces.set(path, done.pieces);
        if (tokens) {
          await writeEntryBlock(entriesOut, {
            layout: layout.dir,
            bucket,
            sha256: done.sha256,
            size: done.size,
            crc32: done.crc32,
            entries: records,
          });
        }
      }
      open_ = undefined;
    };

    // The database reads the next slice while this process renders the current one.
    try {
      for await (const slice of aheadByOne(slices())) {
        signal?.throwIfAborted();
        await write(slice);
      }
    } catch (err) {
      for (const { writer } of open_?.values() ?? []) await writer.abandon();
      throw err;
    }
    options.onProgress?.({ phase: 'tarball' });
    await entriesOut.close();
    for (const layout of layouts) log.info({ layout: layout.dir, ...counts[layout.dir] }, 'layout written');

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
      throw snapshotError('snapshot-failed', `${dir} exists but holds another snapshot`, {
        hint: 'the directory was changed by hand or half-deleted; remove it and publish again',
      });
    };

    let reused = await sameSnapshotThere();
    const root = await readTree(tree);
    // In a worker thread, while this one assembles the tarball.
    const narHash = narSha256OfTree(root, signal);
    narHash.catch(() => {});
    await compressor.drain();
    stats.bytesCompressed = compressor.compressedBytes;
    stats.bytesReused = compressor.reusedBytes;
    stats.bytesReusedInPlace = compressor.reusedInPlaceBytes;

    // A reused snapshot keeps its tarball when the tarball still matches its .sha256 file.
    let tarballSha256: string | undefined;
    if (reused) {
      const recorded = (await readIfExists(sumFile))?.split(' ')[0];
      const actual = await sha256File(tarball);
      if (recorded !== undefined && recorded === actual) tarballSha256 = actual;
    }
    const tmpTarball = join(tmpDir, `${id}.tar.gz`);
    let tarPieces: Map<string, Piece[]> | undefined;
    if (tarballSha256 === undefined) {
      const pieces = new Map<string, Piece[]>();
      for (const [path, list] of filePieces) pieces.set(path, await Promise.all(list));
      const written = await writePiecedTarGz(root, id, tmpTarball, meta.unixTimestamp, pieces, {
        spool,
        previous: previous?.tarball,
        signal,
      });
      tarballSha256 = written.sha256;
      tarPieces = written.pieces;
    }
    await spool.close();
    const nar = await narHash;
    if (tarPieces) {
      await writePieces(join(tmpDir, REUSE_DIR, 'pieces'), fingerprint, tarPieces);
    }

    if (!reused) {
      await syncing.done();
      await syncFiles(['UNIX_TIMESTAMP', 'manifest.json'].map((path) => join(tree, path)));
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
    // Reuse data goes in place with the tarball its pieces point into, before `latest` moves.
    await mkdir(join(outDir, REUSE_DIR), { recursive: true });
    if (source.bucketTokens)
      await rename(join(tmpDir, REUSE_DIR, 'entries'), join(outDir, REUSE_DIR, `${id}.entries`));
    if (tarPieces) await rename(join(tmpDir, REUSE_DIR, 'pieces'), join(outDir, REUSE_DIR, `${id}.pieces`));
    await syncDir(join(outDir, REUSE_DIR));

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
      stats,
    };
    // latest.json first: it is what consumers pin (id, hashes, `dir`), and every path it names is
    // complete by now. A crash before `latest` moves leaves each pointer on a complete snapshot
    // (latest.json on the new one, `latest` on the previous), and the next publish finishes the
    // switch (finishLatestSwitch). The other order would leave `latest` on the new tree with the
    // previous snapshot's hashes in latest.json.
    await writeFileAtomic(outDir, join(outDir, 'latest.json'), dumpPython(latestValue(result)));
    await options.beforeLatestSwitch?.();
    await replaceSymlink(outDir, join(outDir, 'latest'), id);
    if (options.keep !== undefined) {
      const pruned: PruneResult = await pruneSnapshots(outDir, options.keep);
      stats.pruned = pruned.removed;
    }
    log.info(
      { id, serial: meta.serial, tarballSha256, narHash: result.narHashSri, reused, counts, stats },
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

/** Uncompressed tar bytes as pieces: headers, padding and files without pieces are compressed here. */
async function writePiecedTarGz(
  root: TreeNode & { type: 'directory' },
  topDir: string,
  file: string,
  mtime: number,
  pieces: ReadonlyMap<string, Piece[]>,
  sources: { spool: FileHandle; previous: FileHandle | undefined; signal: AbortSignal | undefined },
): Promise<{ sha256: string; pieces: Map<string, Piece[]> }> {
  const out = await open(file, 'wx', 0o644);
  const placed = new Map<string, Piece[]>();
  try {
    const asm = new GzipAssembler(out, { spool: sources.spool, previous: sources.previous });
    await asm.start();
    let written = 0;
    const walk = async (node: TreeNode, path: string, rel: string): Promise<void> => {
      sources.signal?.throwIfAborted();
      if (node.type === 'directory') {
        await asm.raw(ustarHeader(`${path}/`, 'directory', 0, 0o755, mtime));
        written += 512;
        for (const child of node.children) {
          await walk(child, `${path}/${child.name}`, rel === '' ? child.name : `${rel}/${child.name}`);
        }
        return;
      }
      await asm.raw(ustarHeader(path, 'file', node.size, node.executable ? 0o755 : 0o644, mtime));
      const own = pieces.get(rel);
      const list: Piece[] = [];
      if (own) {
        for (const p of own) list.push(await asm.piece(p));
      } else {
        const data = await readFile(node.absPath);
        for (let off = 0; off < data.length; off += 1 << 20) {
          list.push(await asm.raw(data.subarray(off, Math.min(data.length, off + (1 << 20)))));
        }
      }
      const length = list.reduce((n, p) => n + p.length, 0);
      if (length !== node.size) {
        throw snapshotError(
          'snapshot-failed',
          `the pieces of ${rel} hold ${length} bytes, the file ${node.size}`,
        );
      }
      placed.set(rel, list);
      const pad = (512 - (node.size % 512)) % 512;
      if (pad > 0) await asm.raw(Buffer.alloc(pad));
      written += 512 + node.size + pad;
    };
    await walk(root, topDir, '');
    // End of archive: two zero blocks, then zeros up to a whole record of 20 blocks.
    const end = 1024;
    await asm.raw(Buffer.alloc(end + ((10240 - ((written + end) % 10240)) % 10240)));
    const { sha256 } = await asm.finish();
    return { sha256, pieces: placed };
  } finally {
    await out.close();
  }
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
