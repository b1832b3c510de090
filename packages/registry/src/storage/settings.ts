import type { Executor } from './schema.js';

/**
 * A setting created once and shared by every replica on the database: the first insert wins,
 * and everyone reads back what won.
 */
export async function settingOrCreate(db: Executor, name: string, create: () => string): Promise<string> {
  const existing = await db.selectFrom('registry_settings').select('value').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.value;
  await db
    .insertInto('registry_settings')
    .values({ name, value: create() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('registry_settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
