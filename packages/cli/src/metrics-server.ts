import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '@pypi-graph/config';
import type { Logger } from '@pypi-graph/core';

/** What the server needs of a prom-client Registry (PipelineMetrics.registry is one). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsServer {
  /** The port listened on (the chosen one when METRICS_PORT=0). */
  readonly port: number;
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) on METRICS_HOST:METRICS_PORT; undefined when
 * METRICS_PORT is unset. Used by `pnpm worker` and the scheduler.
 */
export async function startMetricsServer(
  config: Pick<Config, 'metricsPort' | 'metricsHost'>,
  registry: MetricsSource,
  logger: Logger,
): Promise<MetricsServer | undefined> {
  if (config.metricsPort === undefined) return undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.warn({ err: String(err) }, 'metrics collection failed');
        res
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end('metrics collection failed\n');
      },
    );
  });
  // A scraper keeps its connection open: close() must not wait for it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.metricsHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.warn({ err: err.message }, 'metrics server error'));
  const port = (server.address() as AddressInfo).port;
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  const url = `http://${host}:${port}/metrics`;
  logger.info({ url, port }, 'metrics server listening');
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
