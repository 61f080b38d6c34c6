import { createHash } from 'node:crypto';
import type { RandomAccess } from '@pypi-graph/archive';
import { downloadError, internalError } from '@pypi-graph/core';
import type { PypiClient, TrafficMeter } from '@pypi-graph/pypi-client';

export interface HttpRandomAccessOptions {
  signal?: AbortSignal;
  /** Counts the requests and bytes of every range read. */
  meter?: TrafficMeter;
  /**
   * When a server ignores Range and sends the whole file, the most bytes read from its start
   * before giving up (`range-not-supported`). Reads that end within this many bytes still
   * succeed, from the prefix.
   */
  maxBytesIfRangeIgnored: number;
  /** The file's sha256: checked whenever one read happens to cover the whole file. */
  sha256?: string;
}

interface Segment {
  start: number;
  data: Buffer;
}

/**
 * RandomAccess over HTTP range reads through the pypi-client, with a cache of what was read:
 * a read asks the server only for the bytes no earlier read brought (usually one range), so the
 * zip reader can re-read the tail, the central directory and the entry without new requests.
 */
export class HttpRandomAccess implements RandomAccess {
  readonly size: number;
  readonly #client: PypiClient;
  readonly #url: string;
  readonly #options: HttpRandomAccessOptions;
  /** Sorted, non-overlapping. */
  readonly #segments: Segment[] = [];

  constructor(client: PypiClient, url: string, size: number, options: HttpRandomAccessOptions) {
    this.#client = client;
    this.#url = url;
    this.size = size;
    this.#options = options;
  }

  async read(start: number, endInclusive: number): Promise<Buffer> {
    if (start < 0 || endInclusive < start || endInclusive >= this.size) {
      throw internalError(`read ${start}-${endInclusive} outside ${this.size} bytes`);
    }
    for (const [from, to] of this.#gaps(start, endInclusive)) await this.#fetch(from, to);
    return this.#assemble(start, endInclusive);
  }

  /** Ranges within `start … end` that no segment covers. */
  #gaps(start: number, end: number): Array<[number, number]> {
    const gaps: Array<[number, number]> = [];
    let at = start;
    for (const s of this.#segments) {
      const sEnd = s.start + s.data.length - 1;
      if (sEnd < at) continue;
      if (s.start > end) break;
      if (s.start > at) gaps.push([at, s.start - 1]);
      at = sEnd + 1;
      if (at > end) break;
    }
    if (at <= end) gaps.push([at, end]);
    return gaps;
  }

  async #fetch(from: number, to: number): Promise<void> {
    const { signal, meter, maxBytesIfRangeIgnored } = this.#options;
    const res = await this.#client.fetchRange(this.#url, from, to, { signal, meter, maxBytesIfRangeIgnored });
    if (res.totalSize !== null && res.totalSize !== this.size) {
      throw downloadError(
        'download-size-mismatch',
        `${this.#url}: the server says ${res.totalSize} bytes, the index ${this.size}`,
        { details: { url: this.#url, expectedSize: this.size, actualSize: res.totalSize } },
      );
    }
    if (res.data.length !== to - from + 1) {
      throw downloadError(
        'download-size-mismatch',
        `${this.#url}: range ${from}-${to} returned ${res.data.length} bytes`,
        { details: { url: this.#url, expectedSize: this.size, from, to, got: res.data.length } },
      );
    }
    const expected = this.#options.sha256?.toLowerCase();
    if (expected && from === 0 && to === this.size - 1) {
      const actual = createHash('sha256').update(res.data).digest('hex');
      if (actual !== expected) {
        throw downloadError(
          'download-sha256-mismatch',
          `${this.#url}: sha256 ${actual}, expected ${expected}`,
          {
            details: { url: this.#url, expectedSha256: expected, actualSha256: actual },
          },
        );
      }
    }
    const at = this.#segments.findIndex((s) => s.start > from);
    this.#segments.splice(at < 0 ? this.#segments.length : at, 0, { start: from, data: res.data });
  }

  #assemble(start: number, end: number): Buffer {
    const parts: Buffer[] = [];
    let at = start;
    for (const s of this.#segments) {
      const sEnd = s.start + s.data.length - 1;
      if (sEnd < at || s.start > at) continue;
      const take = Math.min(sEnd, end);
      parts.push(s.data.subarray(at - s.start, take - s.start + 1));
      at = take + 1;
      if (at > end) break;
    }
    if (at <= end) throw internalError(`range cache lacks ${at}-${end}`);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
