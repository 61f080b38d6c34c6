import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import {
  archiveError,
  type CrawlError,
  crawlError,
  isCrawlError,
  jobError,
  localFault,
} from '@pypi-graph/core';
import tar from 'tar-stream';
import unbzip2 from 'unbzip2-stream';
import { openFileRandomAccess } from '../random-access';
import { openZip } from '../zip/zip-archive';
import { checkLinksResolveInside, checkLinkTarget, normalizeEntryName, RootTracker } from './entry-names';
import {
  DEFAULT_SDIST_LIMITS,
  type ScanSdistOptions,
  type SdistFormat,
  type SdistLimits,
  type SdistScan,
} from './types';

/** The format a file name announces (sdists: `.tar.gz`, `.tgz`, `.tar.bz2`, `.tbz2`, `.tar.xz`, `.tar`, `.zip`). */
export function sdistFormatOf(filename: string): SdistFormat | null {
  const f = filename.toLowerCase();
  if (f.endsWith('.tar.gz') || f.endsWith('.tgz')) return 'tar.gz';
  if (f.endsWith('.tar.bz2') || f.endsWith('.tbz2') || f.endsWith('.tbz')) return 'tar.bz2';
  if (f.endsWith('.tar.xz') || f.endsWith('.txz')) return 'tar.xz';
  if (f.endsWith('.tar')) return 'tar';
  if (f.endsWith('.zip')) return 'zip';
  return null;
}

const MAGIC: Partial<Record<SdistFormat, Buffer>> = {
  'tar.gz': Buffer.from([0x1f, 0x8b]),
  'tar.bz2': Buffer.from('BZh', 'latin1'),
  'tar.xz': Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  zip: Buffer.from('PK', 'latin1'),
};

async function checkMagic(path: string, format: SdistFormat): Promise<void> {
  const magic = MAGIC[format];
  if (magic === undefined) return;
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(magic.length);
    const { bytesRead } = await fh.read(head, 0, magic.length, 0);
    if (bytesRead < magic.length || !head.equals(magic)) {
      throw archiveError('archive-corrupt', `file does not start like a ${format} archive`);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Reads an sdist without extracting it: every entry's name, type and size is checked against the
 * caps (types.ts) and the path rules (entry-names.ts), and the regular files `want` picks are kept
 * in memory. The whole archive is always read, so an archive that passes is safe to hand to the
 * sandbox — hostile ones are rejected before anything runs.
 */
export async function scanSdist(path: string, options: ScanSdistOptions): Promise<SdistScan> {
  const limits: SdistLimits = { ...DEFAULT_SDIST_LIMITS, ...options.limits };
  const format = options.format ?? sdistFormatOf(path);
  if (format === null) throw archiveError('archive-unsupported', `not an sdist file name: ${path}`);
  if (format === 'tar.xz') {
    // No pure-JS xz decoder is in the workspace (see packages/archive/readme.md).
    throw archiveError('archive-unsupported', '.tar.xz sdists are not read yet', {
      hint: 'the setup.py sandbox can still unpack them with Python',
    });
  }
  await checkMagic(path, format);
  if (format === 'zip') return scanZipSdist(path, options, limits);
  return scanTarSdist(path, format, options, limits);
}

class Meter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes: (total: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      this.onBytes(this.bytes);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }
}

interface Collector {
  entries: Map<string, Buffer>;
  files: Set<string>;
  roots: RootTracker;
  count: number;
}

function countEntry(c: Collector, limits: SdistLimits): void {
  if (++c.count > limits.maxEntries) {
    throw archiveError('archive-too-many-entries', `more than ${limits.maxEntries} entries`);
  }
}

function checkNameLength(raw: string, limits: SdistLimits): void {
  if (Buffer.byteLength(raw) > limits.maxNameBytes) {
    throw archiveError('archive-unsupported', `entry name longer than ${limits.maxNameBytes} bytes`);
  }
}

async function scanTarSdist(
  path: string,
  format: Exclude<SdistFormat, 'zip' | 'tar.xz'>,
  options: ScanSdistOptions,
  limits: SdistLimits,
): Promise<SdistScan> {
  const c: Collector = { entries: new Map(), files: new Set(), roots: new RootTracker(), count: 0 };
  const symlinks = new Map<string, string>();
  const hardlinks = new Map<string, string>();
  let failure: CrawlError | undefined;
  const fail = (err: CrawlError): never => {
    failure ??= err;
    throw err;
  };

  const compressed = new Meter(() => {});
  const uncompressed = new Meter((total) => {
    if (total > limits.maxTotalBytes) {
      fail(archiveError('archive-too-large', `more than ${limits.maxTotalBytes} bytes uncompressed`));
    }
    if (
      format !== 'tar' &&
      total > limits.ratioExemptBytes &&
      total > compressed.bytes * limits.maxCompressionRatio
    ) {
      fail(
        archiveError('archive-bomb', `expands more than ${limits.maxCompressionRatio}:1`, {
          details: { compressed: compressed.bytes, uncompressed: total },
        }),
      );
    }
  });
  const source = createReadStream(path, { highWaterMark: 64 * 1024 });
  const decompress: Transform | null =
    format === 'tar.gz'
      ? zlib.createGunzip()
      : format === 'tar.bz2'
        ? (unbzip2() as unknown as Transform)
        : null;
  const extract = tar.extract();

  const stages: NodeJS.ReadWriteStream[] = [compressed];
  if (decompress) stages.push(decompress);
  stages.push(uncompressed, extract as unknown as NodeJS.ReadWriteStream);
  const piping = pipeline([source, ...stages], { signal: options.signal }).catch((err: unknown) => {
    // A full or failing disk is not a corrupt archive (localFault: disk-full, io-error).
    failure ??= isCrawlError(err)
      ? err
      : (localFault(err) ??
        archiveError('archive-corrupt', `cannot read ${format}: ${String(err)}`, { cause: err }));
    extract.destroy(failure);
  });

  try {
    for await (const entry of extract) {
      options.signal?.throwIfAborted();
      const h = entry.header;
      countEntry(c, limits);
      checkNameLength(h.name, limits);
      const name = normalizeEntryName(h.name);
      const size = h.size ?? 0;
      if (size > limits.maxEntryBytes) {
        fail(archiveError('archive-too-large', `entry ${JSON.stringify(name)} has ${size} bytes`));
      }
      c.roots.add(name);
      switch (h.type) {
        case 'file':
        case 'contiguous-file': {
          if (name === '') fail(archiveError('archive-corrupt', 'a file entry without a name'));
          c.files.add(name);
          c.roots.addFileAtTop(name);
          if (options.want(name)) {
            if (c.entries.has(name)) {
              fail(archiveError('archive-duplicate-entry', `two entries named ${JSON.stringify(name)}`));
            }
            if (size > limits.maxWantedBytes) {
              fail(
                crawlError(options.wantedTooLargeCode ?? 'archive-too-large', `${name} has ${size} bytes`, {
                  details: { name, size, max: limits.maxWantedBytes },
                }),
              );
            }
            const chunks: Buffer[] = [];
            for await (const chunk of entry) chunks.push(chunk as Buffer);
            c.entries.set(name, Buffer.concat(chunks));
            continue;
          }
          break;
        }
        case 'directory':
          break;
        case 'symlink': {
          const target = h.linkname ?? '';
          checkNameLength(target, limits);
          checkLinkTarget(name, target, 'symlink');
          symlinks.set(name, target);
          break;
        }
        case 'link': {
          const target = h.linkname ?? '';
          checkNameLength(target, limits);
          checkLinkTarget(name, target, 'hardlink');
          hardlinks.set(name, normalizeEntryName(target));
          break;
        }
        case 'character-device':
        case 'block-device':
        case 'fifo':
          fail(
            archiveError('archive-device', `${h.type} ${JSON.stringify(name)} in the archive`, {
              details: { name, type: h.type },
            }),
          );
          break;
        default:
          fail(
            archiveError(
              'archive-unsupported',
              `entry ${JSON.stringify(name)} of tar type ${String(h.type)}`,
            ),
          );
      }
      entry.resume();
    }
    await piping;
    if (failure) throw failure;
    checkLinksResolveInside(symlinks, hardlinks);
  } catch (err) {
    // A full or failing disk is not a corrupt archive (localFault: disk-full, io-error).
    failure ??= isCrawlError(err)
      ? err
      : (localFault(err) ??
        archiveError('archive-corrupt', `cannot read ${format}: ${String(err)}`, { cause: err }));
    source.destroy();
    extract.destroy();
    await piping;
    if (options.signal?.aborted) throw jobError('aborted', 'sdist scan aborted', { cause: err });
    throw failure;
  }
  return { format, entries: c.entries, root: c.roots.root, count: c.count, files: c.files, symlinks };
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** A `.zip` sdist, through the checked zip reader (zip/); entry rules as for tar. */
async function scanZipSdist(
  path: string,
  options: ScanSdistOptions,
  limits: SdistLimits,
): Promise<SdistScan> {
  const source = await openFileRandomAccess(path);
  try {
    const zip = await openZip(source, {
      limits: {
        maxEntries: limits.maxEntries,
        maxNameBytes: limits.maxNameBytes,
        maxCompressionRatio: limits.maxCompressionRatio,
        ratioExemptBytes: limits.ratioExemptBytes,
      },
    });
    const c: Collector = { entries: new Map(), files: new Set(), roots: new RootTracker(), count: 0 };
    // A zip has no link entry type: a symlink is an entry with the Unix mode S_IFLNK whose data
    // is its target (Info-ZIP `zip --symlinks`; `unzip` recreates the link). Same rules as tar.
    const symlinks = new Map<string, string>();
    let total = 0;
    for (const entry of zip.entries) {
      countEntry(c, limits);
      const name = normalizeEntryName(entry.name);
      total += entry.uncompressedSize;
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        throw archiveError(
          'archive-too-large',
          `entry ${JSON.stringify(name)} has ${entry.uncompressedSize} bytes`,
        );
      }
      if (total > limits.maxTotalBytes) {
        throw archiveError('archive-too-large', `more than ${limits.maxTotalBytes} bytes uncompressed`);
      }
      c.roots.add(name);
      if (entry.isDirectory || name === '') continue;
      c.files.add(name);
      c.roots.addFileAtTop(name);
    }
    for (const entry of zip.entries) {
      if ((entry.unixMode & S_IFMT) !== S_IFLNK) continue;
      options.signal?.throwIfAborted();
      const name = normalizeEntryName(entry.name);
      const target = await zip.readEntry(entry, {
        maxBytes: limits.maxNameBytes,
        tooLargeCode: 'archive-unsupported',
      });
      checkLinkTarget(name, target.toString('utf8'), 'symlink');
      symlinks.set(name, target.toString('utf8'));
    }
    checkLinksResolveInside(symlinks, new Map());
    for (const entry of zip.entries) {
      options.signal?.throwIfAborted();
      const name = normalizeEntryName(entry.name);
      if (entry.isDirectory || name === '' || !options.want(name)) continue;
      if (c.entries.has(name)) {
        throw archiveError('archive-duplicate-entry', `two entries named ${JSON.stringify(name)}`);
      }
      c.entries.set(
        name,
        await zip.readEntry(entry, {
          maxBytes: limits.maxWantedBytes,
          tooLargeCode: options.wantedTooLargeCode ?? 'archive-too-large',
        }),
      );
    }
    return {
      format: 'zip',
      entries: c.entries,
      root: c.roots.root,
      count: c.count,
      files: c.files,
      symlinks,
    };
  } finally {
    await source.close();
  }
}
