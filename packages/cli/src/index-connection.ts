import type { Config } from '@pypi-graph/config';
import type { Logger } from '@pypi-graph/core';
import type { PypiApi } from '@pypi-graph/pipeline';
import {
  createPypiClient,
  MemoryRateLimiter,
  type PypiClient,
  type RateLimiter,
  RedisRateLimiter,
  ratesFromConfig,
  type TrafficObserver,
} from '@pypi-graph/pypi-client';
import { Redis } from 'ioredis';

/** The index client of this process, wired: the pipeline's view of it, the client itself, and what closes both. */
export interface IndexConnection {
  api: PypiApi;
  client: PypiClient;
  close(): Promise<void>;
}

/**
 * The index client as the pipeline sees it. With Redis, the rate limits (XML-RPC ≤ 1/s, HTTP
 * per host) are shared by every process of the deployment; without, they hold in this process.
 */
export function connectIndex(
  config: Config,
  logger: Logger,
  options: { onBytes?: TrafficObserver } = {},
): IndexConnection {
  let redis: Redis | undefined;
  let rateLimiter: RateLimiter;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
    redis.on('error', (err) => logger.warn({ err: err.message }, 'redis (rate limiter) error'));
    rateLimiter = new RedisRateLimiter({ redis, prefix: config.queuePrefix, rates: ratesFromConfig(config) });
  } else {
    rateLimiter = new MemoryRateLimiter({ rates: ratesFromConfig(config) });
  }
  const client = createPypiClient(config, { logger, rateLimiter, onBytes: options.onBytes });
  const api = pipelineApi(client);
  return {
    api,
    client,
    async close() {
      await client.close();
      await redis?.quit().catch(() => {});
    },
  };
}

/** The pipeline's view of a client: what a project job reads of the Simple and JSON APIs. */
export function pipelineApi(client: PypiClient): PypiApi {
  return {
    changelogLastSerial: (signal) => client.changelogLastSerial({ signal }),
    changelogSinceSerial: (serial, signal) => client.changelogSinceSerial(serial, { signal }),
    eachPackageWithSerial: (onBatch, signal) => client.eachPackageWithSerial(onBatch, { signal }),
    changelogSerialAt: async (time, signal) => (await client.changelogSerialAt(time, { signal })).serial,
    async getSimpleProject(name, signal) {
      const page = await client.getSimpleProject(name, { signal });
      return {
        name: page.name,
        lastSerial: page.lastSerial ?? undefined,
        versions: page.versions ?? undefined,
        files: page.files.map((f) => ({
          filename: f.filename,
          url: f.url,
          sha256: f.sha256 ?? undefined,
          yanked: f.yanked,
          coreMetadata: f.coreMetadata,
          size: f.size ?? undefined,
          uploadTime: f.uploadTime ?? undefined,
          requiresPython: f.requiresPython ?? undefined,
        })),
      };
    },
    async getProjectJson(name, signal) {
      const page = await client.getProjectJson(name, { signal });
      const releases = new Map(
        [...page.releases].map(([version, files]) => [
          version,
          files.map((f) => ({
            filename: f.filename,
            url: f.url,
            sha256: f.sha256,
            packagetype: f.packagetype,
            pythonVersion: f.pythonVersion ?? (f.packagetype === 'sdist' ? 'source' : ''),
            size: f.size,
            uploadTime: f.uploadTime ?? undefined,
            requiresPython: f.requiresPython,
            yanked: f.yanked,
            yankedReason: f.yankedReason,
          })),
        ]),
      );
      return { name: page.name, lastSerial: page.lastSerial, releases };
    },
  };
}
