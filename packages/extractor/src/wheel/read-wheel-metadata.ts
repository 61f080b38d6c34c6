import { rm } from 'node:fs/promises';
import { openFileRandomAccess, openZip, openZipTail, type ZipLimits } from '@pypi-graph/archive';
import {
  crawlError,
  downloadError,
  type FailureCode,
  httpError,
  internalError,
  isCrawlError,
  jobError,
  type Logger,
  metadataError,
  silentLogger,
  toCrawlError,
} from '@pypi-graph/core';
import {
  WHEEL_METADATA_METHODS,
  type WheelMetadataFallback,
  type WheelMetadataMethod,
  type WheelMetadataResult,
} from '@pypi-graph/model';
import type { PypiClient, TrafficMeter } from '@pypi-graph/pypi-client';
import {
  DEFAULT_METADATA_MAX_BYTES,
  parseCoreMetadata,
  parseWheelFilename,
  type WheelName,
} from '@pypi-graph/pyspec';
import { HttpRandomAccess } from './http-random-access';
import { type MetadataChoice, selectWheelMetadata, selectWheelMetadataFromEnd } from './select-metadata';

/** The wheel, as the index describes it (PEP 691 file entry). */
export interface WheelFileRef {
  url: string;
  filename: string;
  /** sha256 of the wheel, hex; the download is checked against it. */
  sha256: string;
  /** Size in bytes from the index (PEP 700); a HEAD request finds it when absent. */
  size?: number | null;
  /** sha256 of the PEP 658 `.metadata` file, when the index gave one. */
  coreMetadataSha256?: string | null;
  /** Whether the index advertises a `.metadata` file (PEP 658/714 `core-metadata`). */
  hasCoreMetadata: boolean;
}

export interface ReadWheelMetadataOptions {
  /** Aborts every request (`aborted`). */
  signal?: AbortSignal;
  /** Where a full download goes; the file is deleted before the call returns. */
  tmpDir: string;
  /** Largest METADATA accepted (`metadata-too-large`); pyspec's DEFAULT_METADATA_MAX_BYTES (4 MiB) by default. */
  maxMetadataBytes?: number;
  /**
   * First range read: this many bytes from the end of the wheel. By default `rangeTailBytes(size)`:
   * 0.5% of the wheel, at least 4 KiB and at most 64 KiB (a wheel of up to 8 KiB is read whole).
   */
  tailBytes?: number;
  /** Methods to try, in this order; all three by default. */
  methods?: readonly WheelMetadataMethod[];
  /** Caps of the zip reader. */
  zipLimits?: Partial<ZipLimits>;
  logger?: Logger;
}

const KIB = 1024;

/**
 * The range path's first read, from the end of a wheel of `size` bytes: 0.5% of it, at least
 * 4 KiB and at most 64 KiB; a wheel of up to 8 KiB whole. Builders write `.dist-info/` last,
 * so METADATA's central directory record is nearly always in the last few hundred bytes: the
 * tail finds it in one request while the whole central directory of a 1–2 MB pure-Python wheel
 * is 20–40 KB (2–4%). Past 13 MB the tail stops growing: a request costs more than 64 KiB does.
 */
export function rangeTailBytes(size: number): number {
  if (size <= 8 * KIB) return size;
  return Math.min(64 * KIB, Math.max(4 * KIB, Math.floor(size / 200)));
}

// After a range-read failure these codes mean "the bytes we saw may not be the wheel" or "this
// server cannot do ranges": the sha256-checked download settles it. Every other failure (a
// policy code on a well-read directory, or a retryable network error) is final for this call.
const RANGE_FALLBACK_CODES = new Set<FailureCode>([
  'range-not-supported',
  'archive-corrupt',
  'response-invalid',
  'response-too-large',
  'http-4xx',
]);

// A `.metadata` file is derived by the index; the wheel is the authority. Any final answer
// about the `.metadata` file (404, wrong hash, too large, not metadata) sends us to the wheel.
// Retryable transport failures are thrown: the wheel's host would most likely fail the same way.
function pep658FallsThrough(code: FailureCode): boolean {
  // metadata-sha256-mismatch, metadata-too-large, metadata-invalid, …
  return code.startsWith('metadata-') || code === 'http-4xx' || code === 'response-invalid';
}

/**
 * A wheel's METADATA with as few bytes as possible (docs/architecture.md §2 wheel-metadata):
 * 1. `pep658`: the index's `<url>.metadata` file, checked against the advertised sha256;
 * 2. `range`: HTTP range reads of the zip's tail (end records and the end of the central
 *    directory, where METADATA's record nearly always is), the rest of the central directory
 *    only when METADATA is not decided there, and the METADATA entry: 1–3 requests;
 * 3. `download`: the whole wheel, sha256-verified, read locally and deleted.
 * Throws a CrawlError (see packages/extractor/readme.md for the codes).
 */
export async function readWheelMetadata(
  client: PypiClient,
  file: WheelFileRef,
  options: ReadWheelMetadataOptions,
): Promise<WheelMetadataResult> {
  const log = (options.logger ?? silentLogger).child({ filename: file.filename });
  const maxBytes = options.maxMetadataBytes ?? DEFAULT_METADATA_MAX_BYTES;
  const methods = options.methods ?? WHEEL_METADATA_METHODS;
  const meter: TrafficMeter = { requests: 0, bytesReceived: 0 };
  const fallbacks: WheelMetadataFallback[] = [];
  const wheel = parseWheelFilename(file.filename);
  const ctx: MethodContext = { client, file, options, wheel, maxBytes, meter };

  const tried = methods.filter((m) => m !== 'pep658' || file.hasCoreMetadata);
  for (const [i, method] of tried.entries()) {
    try {
      options.signal?.throwIfAborted();
      const { metadata, distInfo, centralDirectory } = await METHODS[method](ctx);
      checkMetadata(metadata, maxBytes);
      log.debug({ method, requests: meter.requests, bytes: meter.bytesReceived }, 'wheel metadata read');
      return {
        method,
        bytesTransferred: meter.bytesReceived,
        requests: meter.requests,
        metadata,
        distInfo,
        fallbacks,
        ...(centralDirectory ? { centralDirectory } : {}),
      };
    } catch (thrown) {
      const err =
        options.signal?.aborted && !(isCrawlError(thrown) && thrown.code === 'aborted')
          ? jobError('aborted', 'the operation was aborted', { cause: thrown })
          : toCrawlError(thrown);
      const last = i === tried.length - 1;
      const next =
        !last &&
        (method === 'pep658'
          ? pep658FallsThrough(err.code)
          : method === 'range' && RANGE_FALLBACK_CODES.has(err.code));
      if (!next) {
        throw crawlError(err.code, `${file.filename}: ${err.message}`, {
          hint: err.hint,
          retryAfterMs: err.retryAfterMs,
          cause: err,
          details: {
            ...err.details,
            filename: file.filename,
            method,
            fallbacks,
            requests: meter.requests,
            bytesTransferred: meter.bytesReceived,
          },
        });
      }
      log.info({ method, code: err.code, err: err.message }, 'wheel metadata: trying the next method');
      fallbacks.push({ method, code: err.code, message: err.message });
    }
  }
  throw internalError(`${file.filename}: no method to read METADATA with`, {
    details: { methods, hasCoreMetadata: file.hasCoreMetadata },
  });
}

interface MethodContext {
  client: PypiClient;
  file: WheelFileRef;
  options: ReadWheelMetadataOptions;
  wheel: WheelName;
  maxBytes: number;
  meter: TrafficMeter;
}

interface Found {
  metadata: Buffer;
  distInfo: string;
  centralDirectory?: 'whole' | 'end';
}

const METHODS: Record<WheelMetadataMethod, (ctx: MethodContext) => Promise<Found>> = {
  pep658: viaCoreMetadataFile,
  range: viaRangeReads,
  download: viaDownload,
};

// https://peps.python.org/pep-0658/: the file's URL (without fragment) plus `.metadata`.
async function viaCoreMetadataFile({
  client,
  file,
  options,
  wheel,
  maxBytes,
  meter,
}: MethodContext): Promise<Found> {
  const url = new URL(file.url);
  url.hash = '';
  url.pathname += '.metadata';
  try {
    const { data } = await client.fetchSmallFile(url.href, {
      maxBytes,
      sha256: file.coreMetadataSha256 ?? undefined,
      signal: options.signal,
      meter,
    });
    return { metadata: data, distInfo: `${wheel.name}-${wheel.version}.dist-info` };
  } catch (thrown) {
    const err = toCrawlError(thrown);
    if (err.code === 'download-sha256-mismatch') {
      throw downloadError(
        'metadata-sha256-mismatch',
        `the .metadata file does not match its sha256: ${err.message}`,
        {
          cause: err,
          details: err.details,
        },
      );
    }
    if (err.code === 'response-too-large') {
      throw metadataError('metadata-too-large', `the .metadata file is over the cap of ${maxBytes} bytes`, {
        cause: err,
        details: err.details,
      });
    }
    throw err;
  }
}

async function viaRangeReads(ctx: MethodContext): Promise<Found> {
  const { client, file, options, wheel, maxBytes, meter } = ctx;
  let size = file.size ?? null;
  if (size === null) {
    size = (await client.head(file.url, { signal: options.signal, meter })).size;
    if (size === null) throw httpError('range-not-supported', 'the wheel has no known size for range reads');
  }
  const tailBytes = options.tailBytes ?? rangeTailBytes(size);
  const source = new HttpRandomAccess(client, file.url, size, {
    signal: options.signal,
    meter,
    // A server that ignores Range: read no more than the tail would have been, then download.
    maxBytesIfRangeIgnored: tailBytes,
    sha256: file.sha256,
  });
  // 1st request: the tail (end records and the end of the central directory, where builders put
  // `.dist-info/`). Only if METADATA is not decided there, the rest of the central directory.
  // Then METADATA's local header and data. See selectWheelMetadataFromEnd for what deciding from
  // the end gives up, and why that is sound.
  const tail = await openZipTail(source, { tailBytes, limits: options.zipLimits });
  let choice: MetadataChoice | undefined;
  let centralDirectory: 'whole' | 'end' = 'whole';
  if (tail.complete) {
    choice = selectWheelMetadata(tail.entries, wheel);
  } else {
    choice = selectWheelMetadataFromEnd(tail.entries, wheel);
    if (choice) centralDirectory = 'end';
    else choice = selectWheelMetadata((await tail.open()).entries, wheel);
  }
  const metadata = await tail.readEntry(choice.entry, { maxBytes, tooLargeCode: 'metadata-too-large' });
  return { metadata, distInfo: choice.distInfo, centralDirectory };
}

async function viaDownload(ctx: MethodContext): Promise<Found> {
  const { client, file, options, wheel, maxBytes, meter } = ctx;
  const downloaded = await client.download(file.url, {
    sha256: file.sha256,
    size: file.size ?? undefined,
    dir: options.tmpDir,
    signal: options.signal,
    meter,
  });
  try {
    const source = await openFileRandomAccess(downloaded.path);
    try {
      // The whole file is here: the whole central directory, every check.
      const zip = await openZip(source, { tailBytes: options.tailBytes, limits: options.zipLimits });
      const { entry, distInfo } = selectWheelMetadata(zip.entries, wheel);
      const metadata = await zip.readEntry(entry, { maxBytes, tooLargeCode: 'metadata-too-large' });
      return { metadata, distInfo, centralDirectory: 'whole' };
    } finally {
      await source.close();
    }
  } finally {
    await rm(downloaded.path, { force: true });
  }
}

// https://packaging.python.org/en/latest/specifications/core-metadata/: METADATA is UTF-8, and
// pip refuses a wheel whose METADATA does not decode. We do not: a Latin-1 author name must not
// cost the wheel its dependencies (issue 10). parseCoreMetadata reads such lines as Latin-1, as
// packaging.metadata does, and counts them (`notUtf8Lines`, stored as the extraction's
// text_repairs). It must still look like core metadata.
function checkMetadata(metadata: Buffer, maxBytes: number): void {
  if (metadata.length > maxBytes) {
    throw metadataError(
      'metadata-too-large',
      `METADATA is ${metadata.length} bytes, over the cap of ${maxBytes}`,
    );
  }
  parseCoreMetadata(metadata, maxBytes);
}
