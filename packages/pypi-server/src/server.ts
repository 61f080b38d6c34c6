import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configError, type Logger, silentLogger } from '@pypi-graph/core';
import { type FaultRule, FaultSet, parseFaultRules } from './faults';
import { scanFolder } from './folder-source';
import { NOT_PRESET } from './http/admin';
import type { ServerContext } from './http/context';
import { handleRequest } from './http/handle';
import {
  buildIndex,
  type ProjectDirective,
  type PypiIndex,
  type ReleaseDirective,
  type UploadSpec,
} from './index-model';
import { type IndexSource, memorySource } from './index-source';
import {
  type DayChange,
  isPresetSpec,
  type PresetOptions,
  PresetSource,
  type PresetStatus,
  parsePresetSpec,
} from './preset-source';
import { type RequestRecord, type ServerStats, StatsRecorder } from './stats';
import { generateSynthetic, parseSyntheticSpec, type SyntheticOptions } from './synthetic';
import { XmlRpcRateLimiter } from './xmlrpc-methods';

// The server's life: the index built, the request log opened, the port listened on, the handle
// returned. What it answers, and how, is in http/ (the routes: http/routes.ts).

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

/** Builds the index (folder and/or synthetic) and starts serving it. */
export async function startPypiServer(options: PypiServerOptions): Promise<PypiServer> {
  const log = options.log ?? silentLogger;
  const { source, eager, preset } = await openIndex(options, log);

  const faults = new FaultSet();
  if (options.faults) faults.set(parseFaultRules(options.faults));
  const stats = new StatsRecorder();
  let requestLog: WriteStream | undefined;
  if (options.requestLogFile) {
    requestLog = createWriteStream(options.requestLogFile, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      requestLog!.once('open', () => resolve());
      requestLog!.once('error', (err) =>
        reject(configError('config-invalid', `--request-log ${options.requestLogFile}: ${err.message}`)),
      );
    });
  }
  let baseUrlDefault = '';
  const context: ServerContext = {
    source,
    preset,
    faults,
    stats,
    limiter: options.xmlrpcRate ? new XmlRpcRateLimiter(options.xmlrpcRate) : undefined,
    log,
    record(r: RequestRecord) {
      stats.record(r);
      requestLog?.write(`${JSON.stringify(r)}\n`);
    },
    baseUrlOf: (req: IncomingMessage) =>
      options.publicUrl?.replace(/\/+$/, '') ??
      (req.headers.host ? `http://${req.headers.host}` : baseUrlDefault),
  };

  const server = createServer((req, res) => {
    handleRequest(context, req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('500 Internal Server Error\n');
    });
  });
  server.keepAliveTimeout = 30_000;

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
        throw configError('config-invalid', 'the PyPI-shaped preset holds no index in memory', {
          hint: 'read it over HTTP (server.url), or its size with server.preset()',
        });
      }
      return eager;
    },
    preset: () => preset?.status(),
    advanceDay: (days = 1) => {
      if (!preset) throw configError('config-invalid', NOT_PRESET);
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

/** The index to serve: the PyPI-shaped preset, or a folder and/or a small synthetic index in memory. */
async function openIndex(
  options: PypiServerOptions,
  log: Logger,
): Promise<{ source: IndexSource; eager?: PypiIndex; preset?: PresetSource }> {
  if (!options.dir && !options.synthetic) {
    throw configError('config-invalid', 'pypi-server needs --dir and/or --synthetic');
  }
  const started = Date.now();
  const presetOptions =
    typeof options.synthetic === 'string'
      ? isPresetSpec(options.synthetic)
        ? parsePresetSpec(options.synthetic)
        : undefined
      : options.synthetic && 'scale' in options.synthetic
        ? options.synthetic
        : undefined;
  if (options.day !== undefined && !presetOptions) {
    throw configError('config-invalid', '--day needs the PyPI-shaped preset (--synthetic pypi[,scale=F])');
  }
  if (presetOptions) {
    if (options.dir) {
      throw configError('config-invalid', '--synthetic pypi cannot be combined with --dir', {
        hint: 'the preset has a journal of its own; serve a folder from a second server',
      });
    }
    const preset = new PresetSource(presetOptions, options.day ?? 0, log);
    return { source: preset, preset };
  }
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
  const eager = buildIndex({ uploads, releases, projects, log });
  log.info(
    {
      projects: eager.projects.size,
      files: eager.files.size,
      lastSerial: eager.lastSerial,
      ms: Date.now() - started,
    },
    'index built',
  );
  return { source: memorySource(eager), eager };
}
