import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CrawlError, type Logger, silentLogger } from '@pypi-graph/core';
import { pythonJsonDumps } from '@pypi-graph/pyspec';
import { z } from 'zod';
import { MIME_HTML, MIME_SIMPLE_JSON, selectSimpleFormat } from './content-negotiation';
import { type FaultRule, FaultSet, parseFaultRules } from './faults';
import { scanFolder } from './folder-source';
import {
  buildIndex,
  findRelease,
  type IndexFile,
  latestRelease,
  materialize,
  type ProjectDirective,
  type PypiIndex,
  type ReleaseDirective,
  storagePath,
  type UploadSpec,
} from './index-model';
import { type IndexSource, memorySource } from './index-source';
import { renderJsonApi } from './json-api';
import {
  type DayChange,
  isPresetSpec,
  type PresetOptions,
  PresetSource,
  type PresetStatus,
  parsePresetSpec,
} from './preset-source';
import { ifRangeMatches, noneMatch, parseRange } from './ranges';
import { renderSimpleDetail, renderSimpleIndex } from './simple-api';
import { type RequestRecord, type RouteKind, type ServerStats, StatsRecorder } from './stats';
import { generateSynthetic, parseSyntheticSpec, type SyntheticOptions } from './synthetic';
import { httpDate } from './times';
import { FILES_PREFIX } from './urls';
import { handleXmlRpc, XmlRpcRateLimiter } from './xmlrpc-methods';

export interface PypiServerOptions {
  /** Folder whose sdists and wheels (recursively) form the index. */
  dir?: string;
  /**
   * Synthetic index: options or the CLI spec `projects=N,files-per-project=M[,seed=S][,payload-bytes=B]`;
   * or the PyPI-shaped preset, `pypi[,scale=F][,seed=S][,payload-bytes=B]` (readme.md), which
   * cannot be combined with `dir`.
   */
  synthetic?: SyntheticOptions | PresetOptions | string;
  /** PyPI-shaped preset only: serve the index as of this many days after its base day (default 0). */
  day?: number;
  /** Append one JSON line per request to this file (method, path, route, status, bytes, …). */
  requestLogFile?: string;
  /** Interface to listen on; 127.0.0.1 by default. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Fault rules active from the start. */
  faults?: FaultRule[];
  /** XML-RPC calls allowed per second per client address (PyPI's limiter); unlimited when absent or 0. */
  xmlrpcRate?: number;
  /** Origin used in file URLs instead of the request's Host header (e.g. behind a proxy). */
  publicUrl?: string;
  log?: Logger;
}

export interface PypiServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`: what the crawler uses as PYPI_URL. */
  readonly url: string;
  /** Highest changelog serial of the index (grows when the preset advances a day). */
  readonly lastSerial: number;
  /**
   * The index held in memory (folder, small synthetic index). The PyPI-shaped preset holds none:
   * reading this then throws; ask over HTTP, or use `preset()`.
   */
  readonly index: PypiIndex;
  /** The PyPI-shaped preset's day and size, or undefined for other indexes. */
  preset(): PresetStatus | undefined;
  /** PyPI-shaped preset only: serve `days` (1) more days of changes. */
  advanceDay(days?: number): DayChange;
  /** Replaces the active fault rules. */
  setFaults(rules: FaultRule[]): void;
  clearFaults(): void;
  /** Active rules with their remaining uses (null = unlimited). */
  faults(): Array<FaultRule & { remaining: number | null }>;
  /** Request counts and bytes sent since start (or the last reset). */
  stats(): ServerStats;
  resetStats(): void;
  /** The most recent requests, oldest first (up to 10,000). */
  readonly requestLog: RequestRecord[];
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** A body produced while it is sent (listings, project pages), instead of `body`. */
  stream?: Iterable<string> | AsyncIterable<string>;
  route: RouteKind;
  xmlrpcMethod?: string;
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers':
    'Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since',
  'Access-Control-Allow-Methods': 'GET',
  'Access-Control-Max-Age': '86400',
  'Access-Control-Expose-Headers': 'X-PyPI-Last-Serial',
};

const text = (
  status: number,
  body: string,
  route: RouteKind,
  headers: Record<string, string> = {},
): Reply => ({
  status,
  headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers },
  body: Buffer.from(body, 'utf8'),
  route,
});

const notFound = (): Reply => ({
  ...text(404, '404 Not Found\n', 'not-found'),
  headers: { 'Content-Type': 'text/html; charset=utf-8' },
});

// Warehouse answers unknown JSON API projects and versions with this body.
const jsonNotFound = (): Reply => ({
  status: 404,
  headers: { 'Content-Type': 'application/json', ...CORS },
  body: Buffer.from(pythonJsonDumps({ message: 'Not Found' })),
  route: 'not-found',
});

const redirect = (location: string): Reply => ({
  ...text(301, `301 Moved Permanently\n\nThe resource has been moved to ${location}\n`, 'redirect', {
    Location: location,
    ...CORS,
  }),
});

/** Builds the index (folder and/or synthetic) and starts serving it. */
export async function startPypiServer(options: PypiServerOptions): Promise<PypiServer> {
  const log = options.log ?? silentLogger;
  if (!options.dir && !options.synthetic) {
    throw new CrawlError('config-invalid', 'pypi-server needs --dir and/or --synthetic');
  }
  const started = Date.now();
  let eager: PypiIndex | undefined;
  let preset: PresetSource | undefined;
  let source: IndexSource;
  const presetOptions =
    typeof options.synthetic === 'string'
      ? isPresetSpec(options.synthetic)
        ? parsePresetSpec(options.synthetic)
        : undefined
      : options.synthetic && 'scale' in options.synthetic
        ? options.synthetic
        : undefined;
  if (options.day !== undefined && !presetOptions) {
    throw new CrawlError('config-invalid', '--day needs the PyPI-shaped preset (--synthetic pypi[,scale=F])');
  }
  if (presetOptions) {
    if (options.dir) {
      throw new CrawlError('config-invalid', '--synthetic pypi cannot be combined with --dir', {
        hint: 'the preset has a journal of its own; serve a folder from a second server',
      });
    }
    preset = new PresetSource(presetOptions, options.day ?? 0, log);
    source = preset;
  } else {
    const uploads: UploadSpec[] = [];
    const releases = new Map<string, ReleaseDirective>();
    const projects = new Map<string, ProjectDirective>();
    if (options.dir) {
      const folder = await scanFolder(options.dir, log);
      // One push per item: spreading an array into push() passes every item as an argument, and
      // V8 overflows its stack at about 120,000 arguments (150,000 synthetic files did).
      for (const u of folder.uploads) uploads.push(u);
      for (const [k, v] of folder.releases) releases.set(k, v);
      for (const [k, v] of folder.projects) projects.set(k, v);
    }
    if (options.synthetic) {
      const spec =
        typeof options.synthetic === 'string'
          ? parseSyntheticSpec(options.synthetic)
          : (options.synthetic as SyntheticOptions);
      const synthetic = generateSynthetic(spec);
      for (const u of synthetic.uploads) uploads.push(u);
      for (const [k, v] of synthetic.releases) releases.set(k, v);
    }
    eager = buildIndex({ uploads, releases, projects, log });
    source = memorySource(eager);
    log.info(
      {
        projects: eager.projects.size,
        files: eager.files.size,
        lastSerial: eager.lastSerial,
        ms: Date.now() - started,
      },
      'index built',
    );
  }

  const faults = new FaultSet();
  if (options.faults) faults.set(parseFaultRules(options.faults));
  const stats = new StatsRecorder();
  const limiter = options.xmlrpcRate ? new XmlRpcRateLimiter(options.xmlrpcRate) : undefined;
  let requestLog: WriteStream | undefined;
  if (options.requestLogFile) {
    requestLog = createWriteStream(options.requestLogFile, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      requestLog!.once('open', () => resolve());
      requestLog!.once('error', (err) =>
        reject(new CrawlError('config-invalid', `--request-log ${options.requestLogFile}: ${err.message}`)),
      );
    });
  }
  const record = (r: RequestRecord) => {
    stats.record(r);
    requestLog?.write(`${JSON.stringify(r)}\n`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('500 Internal Server Error\n');
    });
  });
  server.keepAliveTimeout = 30_000;

  let baseUrlDefault = '';
  const baseUrlOf = (req: IncomingMessage) =>
    options.publicUrl?.replace(/\/+$/, '') ??
    (req.headers.host ? `http://${req.headers.host}` : baseUrlDefault);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return send(req, res, text(400, '400 Bad Request\n', 'other'), url.pathname);
    }
    if (path.startsWith('/_admin/')) return admin(req, res, method, path);

    const fault = faults.take(method, path, [
      '429',
      '503',
      'slow',
      'truncate',
      'wrong-bytes',
      'malformed-json',
    ]);
    if (fault?.kind === '429') {
      return send(
        req,
        res,
        text(429, '429 Too Many Requests\n', 'other', { 'Retry-After': String(fault.retryAfter ?? 1) }),
        path,
        fault,
      );
    }
    if (fault?.kind === '503') {
      const headers: Record<string, string> =
        fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
      return send(req, res, text(503, '503 Service Unavailable\n', 'other', headers), path, fault);
    }
    if (fault?.kind === 'malformed-json') {
      return send(
        req,
        res,
        {
          status: 200,
          headers: { 'Content-Type': 'application/json' },
          body: Buffer.from('{"meta":{"api-version":"1.3","_last-serial":'),
          route: 'other',
        },
        path,
        fault,
      );
    }
    const reply = await route(req, method, path, url);
    return send(req, res, reply, path, fault);
  }

  async function route(req: IncomingMessage, method: string, path: string, url: URL): Promise<Reply> {
    const baseUrl = baseUrlOf(req);
    // XML-RPC endpoints: /pypi, /pypi/ and /RPC2 (warehouse/routes.py).
    if (path === '/pypi' || path === '/pypi/' || path === '/RPC2') {
      if (method !== 'POST')
        return { ...text(405, '405 Method Not Allowed\n', 'xmlrpc'), headers: { Allow: 'POST' } };
      const body = await readBody(req, 10 * 1024 * 1024);
      const clientKey = req.socket.remoteAddress ?? 'unknown';
      const rateFault = faults.take(method, path, ['xmlrpc-rate-limit']);
      const result = handleXmlRpc(source, body.toString('utf8'), {
        limiter,
        clientKey,
        forceRateLimit: rateFault !== undefined,
        log,
      });
      return {
        status: 200,
        headers: { 'Content-Type': 'text/xml; charset=utf-8' },
        body: Buffer.alloc(0),
        stream: result.chunks,
        route: 'xmlrpc',
        xmlrpcMethod: result.method,
      };
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return { ...text(405, '405 Method Not Allowed\n', 'other'), headers: { Allow: 'GET, HEAD' } };
    }
    const query = url.search;

    // Simple API. https://peps.python.org/pep-0503/ https://peps.python.org/pep-0691/
    if (path === '/simple') return redirect(`${baseUrl}/simple/${query}`);
    if (path === '/simple/') {
      const format = selectSimpleFormat(req.headers.accept, url.searchParams.get('format'));
      if (!format) return notAcceptable();
      return {
        ...simpleReply(format, '', source.lastSerial, 'simple-index'),
        stream: renderSimpleIndex(source, format),
      };
    }
    const simple = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (simple) {
      const requested = simple[1]!;
      const normalized = requested.replace(/[-_.]+/g, '-').toLowerCase();
      const project = source.project(normalized);
      if (!project) return notFound();
      // PEP 503: project URLs use the normalized name (and end with a slash).
      if (requested !== normalized || simple[2] !== '/') {
        return redirect(`${baseUrl}/simple/${encodeURIComponent(normalized)}/${query}`);
      }
      const format = selectSimpleFormat(req.headers.accept, url.searchParams.get('format'));
      if (!format) return notAcceptable();
      return {
        ...simpleReply(format, '', project.lastSerial, 'simple-project'),
        stream: renderSimpleDetail(project, format, baseUrl),
      };
    }

    // JSON API. https://docs.pypi.org/api/json/
    const json = /^\/pypi\/([^/]+)(?:\/([^/]+))?\/json\/?$/.exec(path);
    if (json) {
      const requested = json[1]!;
      const version = json[2];
      const normalized = requested.replace(/[-_.]+/g, '-').toLowerCase();
      const project = source.project(normalized);
      if (!project) return jsonNotFound();
      const release = version === undefined ? latestRelease(project) : findRelease(project, version);
      if (!release) return jsonNotFound();
      // Warehouse redirects any other spelling to the project's own (display) name, keeping the
      // rest of the URL: `/pypi/django/json` → `/pypi/Django/json` (its json_project view).
      if (requested !== project.name) {
        const rest = path.slice(`/pypi/${requested}`.length).split('/').map(encodeURIComponent).join('/');
        return redirect(`${baseUrl}/pypi/${encodeURIComponent(project.name)}${rest}${query}`);
      }
      return {
        status: 200,
        headers: {
          'Content-Type': 'application/json',
          'X-PyPI-Last-Serial': String(project.lastSerial),
          'Cache-Control': 'max-age=900, public',
          ...CORS,
        },
        body: Buffer.alloc(0),
        stream: renderJsonApi(project, release, baseUrl, version === undefined),
        route: version === undefined ? 'json-project' : 'json-release',
      };
    }

    // Files, laid out like files.pythonhosted.org/packages/<b2>/<b2>/<b2>/<filename>.
    if (path.startsWith(FILES_PREFIX)) return serveFile(req, path.slice(FILES_PREFIX.length));

    if (path === '/') {
      return text(
        200,
        'pypi-graph pypi-server: see /simple/, /pypi/<project>/json and XML-RPC at /pypi\n',
        'other',
      );
    }
    return notFound();
  }

  async function serveFile(req: IncomingMessage, rest: string): Promise<Reply> {
    const segments = rest.split('/');
    if (segments.length !== 4) return notFound();
    const name = segments[3]!;
    let file: IndexFile | undefined = source.file(name);
    let isMetadata = false;
    if (!file && name.endsWith('.metadata')) {
      file = source.file(name.slice(0, -'.metadata'.length));
      isMetadata = true;
    }
    if (!file) return notFound();
    const m = await materialize(file);
    const expected = storagePath(m);
    if (`${segments.slice(0, 3).join('/')}/${file.filename}` !== expected) return notFound();
    let body: Buffer;
    let etag: string;
    if (isMetadata) {
      // PEP 658: the core metadata file of a wheel at `<file url>.metadata`.
      const bytes = file.hasMetadataFile ? await file.content.metadataBytes() : undefined;
      if (!bytes) return notFound();
      body = bytes;
      etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
    } else {
      body = Buffer.alloc(0); // read below, only the bytes needed
      etag = `"${m.stat.md5}"`;
    }
    const size = isMetadata ? body.length : m.stat.size;
    const lastModified = httpDate(file.uploadTimeUs);
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: etag,
      'Last-Modified': lastModified,
      'Cache-Control': 'max-age=365000000, immutable, public',
      'Access-Control-Allow-Origin': '*',
    };
    const route: RouteKind = isMetadata ? 'metadata' : 'file';
    if (noneMatch(req.headers['if-none-match'], etag)) {
      return { status: 304, headers, body: Buffer.alloc(0), route };
    }
    const range = ifRangeMatches(req.headers['if-range'] as string | undefined, etag, lastModified)
      ? parseRange(req.headers.range, size)
      : ({ kind: 'full' } as const);
    if (range.kind === 'unsatisfiable') {
      return {
        status: 416,
        headers: {
          ...headers,
          'Content-Range': `bytes */${size}`,
          'Content-Type': 'text/plain; charset=utf-8',
        },
        body: Buffer.from('416 Range Not Satisfiable\n'),
        route,
      };
    }
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size];
    const head = req.method?.toUpperCase() === 'HEAD';
    if (!isMetadata && !head) body = await file.content.read(start, end);
    else if (isMetadata) body = body.subarray(start, end);
    if (range.kind === 'partial') {
      headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
      return { status: 206, headers: { ...headers, 'Content-Length': String(end - start) }, body, route };
    }
    return { status: 200, headers: { ...headers, 'Content-Length': String(size) }, body, route };
  }

  function simpleReply(format: string, body: string, serial: number, route: RouteKind): Reply {
    const contentType = format === MIME_SIMPLE_JSON ? format : `${format}; charset=utf-8`;
    return {
      status: 200,
      headers: {
        'Content-Type': contentType,
        Vary: 'Accept',
        'X-PyPI-Last-Serial': String(serial),
        'Cache-Control': 'max-age=600, public',
        ...CORS,
      },
      body: Buffer.from(body, 'utf8'),
      route,
    };
  }

  function notAcceptable(): Reply {
    return text(
      406,
      `406 Not Acceptable\n\nAvailable: ${MIME_HTML}, application/vnd.pypi.simple.v1+html, ${MIME_SIMPLE_JSON}\n`,
      'other',
      { Vary: 'Accept' },
    );
  }

  async function admin(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
  ): Promise<void> {
    const reply = (status: number, value: unknown) => {
      const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
      res.end(body);
    };
    if (path === '/_admin/faults' && method === 'GET') return reply(200, { rules: faults.list() });
    if (path === '/_admin/faults' && method === 'DELETE') {
      faults.clear();
      return reply(200, { rules: [] });
    }
    if (path === '/_admin/faults' && method === 'POST') {
      try {
        const rules = parseFaultRules(JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8')));
        faults.set(rules);
        log.info({ rules: rules.length }, 'fault rules set');
        return reply(200, { rules: faults.list() });
      } catch (err) {
        return reply(400, { error: (err as Error).message });
      }
    }
    if (path === '/_admin/stats' && method === 'GET') return reply(200, stats.snapshot());
    if (path === '/_admin/stats' && method === 'DELETE') {
      stats.reset();
      return reply(200, stats.snapshot());
    }
    if (path === '/_admin/log' && method === 'GET') return reply(200, stats.recent());
    if (path === '/_admin/day' && method === 'GET') {
      return preset ? reply(200, preset.status()) : reply(409, { error: NOT_PRESET });
    }
    if (path === '/_admin/advance-day' && method === 'POST') {
      if (!preset) return reply(409, { error: NOT_PRESET });
      try {
        const text = (await readBody(req, 1024)).toString('utf8').trim();
        const days = text ? AdvanceBody.parse(JSON.parse(text)).days : 1;
        return reply(200, preset.advance(days));
      } catch (err) {
        return reply(400, { error: (err as Error).message });
      }
    }
    return reply(404, { error: 'unknown admin endpoint' });
  }

  async function send(
    req: IncomingMessage,
    res: ServerResponse,
    reply: Reply,
    path: string,
    fault?: FaultRule,
  ): Promise<void> {
    // A fault that changes the body needs it whole; faults are for small test indexes.
    if (reply.stream && fault && ['truncate', 'slow', 'wrong-bytes'].includes(fault.kind)) {
      const parts: string[] = [];
      for await (const part of reply.stream) parts.push(part);
      reply = { ...reply, body: Buffer.from(parts.join(''), 'utf8'), stream: undefined };
    }
    const head = req.method?.toUpperCase() === 'HEAD';
    let body = reply.body;
    const headers = { ...reply.headers };
    if (reply.status !== 304 && !reply.stream) headers['Content-Length'] ??= String(body.length);
    if (fault?.kind === 'wrong-bytes' && body.length > 0) {
      // Same length, one byte changed: only a digest check notices.
      body = Buffer.from(body);
      const at = Math.min(fault.bytes ?? Math.floor(body.length / 2), body.length - 1);
      body[at] = body[at]! ^ 0xff;
    }
    const entry: RequestRecord = {
      at: Date.now(),
      method: req.method?.toUpperCase() ?? 'GET',
      path,
      route: reply.route,
      status: reply.status,
      bytes: 0,
      xmlrpcMethod: reply.xmlrpcMethod,
      fault: fault?.kind,
      contentRange: reply.status === 206 ? headers['Content-Range'] : undefined,
    };
    res.writeHead(reply.status, headers);
    if (reply.stream && !head) {
      // Chunked: written as it is produced, waiting whenever the socket's buffer is full.
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      try {
        for await (const chunk of reply.stream) {
          if (closed) break;
          const bytes = Buffer.from(chunk, 'utf8');
          entry.bytes += bytes.length;
          if (!res.write(bytes)) await drained(res);
        }
        if (!closed) res.end();
      } catch (err) {
        // Too late for an error status: cut the response, so the client sees it incomplete.
        log.error({ err, path }, 'response failed while streaming');
        res.destroy();
      }
      record(entry);
      return;
    }
    if (head || reply.status === 304 || body.length === 0) {
      res.end();
      record(entry);
      return;
    }
    if (fault?.kind === 'truncate') {
      const n = Math.min(fault.bytes ?? Math.floor(body.length / 2), Math.max(0, body.length - 1));
      entry.bytes = n;
      record(entry);
      res.write(body.subarray(0, n), () => res.socket?.destroy());
      if (n === 0) res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'slow') {
      const delay = fault.delayMs ?? 200;
      const chunk = Math.max(1, fault.bytes ?? 16 * 1024);
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      for (let off = 0; off < body.length && !closed; off += chunk) {
        await new Promise((r) => setTimeout(r, delay));
        if (closed) break;
        const part = body.subarray(off, off + chunk);
        res.write(part);
        entry.bytes += part.length;
      }
      if (!closed) res.end();
      record(entry);
      return;
    }
    entry.bytes = body.length;
    record(entry);
    res.end(body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  baseUrlDefault = url;
  log.info({ url }, 'pypi-server listening');

  return {
    url,
    get lastSerial() {
      return source.lastSerial;
    },
    get index(): PypiIndex {
      if (!eager) {
        throw new CrawlError('config-invalid', 'the PyPI-shaped preset holds no index in memory', {
          hint: 'read it over HTTP (server.url), or its size with server.preset()',
        });
      }
      return eager;
    },
    preset: () => preset?.status(),
    advanceDay: (days = 1) => {
      if (!preset) throw new CrawlError('config-invalid', NOT_PRESET);
      return preset.advance(days);
    },
    setFaults: (rules) => faults.set(parseFaultRules(rules)),
    clearFaults: () => faults.clear(),
    faults: () => faults.list(),
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    get requestLog() {
      return stats.recent();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => {
          if (err) return reject(err);
          if (requestLog) requestLog.end(() => resolve());
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}

const NOT_PRESET = 'only the PyPI-shaped preset (--synthetic pypi) has days to advance';
const AdvanceBody = z
  .object({ days: z.number().int().min(1).optional() })
  .transform((b) => ({ days: b.days ?? 1 }));

/** Resolves when the response can take more (or is gone). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new CrawlError('response-too-large', `request body over ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
