import {
  applyZip64,
  CENTRAL_HEADER_BYTES,
  corrupt,
  decodeName,
  EXTRA_ZIP64,
  LOCAL_HEADER_BYTES,
  parseExtra,
  SIG_CENTRAL_HEADER,
  zipError,
} from './format';
import type { ZipEntry, ZipLimits } from './types';

/** Where the central directory is, from the (zip64) end record. */
export interface DirectoryBounds {
  /** Entries the end record announces. */
  entries: number;
  cdOffset: number;
  /** Where the central directory ends: the zip64 end record, or the end record. */
  cdEnd: number;
}

/** Every entry of a whole central directory, checked against what the end record announces. */
export function parseCentralDirectory(cd: Buffer, bounds: DirectoryBounds, limits: ZipLimits): ZipEntry[] {
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let index = 0; index < bounds.entries; index++) {
    if (at + CENTRAL_HEADER_BYTES > cd.length || cd.readUInt32LE(at) !== SIG_CENTRAL_HEADER) {
      throw corrupt(`central directory entry ${index} is missing or has a bad signature`, { index, at });
    }
    const { entry, next } = parseRecord(cd, at, index, bounds, limits);
    entries.push(entry);
    at = next;
  }
  if (at !== cd.length) {
    throw corrupt(
      `the central directory has ${cd.length - at} bytes after its ${bounds.entries} announced entries`,
    );
  }
  return entries;
}

/**
 * The last entries of a central directory from bytes that cover only its end (`bytes` starts at
 * `bytesStart`, inside the directory, and ends exactly at `bounds.cdEnd`): the records every
 * consistent parse of those bytes agrees on (see `firstCertainRecord`), with their true indexes
 * (counted back from the announced total). Empty when nothing is certain, or when the bytes
 * disagree with the end record; reading the whole directory then gives the authoritative answer
 * (or error).
 */
export function parseCentralDirectoryEnd(
  bytes: Buffer,
  bytesStart: number,
  bounds: DirectoryBounds,
  limits: ZipLimits,
): ZipEntry[] {
  const first = firstCertainRecord(bytes);
  if (first < 0) return [];
  const starts: number[] = [];
  for (let at = first; at < bytes.length; at = recordEnd(bytes, at)) starts.push(at);
  const before = bounds.entries - starts.length;
  // The records before these must fit in the bytes before them, at 46 bytes at least each.
  if (before < 0 || bytesStart + first - bounds.cdOffset < before * CENTRAL_HEADER_BYTES) return [];
  try {
    return starts.map((at, i) => parseRecord(bytes, at, before + i, bounds, limits).entry);
  } catch {
    // A record that is certain but bad: the whole directory will say what is wrong.
    return [];
  }
}

/**
 * The offset in `bytes` (the end of a central directory, taken from some point inside it) of the
 * first record that is certainly a real one, or -1.
 *
 * Central directory records cannot be parsed backwards, and the bytes may start in the middle of
 * a record whose name, extra field or comment holds `PK\x01\x02` — even a whole forged record.
 * So every signature is a candidate, and a candidate counts only if records walk from it, header
 * by header, to exactly the end of the bytes (where the end records begin). Walks that meet go on
 * together (each record determines the next), so the valid walks form chains that merge; the
 * real directory is one of them (its first record in `bytes` is a candidate and walks to the
 * end). The records on every chain are therefore real; the first of them is returned. Two chains
 * that never merge leave nothing certain.
 *
 * What this cannot see: a forged record inside a record that starts before `bytes` (a record can
 * be 46 + 3 × 65,535 bytes long), ending exactly where a real record starts. Only the whole
 * directory rules that out; see packages/archive/readme.md.
 */
export function firstCertainRecord(bytes: Buffer): number {
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  const candidates: number[] = [];
  for (let i = bytes.indexOf(signature); i >= 0; i = bytes.indexOf(signature, i + 1)) candidates.push(i);
  // From the back, so that the record after a candidate is decided before the candidate is.
  const next = new Map<number, number>();
  for (let c = candidates.length - 1; c >= 0; c--) {
    const at = candidates[c]!;
    const end = recordEnd(bytes, at);
    if (end === bytes.length || (end > 0 && next.has(end))) next.set(at, end);
  }
  if (next.size === 0) return -1;
  const reached = new Set(next.values());
  const heads = [...next.keys()].filter((at) => !reached.has(at));
  const visits = new Map<number, number>();
  for (const head of heads) {
    for (let at = head; at < bytes.length; at = next.get(at)!) visits.set(at, (visits.get(at) ?? 0) + 1);
  }
  for (let at = heads[0]!; at < bytes.length; at = next.get(at)!) {
    if (visits.get(at) === heads.length) return at;
  }
  return -1;
}

/** Where the record at `at` ends, or -1 when no whole record with a signature is there. */
function recordEnd(bytes: Buffer, at: number): number {
  if (at + CENTRAL_HEADER_BYTES > bytes.length || bytes.readUInt32LE(at) !== SIG_CENTRAL_HEADER) return -1;
  const end =
    at +
    CENTRAL_HEADER_BYTES +
    bytes.readUInt16LE(at + 28) +
    bytes.readUInt16LE(at + 30) +
    bytes.readUInt16LE(at + 32);
  return end <= bytes.length ? end : -1;
}

/** One record (its signature already checked) and where the next one starts. */
function parseRecord(
  cd: Buffer,
  at: number,
  index: number,
  bounds: DirectoryBounds,
  limits: ZipLimits,
): { entry: ZipEntry; next: number } {
  const flags = cd.readUInt16LE(at + 8);
  const method = cd.readUInt16LE(at + 10);
  const crc = cd.readUInt32LE(at + 16);
  const nameLength = cd.readUInt16LE(at + 28);
  const extraLength = cd.readUInt16LE(at + 30);
  const commentLength = cd.readUInt16LE(at + 32);
  const next = at + CENTRAL_HEADER_BYTES + nameLength + extraLength + commentLength;
  if (next > cd.length) throw corrupt(`central directory entry ${index} runs past the directory`);
  if (nameLength > limits.maxNameBytes) {
    throw zipError(
      'archive-unsupported',
      `zip entry ${index} has a name of ${nameLength} bytes, over the cap of ${limits.maxNameBytes}`,
      { index, nameLength, limit: limits.maxNameBytes },
    );
  }
  const nameStart = at + CENTRAL_HEADER_BYTES;
  const rawName = Buffer.from(cd.subarray(nameStart, nameStart + nameLength));
  const name = decodeName(rawName, flags);
  const extra = parseExtra(
    cd.subarray(nameStart + nameLength, nameStart + nameLength + extraLength),
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
  if (localHeaderOffset + LOCAL_HEADER_BYTES > bounds.cdOffset) {
    throw corrupt(`the local header of ${name} would lie inside the central directory`, {
      name,
      localHeaderOffset,
    });
  }
  return {
    entry: {
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
      unixMode: cd.readUInt32LE(at + 38) >>> 16,
    },
    next,
  };
}
