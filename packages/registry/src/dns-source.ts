import { nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { DnsAppZone, DnsInstance, DnsZoneSource } from './dns/index.js';
import { activeBindingsByZone, type BindingRow } from './storage/bindings.js';

/**
 * Service DNS reads the apps table by its unique zone index and the bindings by (app_id, status),
 * keeping the answer for the rest of the second (LookupCache); health comes from liveness.ts. Callers must not change the list.
 */
export function storageZoneSource(ctx: RegistryContext): DnsZoneSource {
  return {
    instancesForZone(zone: string): Promise<DnsInstance[] | null> {
      const name = zone.toLowerCase();
      const now = nowSeconds();
      return ctx.lookups.dns.get(name, name, now, () => instancesOf(ctx, name, now));
    },
    async everyZone(): Promise<DnsAppZone[]> {
      const now = nowSeconds();
      const zones = new Map<string, DnsInstance[]>();
      for (const { zone, binding } of await activeBindingsByZone(ctx.db)) {
        if (!ctx.liveness.isHealthy(binding, now)) continue;
        const name = zone.toLowerCase();
        zones.set(name, [...(zones.get(name) ?? []), dnsInstance(binding)]);
      }
      return [...zones].map(([zone, instances]) => ({ zone, instances }));
    },
    version: ctx.lookups.version,
    keepReplies(key, build, keep) {
      return ctx.lookups.dnsReplies.get(ctx.lookups.replyGroup(key), key, nowSeconds(), build, keep);
    },
  };
}

async function instancesOf(ctx: RegistryContext, zone: string, now: number): Promise<DnsInstance[] | null> {
  const appId = await ctx.reads.apps.idByZone(zone);
  if (appId === null) return null;
  const bindings = (await ctx.reads.bindings.listed(appId)).filter((binding) => ctx.liveness.isHealthy(binding, now));
  return bindings.map(dnsInstance);
}

function dnsInstance(binding: BindingRow): DnsInstance {
  return {
    serviceType: binding.serviceType,
    serviceId: binding.serviceId,
    endpointUrl: binding.endpointUrl,
    publicKey: binding.publicKey,
    tier: binding.serviceTier,
    region: binding.region,
  };
}
