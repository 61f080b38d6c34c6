import { type CrawlError, crawlError, type FailureCode } from '@pypi-graph/core';

// The byte layout of ZIP archives, from PKWARE's APPNOTE.TXT (6.3.10), sections 4.3 and 4.5:
// https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT

export const SIG_LOCAL_HEADER = 0x04034b50;
export const SIG_CENTRAL_HEADER = 0x02014b50;
export const SIG_END = 0x06054b50;
export const SIG_ZIP64_END = 0x06064b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;

export const LOCAL_HEADER_BYTES = 30;
export const CENTRAL_HEADER_BYTES = 46;
export const END_BYTES = 22;
export const ZIP64_LOCATOR_BYTES = 20;
export const ZIP64_END_BYTES = 56;
/** The end record plus the longest comment (a 16-bit length): where the end record can hide. */
export const MAX_END_SEARCH_BYTES = END_BYTES + 0xffff;

/** Extra field of zip64 sizes and offsets (4.5.3). */
export const EXTRA_ZIP64 = 0x0001;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

/** General purpose flags (4.4.4). */
export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_DATA_DESCRIPTOR = 0x0008;
export const FLAG_UTF8 = 0x0800;

export const U16_MAX = 0xffff;
export const U32_MAX = 0xffffffff;

export function zipError(
  code: FailureCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): CrawlError {
  return crawlError(code, message, { details, cause });
}

export const corrupt = (message: string, details?: Record<string, unknown>, cause?: unknown) =>
  zipError('archive-corrupt', `corrupt zip: ${message}`, details, cause);

/** A little-endian u64 as a number; past 2^53 no real file can be, so it is corrupt. */
export function readU64(buf: Buffer, offset: number, what: string): number {
  const value = buf.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${what} ${value} is out of range`);
  return Number(value);
}

/** Extra field blocks `(id, data)`; a block running past the field is corrupt (as in CPython). */
export function parseExtra(extra: Buffer, where: string): Map<number, Buffer> {
  const blocks = new Map<number, Buffer>();
  let at = 0;
  while (at + 4 <= extra.length) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (at + 4 + length > extra.length) throw corrupt(`extra field of ${where} runs past its end`);
    // The first block of an id wins, as in CPython's zipfile.
    if (!blocks.has(id)) blocks.set(id, extra.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return blocks;
}

/**
 * Fields of a zip64 extra block (4.5.3): only those whose 32-bit (or 16-bit) value in the
 * header is saturated are present, in this order.
 */
export function applyZip64(
  block: Buffer | undefined,
  fields: { uncompressed?: number; compressed?: number; offset?: number },
  where: string,
): { uncompressed?: number; compressed?: number; offset?: number } {
  const out = { ...fields };
  let at = 0;
  for (const key of ['uncompressed', 'compressed', 'offset'] as const) {
    if (out[key] !== U32_MAX) continue;
    if (block === undefined || at + 8 > block.length) {
      throw corrupt(`${where}: ${key} size is 0xFFFFFFFF but the zip64 extra field lacks it`);
    }
    out[key] = readU64(block, at, `${where} ${key}`);
    at += 8;
  }
  return out;
}

// CPython's zipfile (and PKWARE) decode names without the UTF-8 flag as code page 437.
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** An entry name: UTF-8 when flag 11 says so (invalid UTF-8 is corrupt), else code page 437. */
export function decodeName(raw: Buffer, flags: number): string {
  if (flags & FLAG_UTF8) {
    try {
      return utf8.decode(raw);
    } catch (err) {
      throw corrupt(
        `entry name ${JSON.stringify(raw.toString('latin1'))} is flagged UTF-8 but is not`,
        {},
        err,
      );
    }
  }
  let out = '';
  for (const byte of raw) out += byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH[byte - 0x80];
  return out;
}
