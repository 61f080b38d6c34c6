import { promisify } from 'node:util';
import { crc32, inflateRaw } from 'node:zlib';
import type { RandomAccess } from '../random-access';
import {
  applyZip64,
  CENTRAL_HEADER_BYTES,
  corrupt,
  decodeName,
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
  SIG_CENTRAL_HEADER,
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
} from './types';

const inflateRawAsync = promisify(inflateRaw);

export const DEFAULT_TAIL_BYTES = 64 * 1024;
const DEFAULT_LOCAL_HEADER_MARGIN = 256;

interface EndRecord {
  entries: number;
  cdSize: number;
  cdOffset: number;
  /** Where the central directory must end: the zip64 end record, or the end record. */
  cdEnd: number;
  /** The central directory itself, when reading the end records brought it along. */
  cdBytes?: Buffer;
  comment: Buffer;
  zip64: boolean;
}

/**
 * Opens a zip through random access: finds the end record (the archive may end with a comment),
 * follows the zip64 locator, then reads and checks the central directory. Strict where readers
 * could disagree: the central directory must end exactly where the end records begin (no data
 * before the archive), announce exactly its entries, and no entry may start inside it.
 * No byte is written anywhere.
 */
export async function openZip(source: RandomAccess, options: OpenZipOptions = {}): Promise<ZipArchive> {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...options.limits };
  const end = await readEndRecord(source, options.tailBytes ?? DEFAULT_TAIL_BYTES, limits);

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
  const cd =
    end.cdBytes ?? (end.cdSize > 0 ? await source.read(end.cdOffset, end.cdEnd - 1) : Buffer.alloc(0));
  const entries = parseCentralDirectory(cd, end, limits);

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

async function readEndRecord(source: RandomAccess, tailBytes: number, limits: ZipLimits): Promise<EndRecord> {
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
  const readFrom = Math.max(0, Math.min(plausible ? cdOffset : endPos, endPos - ZIP64_LOCATOR_BYTES));
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
  const cdBytes = !zip64 && plausible ? before.subarray(cdOffset - readFrom) : undefined;
  return { entries, cdSize, cdOffset, cdEnd, comment, zip64, cdBytes };
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

function parseCentralDirectory(cd: Buffer, end: EndRecord, limits: ZipLimits): ZipEntry[] {
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let index = 0; index < end.entries; index++) {
    if (at + CENTRAL_HEADER_BYTES > cd.length || cd.readUInt32LE(at) !== SIG_CENTRAL_HEADER) {
      throw corrupt(`central directory entry ${index} is missing or has a bad signature`, { index, at });
    }
    const flags = cd.readUInt16LE(at + 8);
    const method = cd.readUInt16LE(at + 10);
    const crc = cd.readUInt32LE(at + 16);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    const recordEnd = at + CENTRAL_HEADER_BYTES + nameLength + extraLength + commentLength;
    if (recordEnd > cd.length) throw corrupt(`central directory entry ${index} runs past the directory`);
    if (nameLength > limits.maxNameBytes) {
      throw zipError(
        'archive-unsupported',
        `zip entry ${index} has a name of ${nameLength} bytes, over the cap of ${limits.maxNameBytes}`,
        { index, nameLength, limit: limits.maxNameBytes },
      );
    }
    const rawName = Buffer.from(
      cd.subarray(at + CENTRAL_HEADER_BYTES, at + CENTRAL_HEADER_BYTES + nameLength),
    );
    const name = decodeName(rawName, flags);
    const extra = parseExtra(
      cd.subarray(
        at + CENTRAL_HEADER_BYTES + nameLength,
        at + CENTRAL_HEADER_BYTES + nameLength + extraLength,
      ),
      `entry ${name}`,
    );
    const sizes = applyZip64(
      extra.get(EXTRA_ZIP64),
      {
        uncompressed: cd.readUInt32LE(at + 24),
        compressed: cd.readUInt32LE(at + 20),
        offset: cd.readUInt32LE(at + 42),
      },
      `entry ${name}`,
    );
    const localHeaderOffset = sizes.offset!;
    if (localHeaderOffset + LOCAL_HEADER_BYTES > end.cdOffset) {
      throw corrupt(`the local header of ${name} would lie inside the central directory`, {
        name,
        localHeaderOffset,
      });
    }
    entries.push({
      index,
      name,
      rawName,
      flags,
      method,
      crc32: crc,
      compressedSize: sizes.compressed!,
      uncompressedSize: sizes.uncompressed!,
      localHeaderOffset,
      extraLength,
      isDirectory: name.endsWith('/'),
    });
    at = recordEnd;
  }
  if (at !== cd.length) {
    throw corrupt(
      `the central directory has ${cd.length - at} bytes after its ${end.entries} announced entries`,
    );
  }
  return entries;
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
