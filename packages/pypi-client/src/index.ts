export { createPypiClient, type PypiClient, type PypiClientConfig, type PypiClientOptions } from './client';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './common';
export { DEFAULT_DOWNLOAD_MAX_BYTES } from './files';
export { type IndexProbe, PROBE_TIMEOUT_MS, probeIndex, requireIndex } from './probe';
export {
  hostKey,
  MemoryRateLimiter,
  type RateLimiter,
  type RateOf,
  ratesFromConfig,
  unlimitedRateLimiter,
  XMLRPC_KEY,
} from './rate-limiter';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './redis-rate-limiter';
export type { ProjectJsonFile, SimpleFile, SimpleIndexEntry } from './schema';
export type {
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
  TrafficKind,
  TrafficMeter,
  TrafficObserver,
} from './types';
