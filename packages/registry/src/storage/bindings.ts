import type { BindingsTable, Executor } from './schema.js';

export interface BindingRow {
  appId: string;
  serviceId: string;
  provider: string;
  serviceType: string;
  endpointUrl: string;
  publicKey: string;
  previousPublicKey: string | null;
  previousKeyExpiresAt: number | null;
  serviceTier: string | null;
  region: string | null;
  storageLimitGb: number | null;
  boundAt: number;
  status: 'active' | 'revoked';
  proofHash: string;
  lastHeartbeatAt: number;
  heartbeatStatus: string | null;
  revokedAt: number | null;
}

const num = (value: number | string | null): number | null => (value === null ? null : Number(value));

function toRow(row: BindingsTable): BindingRow {
  return {
    appId: row.app_id,
    serviceId: row.service_id,
    provider: row.provider,
    serviceType: row.service_type,
    endpointUrl: row.endpoint_url,
    publicKey: row.public_key,
    previousPublicKey: row.previous_public_key,
    previousKeyExpiresAt: num(row.previous_key_expires_at),
    serviceTier: row.service_tier,
    region: row.region,
    storageLimitGb: num(row.storage_limit_gb),
    boundAt: Number(row.bound_at),
    status: row.status === 'revoked' ? 'revoked' : 'active',
    proofHash: row.proof_hash,
    lastHeartbeatAt: Number(row.last_heartbeat_at),
    heartbeatStatus: row.heartbeat_status,
    revokedAt: num(row.revoked_at),
  };
}

export async function findBinding(db: Executor, appId: string, serviceId: string): Promise<BindingRow | null> {
  const row = await db
    .selectFrom('bindings')
    .selectAll()
    .where('app_id', '=', appId)
    .where('service_id', '=', serviceId)
    .executeTakeFirst();
  return row ? toRow(row) : null;
}

export async function findBindingByProof(db: Executor, proofHash: string): Promise<BindingRow | null> {
  const row = await db.selectFrom('bindings').selectAll().where('proof_hash', '=', proofHash).executeTakeFirst();
  return row ? toRow(row) : null;
}

export async function findProviderBinding(db: Executor, provider: string, serviceId: string): Promise<BindingRow | null> {
  const row = await db
    .selectFrom('bindings')
    .selectAll()
    .where('provider', '=', provider)
    .where('service_id', '=', serviceId)
    .executeTakeFirst();
  return row ? toRow(row) : null;
}

export async function listActiveBindings(db: Executor, appId: string, serviceType?: string): Promise<BindingRow[]> {
  let query = db.selectFrom('bindings').selectAll().where('app_id', '=', appId).where('status', '=', 'active');
  if (serviceType !== undefined) query = query.where('service_type', '=', serviceType);
  const rows = await query.orderBy('bound_at').orderBy('service_id').execute();
  return rows.map(toRow);
}

/** Active instances that beat since `since`: the ones Service DNS answers with. */
export async function listHealthyBindings(db: Executor, appId: string, since: number): Promise<BindingRow[]> {
  const rows = await db
    .selectFrom('bindings')
    .selectAll()
    .where('app_id', '=', appId)
    .where('status', '=', 'active')
    .where('last_heartbeat_at', '>=', since)
    .orderBy('service_type')
    .orderBy('service_id')
    .execute();
  return rows.map(toRow);
}

export async function insertBinding(db: Executor, row: BindingRow): Promise<void> {
  await db
    .insertInto('bindings')
    .values({
      app_id: row.appId,
      service_id: row.serviceId,
      provider: row.provider,
      service_type: row.serviceType,
      endpoint_url: row.endpointUrl,
      public_key: row.publicKey,
      previous_public_key: row.previousPublicKey,
      previous_key_expires_at: row.previousKeyExpiresAt,
      service_tier: row.serviceTier,
      region: row.region,
      storage_limit_gb: row.storageLimitGb,
      bound_at: row.boundAt,
      status: row.status,
      proof_hash: row.proofHash,
      last_heartbeat_at: row.lastHeartbeatAt,
      heartbeat_status: row.heartbeatStatus,
      revoked_at: row.revokedAt,
    })
    .execute();
}

export async function recordHeartbeat(db: Executor, appId: string, serviceId: string, now: number, status: string): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ last_heartbeat_at: now, heartbeat_status: status })
    .where('app_id', '=', appId)
    .where('service_id', '=', serviceId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Swaps the instance key only if `oldKey` is still current, so racing rotations cannot both win. */
export async function rotateBindingKey(db: Executor, binding: BindingRow, newKey: string, graceUntil: number): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ public_key: newKey, previous_public_key: binding.publicKey, previous_key_expires_at: graceUntil })
    .where('app_id', '=', binding.appId)
    .where('service_id', '=', binding.serviceId)
    .where('status', '=', 'active')
    .where('public_key', '=', binding.publicKey)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function revokeBinding(db: Executor, appId: string, serviceId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ status: 'revoked', revoked_at: now })
    .where('app_id', '=', appId)
    .where('service_id', '=', serviceId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
