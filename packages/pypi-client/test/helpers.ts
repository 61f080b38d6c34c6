import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Config, loadConfig } from '@pypi-graph/config';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import { expect } from 'vitest';

export type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
) => void | Promise<void>;

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  /** Requests received, in order. */
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

/** A real HTTP server on a random port of 127.0.0.1. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    try {
      await handler(req, res, body);
    } catch (err) {
      if (!res.headersSent) res.writeHead(599);
      res.end(String(err));
    }
  });
  const state = { connections: 0 };
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A configuration pointing at a test server, with small timeouts. */
export function testConfig(pypiUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    PYPI_URL: pypiUrl,
    PYPI_FILES_HOSTS: 'files.example.invalid',
    HTTP_TIMEOUT_MS: '2000',
    HTTP_ATTEMPTS: '3',
    HTTP_RPS_PER_HOST: '0',
    XMLRPC_RPS: '1000',
    HTTP_MAX_RESPONSE_BYTES: String(1024 * 1024),
    PYPI_CONTACT: 'tests@example.invalid',
    ...env,
  });
}

/** Retries that do not slow the tests down. */
export const fastRetry = { baseMs: 5, maxMs: 20, maxRetryAfterMs: 5_000 };

/** Awaits `p` and checks it failed with a CrawlError of `code`; returns the error. */
export async function expectCode(p: Promise<unknown>, code: FailureCode): Promise<CrawlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a CrawlError ${code}`).toBeInstanceOf(CrawlError);
  expect((err as CrawlError).code, (err as Error).message).toBe(code);
  return err as CrawlError;
}

export function json(res: http.ServerResponse, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export const sha256Of = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** A minimal valid `/pypi/<name>/json` answer. */
export function projectJson(name: string, serial = 7) {
  return {
    info: { name, version: '1.0' },
    last_serial: serial,
    releases: {
      '1.0': [
        {
          filename: `${name}-1.0.tar.gz`,
          url: `/files/${name}-1.0.tar.gz`,
          digests: { sha256: 'a'.repeat(64), md5: 'b'.repeat(32) },
          packagetype: 'sdist',
          python_version: 'source',
          size: 10,
          upload_time_iso_8601: '2020-01-02T03:04:05.123456Z',
          requires_python: null,
          yanked: false,
          yanked_reason: null,
        },
      ],
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Test-side XML-RPC serialization, written independently of the client's codec. */
export function xmlValue(v: unknown): string {
  if (v === null) return '<nil/>';
  if (typeof v === 'boolean') return `<boolean>${v ? 1 : 0}</boolean>`;
  if (typeof v === 'number') return Number.isInteger(v) ? `<int>${v}</int>` : `<double>${v}</double>`;
  if (typeof v === 'string') return `<string>${v.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</string>`;
  if (Array.isArray(v))
    return `<array><data>${v.map((x) => `<value>${xmlValue(x)}</value>`).join('\n')}</data></array>`;
  const members = Object.entries(v as object).map(
    ([k, x]) => `<member>\n<name>${k}</name>\n<value>${xmlValue(x)}</value>\n</member>`,
  );
  return `<struct>\n${members.join('\n')}\n</struct>`;
}

export function xmlResponse(value: unknown): string {
  return `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value>${xmlValue(value)}</value>\n</param>\n</params>\n</methodResponse>\n`;
}

export function xmlFault(code: number, message: string): string {
  return `<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value>${xmlValue({ faultCode: code, faultString: message })}</value>\n</fault>\n</methodResponse>\n`;
}

export type XmlRpcMethod = (
  params: number[],
) => { value: unknown } | { fault: [number, string] } | { raw: string };

/** A handler for `POST /pypi` that dispatches on methodName; integer params only (that is all PyPI needs). */
export function xmlrpcHandler(methods: Record<string, XmlRpcMethod>): Handler {
  return (req, res, body) => {
    if (req.method !== 'POST' || req.url !== '/pypi') {
      res.writeHead(404);
      res.end();
      return;
    }
    const name = /<methodName>([^<]*)<\/methodName>/.exec(body)?.[1] ?? '';
    const params = [...body.matchAll(/<(?:int|i4|i8)>(-?\d+)<\/(?:int|i4|i8)>/g)].map((m) => Number(m[1]));
    const method = methods[name];
    const out =
      method === undefined ? { fault: [1, `unknown method ${name}`] as [number, string] } : method(params);
    const text = 'raw' in out ? out.raw : 'fault' in out ? xmlFault(...out.fault) : xmlResponse(out.value);
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
}
