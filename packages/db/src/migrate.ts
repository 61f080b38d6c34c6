import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { internalError, type Logger, silentLogger } from '@pypi-graph/core';
import type { Database } from './connection';

/** The committed SQL migrations, applied in file name order. */
export const MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../migrations',
);

// Any constant works; it only has to be the same for every pypi-graph process.
const MIGRATION_LOCK = 0x70797067; // "pypg"

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that
 * many workers starting at once apply each migration exactly once.
 * An applied migration whose file changed since is an error, never silently re-run.
 */
export async function migrate(database: Database, logger: Logger = silentLogger): Promise<MigrationResult> {
  const names = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const result: MigrationResult = { applied: [], skipped: [] };
  await database.withAdvisoryLock(MIGRATION_LOCK, async (exec) => {
    await exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name text PRIMARY KEY, sha256 char(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = await appliedMigrations(database);
    for (const name of names) {
      const sql = await readFile(path.join(MIGRATIONS_DIR, name), 'utf8');
      const sha = createHash('sha256').update(sql).digest('hex');
      const known = applied.get(name);
      if (known !== undefined) {
        if (known !== sha) {
          throw internalError(`migration ${name} changed after it was applied`, {
            hint: 'add a new migration file instead of editing an applied one',
          });
        }
        result.skipped.push(name);
        continue;
      }
      try {
        await exec(
          `BEGIN;\n${sql}\n;INSERT INTO schema_migrations (name, sha256) VALUES ('${name.replace(/'/g, "''")}', '${sha}');\nCOMMIT;`,
        );
      } catch (err) {
        await exec('ROLLBACK').catch(() => {});
        throw internalError(`migration ${name} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      result.applied.push(name);
      logger.info({ migration: name }, 'migration applied');
    }
  });
  return result;
}

async function appliedMigrations(database: Database): Promise<Map<string, string>> {
  const { sql } = await import('drizzle-orm');
  const rows = (await database.db.execute(sql`SELECT name, sha256 FROM schema_migrations`)) as unknown as
    | { rows: Array<{ name: string; sha256: string }> }
    | Array<{ name: string; sha256: string }>;
  const list = Array.isArray(rows) ? rows : rows.rows;
  return new Map(list.map((r) => [r.name, r.sha256]));
}
