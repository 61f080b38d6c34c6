import type { FailureCode } from '@pypi-graph/core';
import type { ChangelogRow, ProjectJsonFile, SimpleFile, SimpleIndexEntry } from './schema';

/** Counters of the HTTP layer since the client was created, for metrics and benchmarks. */
export interface HttpStats {
  /** HTTP requests sent, every attempt and every redirect hop included. */
  requests: number;
  /** Response body bytes received (before gzip decoding). */
  bytesReceived: number;
  /** Attempts repeated after a retryable failure. */
  retries: number;
  /** Total time spent waiting for the rate limiter, milliseconds. */
  throttleWaitMs: number;
  /** Entries dropped by tolerant parsing: bad files, changelog rows, project entries. */
  droppedEntries: number;
  /** Calls that failed for good, by code. */
  failures: Partial<Record<FailureCode, number>>;
}

/**
 * Counters of one caller's traffic. Pass the same object to several calls to add them up;
 * unlike `stats()` deltas, it is exact when other calls share the client.
 */
export interface TrafficMeter {
  /** HTTP requests sent, every attempt and every redirect hop included. */
  requests: number;
  /** Response body bytes received. */
  bytesReceived: number;
}

/**
 * What a response body was fetched for: `xmlrpc` (changelog calls), `api` (Simple and JSON API
 * pages), `metadata` (small files such as PEP 658 `.metadata`), `range` (HTTP range reads),
 * `download` (whole files), `head`.
 */
export type TrafficKind = 'xmlrpc' | 'api' | 'metadata' | 'range' | 'download' | 'head';

/**
 * Told about every response body chunk as it arrives (the bytes `stats().bytesReceived` counts),
 * e.g. to feed a metrics counter. It must not throw and must be cheap.
 */
export type TrafficObserver = (kind: TrafficKind, bytes: number) => void;

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call (and any wait inside it) with code `aborted`. */
  signal?: AbortSignal;
  /** Counts this call's requests and bytes (files calls only: download, fetchRange, fetchSmallFile, head). */
  meter?: TrafficMeter;
}

export interface RangeOptions extends CallOptions {
  /**
   * When the server ignores Range and sends the whole file (200), the most bytes we read from
   * its start before giving up with `range-not-supported`; HTTP_MAX_RESPONSE_BYTES by default.
   * 0 never reads a 200 body.
   */
  maxBytesIfRangeIgnored?: number;
}

export interface SmallFileOptions extends CallOptions {
  /** Largest body accepted; more is `response-too-large`, and reading stops there. */
  maxBytes: number;
  /** Expected sha256 (hex); a mismatch is `download-sha256-mismatch`. Unchecked when absent. */
  sha256?: string;
}

export interface SmallFileResult {
  data: Buffer;
  /** sha256 of `data`, hex. */
  sha256: string;
  /** Final URL after redirects. */
  url: string;
}

export interface SerialAtOptions extends CallOptions {
  /** The current last serial, if the caller already knows it (saves one request). */
  lastSerial?: number;
}

/** Result of `changelogSerialAt`. */
export interface SerialAt {
  /** The largest serial whose events all happened before the time (0 if none did). */
  serial: number;
  /** XML-RPC calls the search made. */
  probes: number;
}

/** A PEP 691 project page. */
export interface SimpleProject {
  /** The project name as the index spells it. */
  name: string;
  /** The final page URL (after redirects); file URLs were resolved against it. */
  url: string;
  /** `meta.api-version`, e.g. `1.1`. */
  apiVersion: string;
  /** `X-PyPI-Last-Serial` (or `meta._last-serial`), null when the index sent neither. */
  lastSerial: number | null;
  /** PEP 700 `versions`; null for api-version 1.0 pages that lack it. */
  versions: string[] | null;
  files: SimpleFile[];
  /** Malformed file entries that were dropped. */
  dropped: number;
}

/** The PEP 691 root page: every project with its last serial. */
export interface SimpleIndex {
  lastSerial: number | null;
  projects: SimpleIndexEntry[];
  dropped: number;
}

/** PyPI's JSON API answer for a project. */
export interface ProjectJson {
  /** `info.name`, the display name. */
  name: string;
  /** `info.version`, the latest version; null when the index gave none. */
  version: string | null;
  lastSerial: number;
  /** Files per release version (raw version strings, in the index's order). */
  releases: Map<string, ProjectJsonFile[]>;
  /** Malformed file entries (or releases) that were dropped. */
  dropped: number;
}

export interface DownloadOptions extends CallOptions {
  /** Expected sha256 (hex); a mismatch is `download-sha256-mismatch`. */
  sha256: string;
  /** Expected size in bytes; a mismatch is `download-size-mismatch`. */
  size?: number;
  /** Directory the file is written to (it must exist). */
  dir: string;
  /** Largest body accepted when `size` is unknown; 4 GiB by default. */
  maxBytes?: number;
}

export interface DownloadResult {
  /** The verified file; the caller owns it and deletes it. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface RangeResult {
  /** The bytes `start … end` of the file. */
  data: Buffer;
  start: number;
  /** Last byte actually returned; below the requested end when the file is shorter. */
  end: number;
  /** Size of the whole file, when the server said. */
  totalSize: number | null;
  /**
   * True when the server ignored `Range` and answered 200: we read only the file's first
   * `end + 1` bytes and closed the connection. Callers should stop issuing range reads.
   */
  rangeIgnored: boolean;
}

export interface HeadResult {
  /** Final URL after redirects. */
  url: string;
  size: number | null;
  etag: string | null;
  /** Whether the server advertises `Accept-Ranges: bytes`. */
  acceptRanges: boolean;
  contentType: string | null;
  lastModified: string | null;
}
