import { nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { DnsInstance, DnsZoneSource } from './dns/index.js';
import { healthySince } from './records.js';

/** Service DNS reads the apps table by its unique zone index and the bindings by (app_id, status). */
export function storageZoneSource(ctx: RegistryContext): DnsZoneSource {
  return {
    async instancesForZone(zone: string): Promise<DnsInstance[] | null> {
      const appId = await ctx.reads.apps.idByZone(zone.toLowerCase());
      if (appId === null) return null;
      const bindings = await ctx.reads.bindings.healthy(appId, healthySince(ctx, nowSeconds()));
      return bindings.map((binding) => ({
        serviceType: binding.serviceType,
        serviceId: binding.serviceId,
        endpointUrl: binding.endpointUrl,
        publicKey: binding.publicKey,
        tier: binding.serviceTier,
        region: binding.region,
      }));
    },
  };
}
