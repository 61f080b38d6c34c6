import type { Config } from '@pypi-graph/config';
import { type Logger, silentLogger } from '@pypi-graph/core';
import type { ChangelogRow } from '@pypi-graph/model';
import { XmlRpcClient } from './changelog';
import type { RetryPolicy } from './common';
import { FilesApi } from './files';
import { HttpClient } from './http';
import { IndexApi } from './index-api';
import { MemoryRateLimiter, type RateLimiter, ratesFromConfig } from './rate-limiter';
import type {
  CallOptions,
  DownloadOptions,
  DownloadResult,
  HeadResult,
  HttpStats,
  ProjectJson,
  RangeOptions,
  RangeResult,
  SerialAt,
  SerialAtOptions,
  SimpleIndex,
  SimpleProject,
  SmallFileOptions,
  SmallFileResult,
  TrafficObserver,
} from './types';

export type PypiClientConfig = Pick<
  Config,
  | 'pypiUrl'
  | 'filesHosts'
  | 'userAgent'
  | 'xmlrpcRps'
  | 'httpRpsPerHost'
  | 'httpConnectionsPerHost'
  | 'httpTimeoutMs'
  | 'httpDeadlineMs'
  | 'httpAttempts'
  | 'httpMaxResponseBytes'
>;

export interface PypiClientOptions {
  /** Where request, retry and drop events are logged; silent by default. */
  logger?: Logger;
  /** Throttle shared by the calls; a RedisRateLimiter makes it hold across workers. In-process by default. */
  rateLimiter?: RateLimiter;
  /** Backoff timing of retries; the defaults suit PyPI. */
  retry?: Partial<RetryPolicy>;
  /**
   * Told about every response body chunk, by kind (`xmlrpc`, `api`, `metadata`, `range`,
   * `download`, `head`): a metrics counter plugs in here. Their sum is `stats().bytesReceived`.
   */
  onBytes?: TrafficObserver;
  /** Certificates (PEM) trusted besides Node's roots (a private mirror's CA; tests). */
  ca?: string | Buffer;
  /** How long a host name that did not resolve is not asked again; 60 s by default. */
  dnsFailureTtlMs?: number;
}

/** Everything pypi-graph asks of a package index. Every call takes an AbortSignal. */
export interface PypiClient {
  /** `changelog_last_serial`: the newest serial of the index. */
  changelogLastSerial(options?: CallOptions): Promise<number>;
  /** `changelog_since_serial`: rows after `serial`, in serial order; malformed rows dropped and counted. */
  changelogSinceSerial(serial: number, options?: CallOptions): Promise<ChangelogRow[]>;
  /** The serial just before `time` (a Date, or Unix seconds), by binary search over the changelog. */
  changelogSerialAt(time: Date | number, options?: SerialAtOptions): Promise<SerialAt>;
  /**
   * `list_packages_with_serial`: every project name with its last serial, read as it arrives,
   * `batchSize` (1000) entries at a time, never held whole; malformed entries dropped and counted;
   * a retried request delivers from the start again. Returns how many entries were delivered.
   */
  eachPackageWithSerial(
    onBatch: (batch: Array<[string, number]>) => Promise<void>,
    options?: CallOptions & { batchSize?: number },
  ): Promise<number>;
  /** PEP 691 JSON project page; `project-not-found` on 404. */
  getSimpleProject(name: string, options?: CallOptions): Promise<SimpleProject>;
  /** `/pypi/<name>/json`; `project-not-found` on 404. */
  getProjectJson(name: string, options?: CallOptions): Promise<ProjectJson>;
  /** PEP 691 JSON root page `/simple/`. */
  getSimpleIndex(options?: CallOptions): Promise<SimpleIndex>;
  /** Streams a file to `options.dir`, verifying sha256 (and size); the caller owns the result. */
  download(url: string, options: DownloadOptions): Promise<DownloadResult>;
  /** Bytes `start … endInclusive` of a file, by HTTP Range. */
  fetchRange(url: string, start: number, endInclusive: number, options?: RangeOptions): Promise<RangeResult>;
  /** A small file read into memory with a size cap and an optional sha256 check (PEP 658 `.metadata`). */
  fetchSmallFile(url: string, options: SmallFileOptions): Promise<SmallFileResult>;
  /** HEAD of a file. */
  head(url: string, options?: CallOptions): Promise<HeadResult>;
  /** A copy of the counters (requests, bytes, retries, …). */
  stats(): HttpStats;
  /** Closes idle connections and waits for running requests. */
  close(): Promise<void>;
}

/** The client of one index (`config.pypiUrl`) and its files hosts (`config.filesHosts`). */
export function createPypiClient(config: PypiClientConfig, options: PypiClientOptions = {}): PypiClient {
  const logger = (options.logger ?? silentLogger).child({ component: 'pypi-client' });
  const http = new HttpClient({
    config,
    logger,
    rateLimiter: options.rateLimiter ?? new MemoryRateLimiter({ rates: ratesFromConfig(config) }),
    // The index's own host is always allowed (loadConfig already adds it to filesHosts).
    allowedHosts: new Set([new URL(config.pypiUrl).host, ...config.filesHosts].map((h) => h.toLowerCase())),
    retry: options.retry,
    onBytes: options.onBytes,
    ca: options.ca,
    dnsFailureTtlMs: options.dnsFailureTtlMs,
  });
  // https://warehouse.pypa.io/api-reference/xml-rpc.html: the endpoint is /pypi.
  const xmlrpc = new XmlRpcClient(http, new URL(`${config.pypiUrl.replace(/\/+$/, '')}/pypi`));
  const index = new IndexApi(http, config.pypiUrl);
  const files = new FilesApi(http);

  return {
    changelogLastSerial: (o) => xmlrpc.changelogLastSerial(o),
    changelogSinceSerial: (serial, o) => xmlrpc.changelogSinceSerial(serial, o),
    changelogSerialAt: (time, o) => xmlrpc.changelogSerialAt(time, o),
    eachPackageWithSerial: (onBatch, o) => xmlrpc.eachPackageWithSerial(onBatch, o),
    getSimpleProject: (name, o) => index.getSimpleProject(name, o),
    getProjectJson: (name, o) => index.getProjectJson(name, o),
    getSimpleIndex: (o) => index.getSimpleIndex(o),
    download: (url, o) => files.download(url, o),
    fetchRange: (url, start, end, o) => files.fetchRange(url, start, end, o),
    head: (url, o) => files.head(url, o),
    fetchSmallFile: (url, o) => files.fetchSmallFile(url, o),
    stats: () => http.snapshot(),
    close: () => http.close(),
  };
}
