// What PostgreSQL's errors mean to pypi-graph. This package owns SQL, and so the SQLSTATEs and
// driver messages that tell a failed server apart from a failed query: toCrawlError (packages/core)
// learns them through registerFaultClassifier, when this package is loaded (any process that can
// see a PostgreSQL error has loaded it).
import { type CrawlError, databaseError, registerFaultClassifier } from '@pypi-graph/core';

/** SQLSTATE classes and codes that mean the server, not the query, failed. */
const PG_UNAVAILABLE = /^(08|57P0[1-3]|53300)/;
const PG_UNAVAILABLE_MESSAGE =
  /Connection terminated|terminating connection|the database system is (starting up|shutting down|in recovery)|Client has encountered a connection error|Connection ended unexpectedly|connect ECONNREFUSED/i;

/**
 * Socket errors of the connection to PostgreSQL: a query sent as the server closes the connection
 * (a restart) meets a reset or a broken pipe instead of the server's own message. Only counted
 * under drizzle's "Failed query" error, so that a socket error of anything else (an HTTP
 * download) is not taken for the database's.
 */
const SOCKET_ERRNOS = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Whether an error (or one it wraps: drizzle wraps the driver's) says that PostgreSQL was
 * unreachable or went away, so that trying again later can succeed.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0, ofQuery = false): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; severity?: unknown };
  if (typeof e.code === 'string' && typeof e.severity === 'string' && PG_UNAVAILABLE.test(e.code))
    return true;
  if (typeof e.message === 'string' && PG_UNAVAILABLE_MESSAGE.test(e.message)) return true;
  if (ofQuery && typeof e.code === 'string' && SOCKET_ERRNOS.has(e.code)) return true;
  const query = ofQuery || (typeof e.message === 'string' && e.message.startsWith('Failed query:'));
  return isDatabaseUnavailable(e.cause, depth + 1, query);
}

/** `database-unavailable` for an error of PostgreSQL going away; undefined for any other. */
export function databaseFault(err: unknown): CrawlError | undefined {
  if (!isDatabaseUnavailable(err)) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  // A restart or failover takes seconds: the retries are spaced so that a job's few attempts
  // span it, instead of spending them all in the first second.
  return databaseError('database-unavailable', `the database is unavailable: ${message}`, {
    cause: err,
    retryAfterMs: 5_000,
  });
}

registerFaultClassifier(databaseFault);
