import { eq } from 'drizzle-orm';
import type { Db } from './connection';
import { settings } from './schema';

/** Keys of the `settings` table, one place for their names. */
export type SettingKey = 'index_url';

export async function getSetting(db: Db, key: SettingKey): Promise<string | undefined> {
  const rows = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, key));
  return rows[0]?.value;
}

export async function setSetting(db: Db, key: SettingKey, value: string): Promise<void> {
  await db
    .insert(settings)
    .values({ key, value, updatedAt: new Date() })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: new Date() } });
}
