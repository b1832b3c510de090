import type { BindingRow } from './bindings.js';
import type { Executor } from './schema.js';

export interface BindingUpdateRow {
  updateId: string;
  appId: string;
  serviceId: string;
  serviceTier: string;
  region: string | null;
  storageLimitGb: number;
  at: number;
}

/** Updates kept per instance: enough to answer any retry of a proof still fresh, bounded per tenant. */
export const UPDATES_KEPT_PER_INSTANCE = 50;

export async function findBindingUpdate(db: Executor, updateId: string): Promise<BindingUpdateRow | null> {
  const row = await db.selectFrom('binding_updates').selectAll().where('update_id', '=', updateId).executeTakeFirst();
  if (!row) return null;
  return {
    updateId: row.update_id,
    appId: row.app_id,
    serviceId: row.service_id,
    serviceTier: row.service_tier,
    region: row.region,
    storageLimitGb: Number(row.storage_limit_gb),
    at: Number(row.at),
  };
}

/**
 * Applies an update to an active binding and records it, in the caller's transaction. False
 * when the binding is no longer active (revoked meanwhile): nothing is written then.
 */
export async function applyBindingUpdate(db: Executor, binding: BindingRow, update: BindingUpdateRow): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ service_tier: update.serviceTier, region: update.region, storage_limit_gb: update.storageLimitGb, changed_at: update.at })
    .where('app_id', '=', binding.appId)
    .where('service_id', '=', binding.serviceId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return false;
  await db
    .insertInto('binding_updates')
    .values({
      update_id: update.updateId,
      app_id: update.appId,
      service_id: update.serviceId,
      service_tier: update.serviceTier,
      region: update.region,
      storage_limit_gb: update.storageLimitGb,
      at: update.at,
    })
    .execute();
  // The oldest records beyond the bound go; the audit log keeps every update for good.
  const kept = await db
    .selectFrom('binding_updates')
    .select('at')
    .where('app_id', '=', update.appId)
    .where('service_id', '=', update.serviceId)
    .orderBy('at', 'desc')
    .offset(UPDATES_KEPT_PER_INSTANCE - 1)
    .limit(1)
    .executeTakeFirst();
  if (kept) {
    await db
      .deleteFrom('binding_updates')
      .where('app_id', '=', update.appId)
      .where('service_id', '=', update.serviceId)
      .where('at', '<', Number(kept.at))
      .execute();
  }
  return true;
}
