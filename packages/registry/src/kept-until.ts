import type { RegistryContext } from './context.js';
import type { BindingRow } from './storage/bindings.js';

/**
 * How long a Service DNS answer built at `now` from these rows stands by time alone (the first
 * second it may differ): until an instance turns unhealthy, never longer. Writes, and beats that
 * bring an instance back, drop it before that (app-lookups.ts).
 */
export function instancesUntil(ctx: RegistryContext, rows: readonly BindingRow[], now: number): number {
  let until = Number.POSITIVE_INFINITY;
  for (const row of rows) until = Math.min(until, ctx.liveness.healthyUntil(row, now));
  return until;
}

/**
 * The listing over HTTP also shows each instance's last beat and a rotated key still in its
 * grace period: it stands until the grace ends, and at most one heartbeat interval, so the
 * `last_heartbeat_at` it shows is never older than one beat (a beat alone does not drop it).
 */
export function listingUntil(ctx: RegistryContext, rows: readonly BindingRow[], now: number): number {
  let until = Math.min(now + ctx.heartbeatIntervalSeconds, instancesUntil(ctx, rows, now));
  for (const row of rows) {
    const expiresAt = row.previousKeyExpiresAt;
    if (row.previousPublicKey !== null && expiresAt !== null && expiresAt > now) until = Math.min(until, expiresAt);
  }
  return until;
}
