import type { BindingRecord, ServiceRecord } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { BindingRow } from './storage/bindings.js';

export function bindingRecord(row: BindingRow): BindingRecord {
  return {
    app_id: row.appId,
    service_id: row.serviceId,
    service_type: row.serviceType,
    provider: row.provider,
    endpoint_url: row.endpointUrl,
    public_key: row.publicKey,
    service_tier: row.serviceTier,
    region: row.region,
    storage_limit_gb: row.storageLimitGb,
    bound_at: row.boundAt,
    status: row.status,
  };
}

/** A Service DNS record over HTTP: the binding, its health and last beat (memory or row), and a rotated key still in its grace period. */
export function serviceRecord(ctx: RegistryContext, row: BindingRow, now: number): ServiceRecord {
  const { previousPublicKey: previous, previousKeyExpiresAt: expiresAt } = row;
  return {
    ...bindingRecord(row),
    health: ctx.liveness.isHealthy(row, now) ? ('healthy' as const) : ('unhealthy' as const),
    last_heartbeat_at: ctx.liveness.lastBeat(row),
    updated_at: row.changedAt ?? row.boundAt,
    ...(previous !== null && expiresAt !== null && expiresAt > now
      ? { previous_public_key: previous, previous_key_expires_at: expiresAt }
      : {}),
  };
}

/** The instance keys a service call may be signed with right now: the current one, then one in grace. */
export function instanceKeys(row: BindingRow, now: number): string[] {
  const keys = [row.publicKey];
  if (row.previousPublicKey !== null && row.previousKeyExpiresAt !== null && row.previousKeyExpiresAt > now) {
    keys.push(row.previousPublicKey);
  }
  return keys;
}
