import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { configError } from '@pypi-graph/core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { lockPglite, type PgliteLock } from './pglite-lock';
import * as schema from './schema';

export type Schema = typeof schema;
/** A drizzle database over either PostgreSQL or PGlite: same schema, same queries. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  /** Runs raw SQL (several statements allowed, no parameters): migrations only. */
  execScript(sql: string): Promise<void>;
  /** Runs `fn` on one connection holding a session advisory lock. */
  withAdvisoryLock<T>(key: number, fn: (exec: (sql: string) => Promise<void>) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding a session advisory lock if nobody holds it, else returns `{ acquired: false }`
   * at once. The lock goes with the session: a process that dies releases it.
   */
  tryAdvisoryLock<T>(
    key: number,
    fn: () => Promise<T>,
  ): Promise<{ acquired: true; value: T } | { acquired: false }>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; when absent, PGlite at `pglitePath`. */
  databaseUrl?: string;
  /** Data directory of the embedded database. `memory://` keeps it in memory. */
  pglitePath?: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /** Called with every statement drizzle sends (PostgreSQL only): `explainCalls` uses it. */
  onQuery?: (sql: string, params: unknown[]) => void;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10, options.onQuery);
  if (!options.pglitePath) {
    throw configError('config-invalid', 'no DATABASE_URL and no embedded database path');
  }
  return openPglite(options.pglitePath);
}

async function openPostgres(
  url: string,
  max: number,
  onQuery?: (sql: string, params: unknown[]) => void,
): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'pypi-graph' });
  // A dropped server connection must not crash the process; the next query reconnects.
  // `pool.on('error')` covers idle clients only: a client that is checked out (in a transaction,
  // holding an advisory lock) when the server ends its session emits 'error' on itself, which
  // would be unhandled; the query it was running gets the error anyway.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const logger = onQuery ? { logQuery: onQuery } : undefined;
  const db = drizzlePg(pool, { schema, logger }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    async execScript(sql) {
      await pool.query(sql);
    },
    async withAdvisoryLock(key, fn) {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [key]);
        try {
          return await fn(async (sql) => {
            await client.query(sql);
          });
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]);
        }
      } finally {
        client.release();
      }
    },
    async tryAdvisoryLock(key, fn) {
      const client = await pool.connect();
      try {
        const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
        if (!res.rows[0]?.ok) return { acquired: false };
        try {
          return { acquired: true, value: await fn() };
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
        }
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  let lock: PgliteLock | undefined;
  if (!dataDir.startsWith('memory://')) {
    await mkdir(dataDir, { recursive: true });
    lock = await lockPglite(dataDir);
  }
  let client: PGlite;
  try {
    client = await PGlite.create(dataDir);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const held = new Set<number>();
  return {
    db,
    kind: 'pglite',
    async execScript(sql) {
      await client.exec(sql);
    },
    // One process owns a PGlite directory (pglite-lock.ts), so a lock is only needed against ourselves.
    async withAdvisoryLock(_key, fn) {
      return fn(async (sql) => {
        await client.exec(sql);
      });
    },
    // One process owns a PGlite directory: a lock held in this process is the only contender.
    async tryAdvisoryLock(key, fn) {
      if (held.has(key)) return { acquired: false };
      held.add(key);
      try {
        return { acquired: true, value: await fn() };
      } finally {
        held.delete(key);
      }
    },
    async close() {
      try {
        await client.close();
      } finally {
        await lock?.release();
      }
    },
  };
}
