// EXPLAIN (ANALYZE, BUFFERS) of exactly what the db functions send (issue 9): a benchmark runs
// a function, its statements are captured on the way to PostgreSQL, then each is replayed under
// EXPLAIN in one transaction that is rolled back.
import pg from 'pg';
import type { Db } from './connection';
import { openDatabase } from './connection';

export interface ExplainedStatement {
  sql: string;
  plan: string;
  /** PostgreSQL's own "Execution Time" of the statement, ms. */
  executionMs: number;
  /** Tables the plan reads with a sequential scan (every row of them). */
  seqScans: string[];
}

/**
 * Runs `fn` against the database at `databaseUrl` (for real: give it calls whose writes are
 * idempotent, such as saving a project's current state again), capturing every statement, then
 * replays each captured statement under EXPLAIN (ANALYZE, BUFFERS) in the order they ran, in one
 * transaction that is rolled back. Transaction control statements are not explained.
 */
export async function explainCalls(
  databaseUrl: string,
  fn: (db: Db) => Promise<unknown>,
): Promise<ExplainedStatement[]> {
  const captured: Array<{ sql: string; params: unknown[] }> = [];
  const database = await openDatabase({
    databaseUrl,
    poolSize: 2,
    onQuery: (sql, params) => captured.push({ sql, params }),
  });
  try {
    await fn(database.db);
  } finally {
    await database.close();
  }
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'pypi-graph explain' });
  await client.connect();
  const out: ExplainedStatement[] = [];
  try {
    await client.query('BEGIN');
    for (const { sql, params } of captured) {
      if (/^\s*(begin|commit|rollback|savepoint|release)\b/i.test(sql)) continue;
      const res = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      const plan = res.rows.map((r) => r['QUERY PLAN']).join('\n');
      const ms = /Execution Time: ([\d.]+) ms/.exec(plan);
      const seqScans = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!);
      out.push({ sql, plan, executionMs: ms ? Number(ms[1]) : Number.NaN, seqScans: [...new Set(seqScans)] });
    }
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    await client.end();
  }
  return out;
}
