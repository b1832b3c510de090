import { nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { BindingRow } from './storage/bindings.js';
import { recordHeartbeat } from './storage/bindings.js';

/**
 * One verified beat of an active binding (per-instance or in a provider's batch): memory, and
 * the row when health changes. A beat that brings an instance back drops its app's kept
 * answers here and, announced, at the other replicas; a row written only because every beat
 * is (PostgreSQL without Redis) is not announced: the others' kept answers end no later than
 * the earlier beat they were built from allows, and then read the row. False when the binding
 * is no longer active.
 */
export async function takeBeat(ctx: RegistryContext, binding: BindingRow, status: string): Promise<boolean> {
  const { appId, serviceId } = binding;
  const taken = await ctx.liveness.beat(binding, status, nowSeconds(), async (at, beatStatus, transition) => {
    if (!transition) return recordHeartbeat(ctx.db, appId, serviceId, at, beatStatus);
    let written = false;
    await ctx.db.transaction().execute(async (trx) => {
      written = await recordHeartbeat(trx, appId, serviceId, at, beatStatus);
      if (written) await ctx.announceChange(trx, appId);
    });
    return written;
  });
  if (!taken) return false;
  ctx.lookups.beaten(appId, taken.cameBack);
  return true;
}
