import { promisify } from 'node:util';
import { crc32, inflateRaw } from 'node:zlib';
import type { RandomAccess } from '../random-access';
import { type DirectoryBounds, parseCentralDirectory, parseCentralDirectoryEnd } from './central-directory';
import {
  applyZip64,
  CENTRAL_HEADER_BYTES,
  corrupt,
  END_BYTES,
  EXTRA_ZIP64,
  FLAG_DATA_DESCRIPTOR,
  FLAG_ENCRYPTED,
  LOCAL_HEADER_BYTES,
  MAX_END_SEARCH_BYTES,
  METHOD_DEFLATED,
  METHOD_STORED,
  parseExtra,
  readU64,
  SIG_END,
  SIG_LOCAL_HEADER,
  SIG_ZIP64_END,
  SIG_ZIP64_LOCATOR,
  U32_MAX,
  ZIP64_END_BYTES,
  ZIP64_LOCATOR_BYTES,
  zipError,
} from './format';
import {
  DEFAULT_ZIP_LIMITS,
  type OpenZipOptions,
  type ReadEntryOptions,
  type ZipArchive,
  type ZipEntry,
  type ZipLimits,
  type ZipTail,
} from './types';

const inflateRawAsync = promisify(inflateRaw);

export const DEFAULT_TAIL_BYTES = 64 * 1024;
const DEFAULT_LOCAL_HEADER_MARGIN = 256;

interface EndRecord extends DirectoryBounds {
  cdSize: number;
  /** The central directory itself, when reading the end records brought it along. */
  cdBytes?: Buffer;
  comment: Buffer;
  zip64: boolean;
  /** The last bytes of the file, read to find the end record: `bytes` from `start` to the end. */
  tail: { start: number; bytes: Buffer };
}

/**
 * What reading the end records may read besides the tail: `whole`, the whole central directory
 * at once (with the 20 bytes where a zip64 locator would be); `tail`, nothing the tail does not
 * already hold, except the zip64 records when they are not in it.
 */
type EndReadMode = 'whole' | 'tail';

/**
 * Opens a zip through random access: finds the end record (the archive may end with a comment),
 * follows the zip64 locator, then reads and checks the central directory. Strict where readers
 * could disagree: the central directory must end exactly where the end records begin (no data
 * before the archive), announce exactly its entries, and no entry may start inside it.
 * No byte is written anywhere.
 */
export async function openZip(source: RandomAccess, options: OpenZipOptions = {}): Promise<ZipArchive> {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...options.limits };
  const end = await readEndRecord(source, options.tailBytes ?? DEFAULT_TAIL_BYTES, limits, 'whole');
  checkDirectorySize(end, limits);
  const cd =
    end.cdBytes ?? (end.cdSize > 0 ? await source.read(end.cdOffset, end.cdEnd - 1) : Buffer.alloc(0));
  return archive(source, end, limits, parseCentralDirectory(cd, end, limits));
}

/**
 * Opens a zip from its last `tailBytes` (and the zip64 end records, if they are not in them):
 * the end records, and every central directory entry those bytes hold for certain. When the
 * whole central directory is in the tail it is checked as `openZip` checks it (`complete`);
 * otherwise the records at its end are found by resynchronising on their signatures (see
 * `firstCertainRecord`), and `open()` reads the rest. For a remote wheel this is one range
 * request where `openZip` may need two, and a few KiB where the central directory alone can be
 * tens of KiB. Entries are read with every check `openZip`'s are.
 */
export async function openZipTail(source: RandomAccess, options: OpenZipOptions = {}): Promise<ZipTail> {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...options.limits };
  const end = await readEndRecord(source, options.tailBytes ?? DEFAULT_TAIL_BYTES, limits, 'tail');
  checkDirectorySize(end, limits);
  const { start: seenFrom, bytes: seen } = end.tail;
  let whole: ZipArchive | undefined;
  let entries: ZipEntry[];
  if (end.cdBytes !== undefined || end.cdOffset >= seenFrom) {
    const cd = end.cdBytes ?? seen.subarray(end.cdOffset - seenFrom, end.cdEnd - seenFrom);
    whole = archive(source, end, limits, parseCentralDirectory(cd, end, limits));
    entries = [...whole.entries];
  } else {
    const cdEnd = seen.subarray(0, Math.max(0, end.cdEnd - seenFrom));
    entries = parseCentralDirectoryEnd(cdEnd, seenFrom, end, limits);
  }
  return {
    size: source.size,
    comment: end.comment,
    zip64: end.zip64,
    centralDirectoryOffset: end.cdOffset,
    centralDirectorySize: end.cdSize,
    entryCount: end.entries,
    complete: whole !== undefined,
    entries,
    readEntry: (entry, readOptions) => readEntry(source, end, limits, entry, readOptions),
    async open() {
      if (whole === undefined) {
        const cd = await source.read(end.cdOffset, end.cdEnd - 1);
        whole = archive(source, end, limits, parseCentralDirectory(cd, end, limits));
      }
      return whole;
    },
  };
}

function archive(source: RandomAccess, end: EndRecord, limits: ZipLimits, entries: ZipEntry[]): ZipArchive {
  return {
    size: source.size,
    entries,
    comment: end.comment,
    zip64: end.zip64,
    centralDirectoryOffset: end.cdOffset,
    centralDirectorySize: end.cdSize,
    readEntry: (entry, readOptions) => readEntry(source, end, limits, entry, readOptions),
  };
}

/** The caps and sanity checks that need only the end record. */
function checkDirectorySize(end: EndRecord, limits: ZipLimits): void {
  if (end.entries > limits.maxEntries) {
    throw zipError(
      'archive-too-many-entries',
      `zip announces ${end.entries} entries, over the cap of ${limits.maxEntries}`,
      { entries: end.entries, limit: limits.maxEntries },
    );
  }
  if (end.cdSize > limits.maxCentralDirectoryBytes) {
    throw zipError(
      'archive-too-large',
      `zip central directory is ${end.cdSize} bytes, over the cap of ${limits.maxCentralDirectoryBytes}`,
      { centralDirectorySize: end.cdSize, limit: limits.maxCentralDirectoryBytes },
    );
  }
  if (end.cdSize < end.entries * CENTRAL_HEADER_BYTES) {
    throw corrupt(`${end.entries} entries cannot fit in a central directory of ${end.cdSize} bytes`);
  }
}

async function readEndRecord(
  source: RandomAccess,
  tailBytes: number,
  limits: ZipLimits,
  mode: EndReadMode,
): Promise<EndRecord> {
  const size = source.size;
  if (size < END_BYTES) throw corrupt(`${size} bytes is too short for a zip`, { size });
  let tailStart = size - Math.min(size, Math.max(tailBytes, END_BYTES));
  let tail = await source.read(tailStart, size - 1);
  let at = findEndRecord(tail);
  // A long comment can push the end record out of a short first read; the second read also
  // takes another tail's worth before it, where the central directory will be.
  const widest = size - Math.min(size, MAX_END_SEARCH_BYTES + tailBytes);
  if (at < 0 && tailStart > widest) {
    tailStart = widest;
    tail = await source.read(tailStart, size - 1);
    at = findEndRecord(tail);
  }
  if (at < 0) throw corrupt('no end of central directory record (truncated, or not a zip)', { size });
  const endPos = tailStart + at;
  const disk = tail.readUInt16LE(at + 4);
  const cdDisk = tail.readUInt16LE(at + 6);
  const entriesHere = tail.readUInt16LE(at + 8);
  let entries = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  const comment = Buffer.from(tail.subarray(at + END_BYTES));

  // https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT 4.3.15: the zip64 locator sits
  // right before the end record. Without zip64, the central directory ends there too, so its
  // last 20 bytes are where a locator would be: one read brings both (within the caps).
  const plausible =
    cdOffset + cdSize === endPos && entries <= limits.maxEntries && cdSize <= limits.maxCentralDirectoryBytes;
  // In `tail` mode only what the tail holds: the end of the central directory (resynchronised
  // later), or all of it when it starts inside the tail.
  const wanted =
    mode === 'whole' ? (plausible ? cdOffset : endPos) : Math.max(plausible ? cdOffset : 0, tailStart);
  const readFrom = Math.max(0, Math.min(wanted, endPos - ZIP64_LOCATOR_BYTES));
  const before = readFrom < endPos ? await source.read(readFrom, endPos - 1) : Buffer.alloc(0);
  let zip64 = false;
  let cdEnd = endPos;
  if (before.length >= ZIP64_LOCATOR_BYTES) {
    const locatorPos = endPos - ZIP64_LOCATOR_BYTES;
    const locator = before.subarray(before.length - ZIP64_LOCATOR_BYTES);
    if (locator.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
      zip64 = true;
      const recordDisk = locator.readUInt32LE(4);
      const recordPos = readU64(locator, 8, 'zip64 end record offset');
      const disks = locator.readUInt32LE(16);
      if (recordDisk !== 0 || disks > 1) {
        throw zipError('archive-unsupported', 'multi-disk zip archives are not supported', { disks });
      }
      if (recordPos + ZIP64_END_BYTES > locatorPos) {
        throw corrupt('the zip64 locator points past itself', { recordPos, locatorPos });
      }
      const record = await source.read(recordPos, locatorPos - 1);
      if (record.readUInt32LE(0) !== SIG_ZIP64_END)
        throw corrupt('no zip64 end record where the locator points');
      const recordSize = readU64(record, 4, 'zip64 end record size');
      if (recordSize + 12 !== record.length) {
        throw corrupt('the zip64 end record does not end at the zip64 locator', { recordPos, recordSize });
      }
      if (record.readUInt32LE(16) !== 0 || record.readUInt32LE(20) !== 0) {
        throw zipError('archive-unsupported', 'multi-disk zip archives are not supported');
      }
      const here = readU64(record, 24, 'zip64 entries on this disk');
      entries = readU64(record, 32, 'zip64 entry count');
      if (here !== entries)
        throw zipError('archive-unsupported', 'multi-disk zip archives are not supported');
      cdSize = readU64(record, 40, 'zip64 central directory size');
      cdOffset = readU64(record, 48, 'zip64 central directory offset');
      cdEnd = recordPos;
    }
  }
  if (!zip64 && (disk !== 0 || cdDisk !== 0 || entriesHere !== entries)) {
    throw zipError('archive-unsupported', 'multi-disk zip archives are not supported', { disk, cdDisk });
  }
  if (cdOffset + cdSize !== cdEnd) {
    throw corrupt(
      `the central directory (${cdSize} bytes at ${cdOffset}) does not end where the end record starts (${cdEnd})`,
      { cdOffset, cdSize, cdEnd },
    );
  }
  const cdBytes =
    !zip64 && plausible && readFrom <= cdOffset ? before.subarray(cdOffset - readFrom) : undefined;
  return {
    entries,
    cdSize,
    cdOffset,
    cdEnd,
    comment,
    zip64,
    cdBytes,
    tail: { start: tailStart, bytes: tail },
  };
}

/** Offset of the end record in `tail`: the last signature whose comment reaches exactly the end. */
function findEndRecord(tail: Buffer): number {
  const sig = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
  for (let i = tail.lastIndexOf(sig, tail.length - END_BYTES); i >= 0; i = tail.lastIndexOf(sig, i - 1)) {
    if (tail.readUInt32LE(i) === SIG_END && i + END_BYTES + tail.readUInt16LE(i + 20) === tail.length)
      return i;
    if (i === 0) break;
  }
  return -1;
}

async function readEntry(
  source: RandomAccess,
  end: EndRecord,
  limits: ZipLimits,
  entry: ZipEntry,
  options: ReadEntryOptions,
): Promise<Buffer> {
  const details = {
    name: entry.name,
    compressedSize: entry.compressedSize,
    uncompressedSize: entry.uncompressedSize,
  };
  if (entry.flags & FLAG_ENCRYPTED) {
    throw zipError('archive-unsupported', `zip entry ${entry.name} is encrypted`, details);
  }
  if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
    throw zipError(
      'archive-unsupported',
      `zip entry ${entry.name} uses compression method ${entry.method} (only stored and deflated are read)`,
      { ...details, method: entry.method },
    );
  }
  // The ratio first: an honest bomb is a bomb even when it is also too large.
  if (
    entry.uncompressedSize > limits.ratioExemptBytes &&
    entry.uncompressedSize > entry.compressedSize * limits.maxCompressionRatio
  ) {
    throw zipError(
      'archive-bomb',
      `zip entry ${entry.name} claims a compression ratio over ${limits.maxCompressionRatio}:1`,
      { ...details, limit: limits.maxCompressionRatio },
    );
  }
  if (entry.uncompressedSize > options.maxBytes) {
    throw zipError(
      options.tooLargeCode ?? 'archive-too-large',
      `zip entry ${entry.name} is ${entry.uncompressedSize} bytes, over the cap of ${options.maxBytes}`,
      { ...details, limit: options.maxBytes },
    );
  }
  if (entry.method === METHOD_STORED && entry.compressedSize !== entry.uncompressedSize) {
    throw corrupt(`stored entry ${entry.name} has different compressed and uncompressed sizes`, details);
  }
  // Deflate expands incompressible data by a few bytes per 16 KiB block at most.
  if (entry.compressedSize > entry.uncompressedSize + (entry.uncompressedSize >> 8) + 1024) {
    throw corrupt(`zip entry ${entry.name} is larger compressed than deflate can make it`, details);
  }

  // One read: the local header, its name and extra field (assumed about as long as the central
  // directory's, plus a margin), and the data.
  const start = entry.localHeaderOffset;
  const margin = options.localHeaderMargin ?? DEFAULT_LOCAL_HEADER_MARGIN;
  const guess = LOCAL_HEADER_BYTES + entry.rawName.length + entry.extraLength + margin + entry.compressedSize;
  let chunk = await source.read(start, Math.min(source.size, start + guess) - 1);
  if (chunk.length < LOCAL_HEADER_BYTES || chunk.readUInt32LE(0) !== SIG_LOCAL_HEADER) {
    throw corrupt(`no local header for ${entry.name} at ${start}`, details);
  }
  const flags = chunk.readUInt16LE(6);
  const method = chunk.readUInt16LE(8);
  const nameLength = chunk.readUInt16LE(26);
  const extraLength = chunk.readUInt16LE(28);
  const dataStart = start + LOCAL_HEADER_BYTES + nameLength + extraLength;
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > end.cdOffset) {
    throw corrupt(`the data of ${entry.name} runs into the central directory`, { ...details, dataStart });
  }
  if (dataEnd - start > chunk.length) {
    // The local extra field was longer than the margin: read the rest.
    const rest = await source.read(start + chunk.length, dataEnd - 1);
    chunk = Buffer.concat([chunk, rest]);
  }
  const localName = chunk.subarray(LOCAL_HEADER_BYTES, LOCAL_HEADER_BYTES + nameLength);
  if (!localName.equals(entry.rawName)) {
    throw corrupt(
      `the local header of ${entry.name} names ${JSON.stringify(localName.toString('latin1'))}`,
      details,
    );
  }
  if (method !== entry.method || (flags & FLAG_ENCRYPTED) !== 0) {
    throw corrupt(
      `the local header of ${entry.name} disagrees with the central directory on the method`,
      details,
    );
  }
  if ((flags & FLAG_DATA_DESCRIPTOR) === 0) {
    // Without a data descriptor the local header states crc and sizes itself; a reader that
    // trusts it must find what the central directory says (a header that lies is refused).
    const extra = parseExtra(
      chunk.subarray(LOCAL_HEADER_BYTES + nameLength, LOCAL_HEADER_BYTES + nameLength + extraLength),
      `local header of ${entry.name}`,
    );
    const local = localSizes(
      extra.get(EXTRA_ZIP64),
      chunk.readUInt32LE(22),
      chunk.readUInt32LE(18),
      `local header of ${entry.name}`,
    );
    const localCrc = chunk.readUInt32LE(14);
    if (
      local.compressed !== entry.compressedSize ||
      local.uncompressed !== entry.uncompressedSize ||
      localCrc !== entry.crc32
    ) {
      throw corrupt(
        `the local header of ${entry.name} disagrees with the central directory on crc or sizes`,
        {
          ...details,
          localCompressedSize: local.compressed,
          localUncompressedSize: local.uncompressed,
          localCrc32: localCrc,
          crc32: entry.crc32,
        },
      );
    }
  }
  const compressed = chunk.subarray(dataStart - start, dataEnd - start);

  let data: Buffer;
  if (entry.method === METHOD_STORED) {
    data = compressed;
  } else {
    try {
      // One byte over the declared size is enough to know the header lies; inflating stops there.
      data = await inflateRawAsync(compressed, { maxOutputLength: entry.uncompressedSize + 1 });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw zipError(
          'archive-bomb',
          `zip entry ${entry.name} inflates past its declared size`,
          details,
          err,
        );
      }
      throw corrupt(`the deflate data of ${entry.name} is broken: ${(err as Error).message}`, details, err);
    }
    if (data.length > entry.uncompressedSize) {
      throw zipError('archive-bomb', `zip entry ${entry.name} inflates past its declared size`, details);
    }
  }
  if (data.length !== entry.uncompressedSize) {
    throw corrupt(
      `zip entry ${entry.name} inflates to ${data.length} bytes, not ${entry.uncompressedSize}`,
      details,
    );
  }
  const actualCrc = crc32(data) >>> 0;
  if (actualCrc !== entry.crc32) {
    throw corrupt(`CRC-32 mismatch in ${entry.name}`, {
      ...details,
      crc32: entry.crc32,
      actualCrc32: actualCrc,
    });
  }
  return Buffer.from(data);
}

/**
 * Sizes of a local header. APPNOTE 4.5.3 says its zip64 block holds both sizes whenever it is
 * used, even if only one field is saturated; writers that follow it are read that way, others
 * (only the saturated fields, in order) as in the central directory.
 */
function localSizes(
  block: Buffer | undefined,
  uncompressed: number,
  compressed: number,
  where: string,
): { uncompressed?: number; compressed?: number } {
  if (block !== undefined && block.length >= 16 && (uncompressed === U32_MAX || compressed === U32_MAX)) {
    return {
      uncompressed: uncompressed === U32_MAX ? readU64(block, 0, `${where} uncompressed size`) : uncompressed,
      compressed: compressed === U32_MAX ? readU64(block, 8, `${where} compressed size`) : compressed,
    };
  }
  return applyZip64(block, { uncompressed, compressed }, where);
}
