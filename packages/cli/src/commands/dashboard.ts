import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '@pypi-graph/config';
import { configError, type Logger } from '@pypi-graph/core';
import { QUEUE_NAMES } from '@pypi-graph/pipeline';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { checkGuardOptions, guard } from '../dashboard-guard';

export interface DashboardOptions {
  config: Pick<Config, 'redisUrl' | 'queuePrefix'> &
    Partial<Pick<Config, 'dashboardUser' | 'dashboardPassword' | 'dashboardHosts'>>;
  logger: Logger;
  /** 3000 by default; 0 picks a free port. */
  port?: number;
  /**
   * 127.0.0.1 by default: the board can retry, clean and remove jobs, so keep it local. Anything
   * else needs DASHBOARD_USER and DASHBOARD_PASSWORD.
   */
  host?: string;
}

export interface Dashboard {
  /** The board's page, e.g. `http://127.0.0.1:3000/`; its JSON API is under `api/`. */
  readonly url: string;
  /** The queues shown. */
  readonly queues: readonly string[];
  close(): Promise<void>;
}

/** Queue names found under `prefix` in Redis (BullMQ keeps `<prefix>:<queue>:meta` and `:id`). */
async function queuesInRedis(redis: Redis, prefix: string): Promise<string[]> {
  const found = new Set<string>();
  for (const suffix of ['meta', 'id']) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*:${suffix}`, 'COUNT', 1000);
      for (const key of keys) {
        const name = key.slice(prefix.length + 1, -(suffix.length + 1));
        if (name && !name.includes(':')) found.add(name);
      }
      cursor = next;
    } while (cursor !== '0');
  }
  return [...found];
}

/**
 * Serves the BullMQ dashboard (bull-board) over every queue under QUEUE_PREFIX: ours
 * (discover, project, wheel-metadata, sdist-extract, snapshot) and any other found in Redis.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { config, logger } = options;
  if (!config.redisUrl) {
    throw configError('config-invalid', '`pnpm dashboard` needs REDIS_URL', {
      hint: 'set REDIS_URL to the Redis of the workers (e.g. redis://127.0.0.1:6379); without Redis, jobs run inside `pnpm crawl` and there is no queue to show',
    });
  }
  const host = options.host ?? '127.0.0.1';
  const guardOptions = {
    host,
    user: config.dashboardUser,
    password: config.dashboardPassword,
    extraHosts: config.dashboardHosts ?? [],
  };
  // Before Redis is touched: a dashboard that must not start does not half-start.
  checkGuardOptions(guardOptions);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error (dashboard)'));
  const queues: Queue[] = [];
  try {
    const names = [...new Set([...QUEUE_NAMES, ...(await queuesInRedis(redis, config.queuePrefix))])];
    for (const name of names) queues.push(new Queue(name, { connection: redis, prefix: config.queuePrefix }));
    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath('');
    createBullBoard({
      queues: queues.map((q) => new BullMQAdapter(q)),
      serverAdapter,
      options: { uiConfig: { boardTitle: `pypi-graph (${config.queuePrefix})` } },
    });
    const server = createServer(guard(guardOptions, serverAdapter.getRouter()));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 3000, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    logger.info(
      { url, prefix: config.queuePrefix, queues: names, login: guardOptions.user !== undefined },
      'dashboard listening',
    );
    return {
      url,
      queues: names,
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await Promise.all(queues.map((q) => q.close()));
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  } catch (err) {
    await Promise.all(queues.map((q) => q.close().catch(() => {})));
    redis.disconnect();
    throw err;
  }
}
