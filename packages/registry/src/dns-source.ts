import { MigrationSuccessor, migratedZone, nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { DnsInstance, DnsZoneSource, MovedZone } from './dns/index.js';

/**
 * Service DNS reads the apps table by its unique zone index and the bindings by (app_id, status),
 * keeping the answer for the rest of the second (LookupCache); health comes from liveness.ts. Callers must not change the list.
 */
export function storageZoneSource(ctx: RegistryContext): DnsZoneSource {
  return {
    instancesForZone(zone: string): Promise<DnsInstance[] | MovedZone | null> {
      const name = zone.toLowerCase();
      const now = nowSeconds();
      return ctx.lookups.dns.get(name, name, now, () => instancesOf(ctx, name, now));
    },
    keepReplies(key, build, keep) {
      return ctx.lookups.dnsReplies.get(ctx.lookups.replyGroup(key), key, nowSeconds(), build, keep);
    },
  };
}

async function instancesOf(ctx: RegistryContext, zone: string, now: number): Promise<DnsInstance[] | MovedZone | null> {
  const app = await ctx.reads.apps.byZone(zone);
  if (app === null) return null;
  const appId = app.appId;
  // An app being imported is not in Service DNS until its migration is activated.
  if (app.status === 'importing') return null;
  if (app.status === 'migrated') return movedZone(ctx, appId, app.successor, now);
  const bindings = (await ctx.reads.bindings.listed(appId)).filter((binding) => ctx.liveness.isHealthy(binding, now));
  return bindings.map((binding) => ({
    serviceType: binding.serviceType,
    serviceId: binding.serviceId,
    endpointUrl: binding.endpointUrl,
    publicKey: binding.publicKey,
    tier: binding.serviceTier,
    region: binding.region,
  }));
}

/** A released app's old zone points at its new one for the grace period (docs/DNS.md, "Migration"), then is gone. */
function movedZone(ctx: RegistryContext, appId: string, successor: string | null, now: number): MovedZone | null {
  const parsed = MigrationSuccessor.safeParse(successor === null ? null : JSON.parse(successor));
  if (!parsed.success) return null;
  if (now >= parsed.data.data.released_at + ctx.migrationDnsGraceSeconds) return null;
  return { target: migratedZone(appId, parsed.data.data.successor), successor: parsed.data.data.successor };
}
