import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { downloadError, httpError, internalError } from '@pypi-graph/core';
import type { HttpClient } from './http';
import { invalidResponse, tooLargeError } from './http-errors';
import type {
  CallOptions,
  DownloadOptions,
  DownloadResult,
  HeadResult,
  RangeOptions,
  RangeResult,
  SmallFileOptions,
  SmallFileResult,
} from './types';

/** Largest download when the caller does not know the size (PyPI's own per-file limit is lower). */
export const DEFAULT_DOWNLOAD_MAX_BYTES = 4 * 1024 ** 3;

/** Downloads, range reads and HEAD requests for distribution files. */
export class FilesApi {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * Streams `url` into a new file in `options.dir`, hashing while writing. On a sha256 or size
   * mismatch, an abort or any error, the partial file is removed before the error is thrown.
   */
  async download(url: string, options: DownloadOptions): Promise<DownloadResult> {
    const target = this.#http.allowedUrl(url);
    const expected = options.sha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(expected)) {
      throw internalError(`download: expected sha256 is not a hex digest: ${options.sha256}`);
    }
    const cap = options.size ?? options.maxBytes ?? DEFAULT_DOWNLOAD_MAX_BYTES;
    const details = { url: target.href, expectedSha256: expected, expectedSize: options.size };
    const sizeMismatch = (actual: number | string) =>
      downloadError(
        'download-size-mismatch',
        `${target.href}: expected ${options.size} bytes, got ${actual}`,
        {
          details: { ...details, actualSize: actual },
        },
      );

    return this.#http.request(
      { url: target, signal: options.signal, meter: options.meter, kind: 'download' },
      async (res) => {
        if (
          options.size !== undefined &&
          res.contentLength !== undefined &&
          res.contentLength !== options.size
        ) {
          throw sizeMismatch(res.contentLength);
        }
        if (res.contentLength !== undefined && res.contentLength > cap) {
          throw tooLargeError(res.url.href, cap, res.contentLength);
        }
        const tmp = path.join(options.dir, `.${randomUUID()}.part`);
        const fh = await open(tmp, 'wx');
        let kept = false;
        try {
          const hash = createHash('sha256');
          let bytes = 0;
          for await (const chunk of res.chunks()) {
            bytes += chunk.length;
            if (bytes > cap) {
              throw options.size !== undefined
                ? sizeMismatch(`more than ${cap}`)
                : tooLargeError(res.url.href, cap);
            }
            hash.update(chunk);
            await writeAll(fh, chunk);
          }
          await fh.close();
          if (options.size !== undefined && bytes !== options.size) throw sizeMismatch(bytes);
          const actual = hash.digest('hex');
          if (actual !== expected) {
            throw downloadError(
              'download-sha256-mismatch',
              `${res.url.href}: sha256 ${actual}, expected ${expected}`,
              {
                hint: 'the file changed on the index or was corrupted in transit; retry later',
                details: { ...details, actualSha256: actual, bytes },
              },
            );
          }
          const final = path.join(options.dir, `${randomUUID()}-${safeFileName(res.url)}`);
          await rename(tmp, final);
          kept = true;
          return { path: final, bytes, sha256: actual };
        } finally {
          if (!kept) {
            await fh.close().catch(() => undefined);
            await rm(tmp, { force: true });
          }
        }
      },
    );
  }

  /**
   * Bytes `start … endInclusive` of a file (HTTP Range, 206). A server that ignores Range and
   * answers 200 is read only up to `endInclusive + 1` bytes, then the connection is closed and
   * the result says `rangeIgnored`; if even that is more than HTTP_MAX_RESPONSE_BYTES, nothing
   * is read and the call fails with `range-not-supported`.
   * https://www.rfc-editor.org/rfc/rfc9110#name-range-requests
   */
  async fetchRange(
    url: string,
    start: number,
    endInclusive: number,
    options: RangeOptions = {},
  ): Promise<RangeResult> {
    const target = this.#http.allowedUrl(url);
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(endInclusive) ||
      start < 0 ||
      endInclusive < start
    ) {
      throw internalError(`fetchRange: bad range ${start}-${endInclusive}`);
    }
    const cap = this.#http.config.httpMaxResponseBytes;
    const length = endInclusive - start + 1;
    if (length > cap) throw tooLargeError(target.href, cap, length);

    return this.#http.request(
      {
        url: target,
        headers: { range: `bytes=${start}-${endInclusive}` },
        signal: options.signal,
        meter: options.meter,
        kind: 'range',
        accept: (s) => s === 206 || s === 200,
      },
      async (res) => {
        if (res.status === 206) {
          const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.header('content-range')?.trim() ?? '');
          const first = Number(cr?.[1]);
          const last = Number(cr?.[2]);
          if (cr === null || first !== start || last < first || last > endInclusive) {
            throw invalidResponse(res.url.href, `206 with Content-Range "${res.header('content-range')}"`);
          }
          const want = last - first + 1;
          const data = await readAtMost(res.chunks(), want + 1);
          if (data.length > want)
            throw invalidResponse(res.url.href, '206 body longer than its Content-Range');
          if (data.length < want) {
            throw httpError('body-truncated', `206 body has ${data.length} of ${want} bytes`, {
              details: { url: res.url.href },
            });
          }
          return {
            data,
            start,
            end: last,
            totalSize: cr[3] === '*' ? null : Number(cr[3]),
            rangeIgnored: false,
          };
        }
        // 200: the whole file follows from byte 0. Read only what reaches the requested end.
        const need = endInclusive + 1;
        if (need > Math.min(cap, options.maxBytesIfRangeIgnored ?? cap)) {
          res.destroy();
          throw httpError('range-not-supported', `${res.url.href} ignores Range requests`, {
            hint: 'download the whole file instead',
            details: { url: res.url.href, start, endInclusive },
          });
        }
        this.#http.logger.warn(
          { url: res.url.href, start, endInclusive },
          'server ignored Range; bounded read',
        );
        const prefix = await readAtMost(res.chunks(), need);
        res.destroy();
        if (prefix.length <= start) {
          throw httpError('http-4xx', `${res.url.href}: range starts beyond the end of the file`, {
            details: { url: res.url.href, size: prefix.length, start },
          });
        }
        const data = prefix.subarray(start);
        return {
          data,
          start,
          end: start + data.length - 1,
          totalSize: res.contentLength ?? null,
          rangeIgnored: true,
        };
      },
    );
  }

  /** HEAD of a file: size, ETag, Range support. */
  async head(url: string, options: CallOptions = {}): Promise<HeadResult> {
    const target = this.#http.allowedUrl(url);
    return this.#http.request(
      { url: target, method: 'HEAD', signal: options.signal, meter: options.meter, kind: 'head' },
      async (res) => ({
        url: res.url.href,
        size: res.contentLength ?? null,
        etag: res.header('etag') ?? null,
        acceptRanges: /\bbytes\b/i.test(res.header('accept-ranges') ?? ''),
        contentType: res.header('content-type') ?? null,
        lastModified: res.header('last-modified') ?? null,
      }),
    );
  }

  /**
   * A small file (a PEP 658 `.metadata` file, say) read into memory: at most `maxBytes`
   * (`response-too-large` beyond, without reading further), and, when `sha256` is given,
   * checked against it (`download-sha256-mismatch`).
   */
  async fetchSmallFile(url: string, options: SmallFileOptions): Promise<SmallFileResult> {
    const target = this.#http.allowedUrl(url);
    const expected = options.sha256?.toLowerCase();
    if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) {
      throw internalError(`fetchSmallFile: expected sha256 is not a hex digest: ${expected}`);
    }
    return this.#http.request(
      { url: target, signal: options.signal, meter: options.meter, kind: 'metadata' },
      async (res) => {
        const data = await res.buffer(options.maxBytes);
        const actual = createHash('sha256').update(data).digest('hex');
        if (expected !== undefined && actual !== expected) {
          throw downloadError(
            'download-sha256-mismatch',
            `${res.url.href}: sha256 ${actual}, expected ${expected}`,
            {
              hint: 'the file changed on the index or was corrupted in transit',
              details: {
                url: res.url.href,
                expectedSha256: expected,
                actualSha256: actual,
                bytes: data.length,
              },
            },
          );
        }
        return { data, sha256: actual, url: res.url.href };
      },
    );
  }
}

/** Reads at most `limit` bytes, then stops (leaving the loop closes the connection). */
async function readAtMost(chunks: AsyncGenerator<Buffer>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    const take = Math.min(chunk.length, limit - size);
    parts.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    size += take;
    if (size >= limit) break;
  }
  return Buffer.concat(parts, size);
}

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** The last path segment of the URL, reduced to characters safe in a file name. */
function safeFileName(url: URL): string {
  let name = url.pathname.split('/').pop() ?? '';
  try {
    name = decodeURIComponent(name);
  } catch {
    // keep the encoded form
  }
  const safe = name.replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^\.+/, '');
  return safe.slice(-200) || 'download';
}
