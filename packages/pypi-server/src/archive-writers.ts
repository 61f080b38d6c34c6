import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

// Minimal, fully deterministic archive writers for synthetic files. They store entries
// uncompressed (gzip and zip both with "stored" data), so the bytes depend on nothing but
// the input: not on the zlib build, the platform or the clock.

/** 2020-01-01T00:00:00Z, the mtime of every entry. */
const MTIME = 1577836800;
// MS-DOS date/time of 2020-01-01 00:00:00 for zip headers.
const DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

export interface ArchiveEntry {
  path: string;
  data: Buffer;
}

/** A ustar archive (POSIX.1-1988) with fixed owner, modes and mtime, directories implied. */
export function tarArchive(entries: ArchiveEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    blocks.push(tarHeader(e.path, e.data.length));
    blocks.push(e.data);
    const pad = (512 - (e.data.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function tarHeader(path: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const name = Buffer.from(path, 'utf8');
  if (name.length > 100) throw new RangeError(`tar path too long for ustar: ${path}`);
  name.copy(h, 0);
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write(`${MTIME.toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** gzip (RFC 1952) with stored deflate blocks, mtime 0, no file name, OS "unknown". */
export function gzipStored(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])];
  let off = 0;
  do {
    const len = Math.min(65535, data.length - off);
    const last = off + len >= data.length;
    const head = Buffer.alloc(5);
    head[0] = last ? 1 : 0;
    head.writeUInt16LE(len, 1);
    head.writeUInt16LE(~len & 0xffff, 3);
    parts.push(head, data.subarray(off, off + len));
    off += len;
  } while (off < data.length);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(crc32(data) >>> 0, 0);
  tail.writeUInt32LE(data.length >>> 0, 4);
  parts.push(tail);
  return Buffer.concat(parts);
}

/** A zip archive with stored (uncompressed) entries. */
export function zipArchive(entries: ArchiveEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.path, 'utf8');
    const crc = crc32(e.data) >>> 0;
    const utf8Flag = /^[\x20-\x7e]*$/.test(e.path) ? 0 : 0x0800;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(utf8Flag, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, e.data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(utf8Flag, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * A wheel: `files`, then `<distInfo>/METADATA`, `WHEEL` (one `Tag`) and a `RECORD` whose
 * hashes and sizes hold, as pip and installer check them.
 */
export function wheelArchive(
  files: ArchiveEntry[],
  distInfo: string,
  metadata: Buffer,
  tag: string,
  purelib: boolean,
): Buffer {
  const entries: ArchiveEntry[] = [
    ...files,
    { path: `${distInfo}/METADATA`, data: metadata },
    {
      path: `${distInfo}/WHEEL`,
      data: Buffer.from(
        `Wheel-Version: 1.0\nGenerator: pypi-graph synthetic\nRoot-Is-Purelib: ${purelib}\nTag: ${tag}\n`,
      ),
    },
  ];
  const record = entries
    .map(
      (e) => `${e.path},sha256=${createHash('sha256').update(e.data).digest('base64url')},${e.data.length}`,
    )
    .join('\n');
  entries.push({ path: `${distInfo}/RECORD`, data: Buffer.from(`${record}\n${distInfo}/RECORD,,\n`) });
  return zipArchive(entries);
}
