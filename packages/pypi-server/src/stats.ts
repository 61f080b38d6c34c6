// Request counters, for tests that assert how a client used the index ("never downloaded a
// whole wheel", "retried after the 429") and for benchmarks (bytes sent).

export type RouteKind =
  | 'simple-index'
  | 'simple-project'
  | 'json-project'
  | 'json-release'
  | 'file'
  | 'metadata'
  | 'xmlrpc'
  | 'redirect'
  | 'not-found'
  | 'other';

export interface RequestRecord {
  method: string;
  /** Decoded path without the query string. */
  path: string;
  route: RouteKind;
  status: number;
  /** Body bytes actually written. */
  bytes: number;
  /** XML-RPC method name, for XML-RPC calls. */
  xmlrpcMethod?: string;
  /** Kind of the fault applied, if any. */
  fault?: string;
  /** For 206 responses, the `Content-Range` sent. */
  contentRange?: string;
  /** When the answer started (ms since the epoch). */
  at?: number;
}

export interface ServerStats {
  requests: number;
  bytesSent: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  byFault: Record<string, number>;
  byXmlrpcMethod: Record<string, number>;
  /** Keyed by `"<METHOD> <path>"`; at most {@link MAX_PATHS} keys, the rest under `"(other)"`. */
  byPath: Record<string, { requests: number; bytes: number }>;
}

const MAX_PATHS = 50_000;
const LOG_SIZE = 10_000;

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export class StatsRecorder {
  private stats: ServerStats = StatsRecorder.empty();
  private log: RequestRecord[] = [];
  private paths = 0;

  private static empty(): ServerStats {
    return {
      requests: 0,
      bytesSent: 0,
      byRoute: {},
      byStatus: {},
      byFault: {},
      byXmlrpcMethod: {},
      byPath: {},
    };
  }

  record(r: RequestRecord): void {
    const s = this.stats;
    s.requests++;
    s.bytesSent += r.bytes;
    bump(s.byRoute, r.route);
    bump(s.byStatus, String(r.status));
    if (r.fault) bump(s.byFault, r.fault);
    if (r.xmlrpcMethod) bump(s.byXmlrpcMethod, r.xmlrpcMethod);
    let key = `${r.method} ${r.path}`;
    if (!s.byPath[key]) {
      if (this.paths >= MAX_PATHS) key = '(other)';
      else this.paths++;
    }
    const p = s.byPath[key] ?? { requests: 0, bytes: 0 };
    s.byPath[key] = p;
    p.requests++;
    p.bytes += r.bytes;
    this.log.push(r);
    if (this.log.length > LOG_SIZE * 2) this.log = this.log.slice(-LOG_SIZE);
  }

  snapshot(): ServerStats {
    return structuredClone(this.stats);
  }

  /** The most recent requests (up to 10,000), oldest first. */
  recent(): RequestRecord[] {
    return this.log.slice(-LOG_SIZE);
  }

  reset(): void {
    this.stats = StatsRecorder.empty();
    this.log = [];
    this.paths = 0;
  }
}
