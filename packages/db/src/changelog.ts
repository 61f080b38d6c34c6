import type { ChangelogRow } from '@pypi-graph/model';
import { desc, lt, sql } from 'drizzle-orm';
import type { Db } from './connection';
import { changelog, crawlState, storeTotals } from './schema';

/** Stores changelog rows; rows already stored are left as they are. */
export async function insertChangelog(db: Db, rows: ChangelogRow[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    const part = rows.slice(i, i + 1000);
    // The rows and the count of stored rows (`store_totals`, read by `status`) change together.
    inserted += await db.transaction(async (tx) => {
      const out = await tx
        .insert(changelog)
        .values(
          part.map((r) => ({
            serial: r.serial,
            time: new Date(r.timestamp * 1000),
            name: r.name,
            version: r.version,
            action: r.action,
          })),
        )
        .onConflictDoNothing()
        .returning({ serial: changelog.serial });
      if (out.length > 0) await addToTotal(tx, 'changelog_rows', out.length);
      return out.length;
    });
  }
  return inserted;
}

/**
 * The last serial before `time` according to the stored changelog, or undefined when no stored
 * row is older than `time` (then the caller asks the index). Gaps in the stored history can only
 * make the answer lower, i.e. make a crawl re-read a little more, never miss anything.
 */
export async function serialBefore(db: Db, time: Date): Promise<number | undefined> {
  const [row] = await db
    .select({ serial: changelog.serial })
    .from(changelog)
    .where(lt(changelog.time, time))
    .orderBy(desc(changelog.serial))
    .limit(1);
  return row?.serial;
}

/** The high-water serial of a crawl stream (`changelog` for the discover stage). */
export async function getCrawlState(db: Db, key: string): Promise<number | undefined> {
  const rows = await db
    .select({ serial: crawlState.serial })
    .from(crawlState)
    .where(sql`${crawlState.key} = ${key}`);
  return rows[0]?.serial;
}

/** Raises the high-water serial; never lowers it. */
export async function advanceCrawlState(db: Db, key: string, serial: number): Promise<void> {
  await db
    .insert(crawlState)
    .values({ key, serial, updatedAt: new Date() })
    .onConflictDoUpdate({
      target: crawlState.key,
      set: { serial: sql`GREATEST(${crawlState.serial}, excluded.serial)`, updatedAt: new Date() },
    });
}

/** Adds `n` to a kept total (`store_totals`), inside the caller's transaction. */
async function addToTotal(db: Db, key: string, n: number): Promise<void> {
  await db
    .insert(storeTotals)
    .values({ key, value: n })
    .onConflictDoUpdate({ target: storeTotals.key, set: { value: sql`${storeTotals.value} + ${n}` } });
}
