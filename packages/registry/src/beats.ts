import { nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { BindingRow } from './storage/bindings.js';
import { recordHeartbeat } from './storage/bindings.js';

/**
 * One verified beat of an active binding (per-instance or in a provider's batch): memory, and
 * the row when health changes. A beat that brings an instance back changes its app's DNS
 * answers here and, announced, at the other replicas; any beat moves the HTTP listing's
 * `last_heartbeat_at`. False when the binding is no longer active.
 */
export async function takeBeat(ctx: RegistryContext, binding: BindingRow, status: string): Promise<boolean> {
  const { appId, serviceId } = binding;
  const taken = await ctx.liveness.beat(binding, status, nowSeconds(), async (at, beatStatus) => {
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
