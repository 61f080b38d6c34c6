import type { IncomingMessage } from 'node:http';
import type { Logger } from '@pypi-graph/core';
import type { FaultSet } from '../faults';
import type { IndexSource } from '../index-source';
import type { PresetSource } from '../preset-source';
import type { RequestRecord, StatsRecorder } from '../stats';
import type { XmlRpcRateLimiter } from '../xmlrpc-methods';

/** What every handler of one server shares: the index it serves and the server's own state. */
export interface ServerContext {
  readonly source: IndexSource;
  /** The PyPI-shaped preset, or undefined for a folder or a small synthetic index. */
  readonly preset: PresetSource | undefined;
  readonly faults: FaultSet;
  readonly stats: StatsRecorder;
  readonly limiter: XmlRpcRateLimiter | undefined;
  readonly log: Logger;
  /** Counts a request answered and appends it to the request log file, if any. */
  record(r: RequestRecord): void;
  /** Origin of the URLs the answer to `req` holds (files, redirects). */
  baseUrlOf(req: IncomingMessage): string;
}

/** One request, as the handlers see it. */
export interface RequestContext {
  readonly server: ServerContext;
  readonly req: IncomingMessage;
  /** Upper case. */
  readonly method: string;
  /** Percent-decoded. */
  readonly path: string;
  readonly url: URL;
  readonly baseUrl: string;
}
