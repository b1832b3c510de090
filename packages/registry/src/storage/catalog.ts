import type { CatalogEntry } from '@swarm/protocol';
import { compileOnce } from '@swarm/runtime';
import type { CatalogTable, Executor, RegistryTables } from './schema.js';

export interface CatalogRow {
  entry: CatalogEntry;
  createdAt: number;
  updatedAt: number;
}

/** Every binding looks its provider up: compiled once. */
const providerRow = compileOnce<RegistryTables, { provider: string }, CatalogTable>((db, value) =>
  db.selectFrom('catalog').selectAll().where('provider', '=', value('provider')),
);

export async function findProvider(db: Executor, provider: string): Promise<CatalogRow | null> {
  const row = await providerRow.first(db, { provider });
  return row
    ? { entry: JSON.parse(row.entry) as CatalogEntry, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) }
    : null;
}

export async function listCatalog(db: Executor, serviceType?: string): Promise<CatalogEntry[]> {
  let query = db.selectFrom('catalog').select('entry').orderBy('service_type').orderBy('provider');
  if (serviceType !== undefined) query = query.where('service_type', '=', serviceType);
  const rows = await query.execute();
  return rows.map((row) => JSON.parse(row.entry) as CatalogEntry);
}

export async function insertProvider(db: Executor, entry: CatalogEntry, now: number): Promise<void> {
  await db
    .insertInto('catalog')
    .values({
      provider: entry.provider,
      service_type: entry.service_type,
      public_key: entry.public_key,
      events_url: entry.events_url,
      entry: JSON.stringify(entry),
      created_at: now,
      updated_at: now,
    })
    .execute();
}

/** Updates the entry only if the stored key is still the one that signed the update. */
export async function updateProvider(db: Executor, entry: CatalogEntry, signedBy: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('catalog')
    .set({ public_key: entry.public_key, events_url: entry.events_url, entry: JSON.stringify(entry), updated_at: now })
    .where('provider', '=', entry.provider)
    .where('public_key', '=', signedBy)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The events_url of each provider with an active instance of the app (plus `alsoServiceId`, just revoked). */
export async function eventsUrlsOfApp(db: Executor, appId: string, alsoServiceId?: string): Promise<string[]> {
  const rows = await db
    .selectFrom('bindings')
    .innerJoin('catalog', 'catalog.provider', 'bindings.provider')
    .select('catalog.events_url')
    .distinct()
    .where('bindings.app_id', '=', appId)
    .where((eb) =>
      alsoServiceId === undefined
        ? eb('bindings.status', '=', 'active')
        : eb.or([eb('bindings.status', '=', 'active'), eb('bindings.service_id', '=', alsoServiceId)]),
    )
    .execute();
  return rows.map((row) => row.events_url);
}
