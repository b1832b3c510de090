import { MigrationSuccessor, migratedZone, nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { DnsAppZone, DnsInstance, DnsZoneSource, MovedZone } from './dns/index.js';
import { SIGNATURE_WINDOW_SECONDS } from './dns/signer.js';
import { instancesUntil } from './kept-until.js';
import { activeBindingsByZone, type BindingRow } from './storage/bindings.js';

/**
 * Service DNS reads the apps table by its unique zone index and the bindings by (app_id, status),
 * keeping the instance list until an instance would turn unhealthy or the app changes
 * (LookupCache); health comes from liveness.ts. Callers must not change the list. An encoded
 * reply is kept as long as the list it was built from, and never into the next signature window
 * (its RRSIGs and SOA serial change there).
 */
export function storageZoneSource(ctx: RegistryContext): DnsZoneSource {
  return {
    instancesForZone(zone: string): Promise<DnsInstance[] | MovedZone | null> {
      const name = zone.toLowerCase();
      const now = nowSeconds();
      let until = now + 1;
      const build = async () => {
        const found = await instancesOf(ctx, name, now);
        until = found.until;
        return found.instances;
      };
      return ctx.lookups.dns.get(name, name, now, build, { until: () => until });
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
      const now = nowSeconds();
      const group = ctx.lookups.replyGroup(key);
      const windowEnd = now - (now % SIGNATURE_WINDOW_SECONDS) + SIGNATURE_WINDOW_SECONDS;
      // Asked once the reply is built: the list it was built from is kept (or was not: one second).
      const until = () => Math.min(windowEnd, ctx.lookups.dns.keptUntil(group, now) ?? now + 1);
      return ctx.lookups.dnsReplies.get(group, key, now, build, { keep, until });
    },
    keptReply(key) {
      // A reply's group is its key's app zone (replyGroup), so the key alone finds it. The
      // stamp of this turn will do: a datagram read in the turn another process committed in
      // may as well have arrived just before the commit (LookupCache.peek).
      return ctx.lookups.dnsReplies.peek(null, key, nowSeconds(), 'turn')?.value ?? undefined;
    },
  };
}

async function instancesOf(
  ctx: RegistryContext,
  zone: string,
  now: number,
): Promise<{ instances: DnsInstance[] | MovedZone | null; until: number }> {
  const app = await ctx.reads.apps.byZone(zone);
  // No such app: creating it is a write, which drops this answer.
  if (app === null) return { instances: null, until: Number.POSITIVE_INFINITY };
  const appId = app.appId;
  // An app being imported is not in Service DNS until its migration is activated (a write).
  if (app.status === 'importing') return { instances: null, until: Number.POSITIVE_INFINITY };
  // A moved zone ends with its grace period; kept a second at a time like any answer without a deadline.
  if (app.status === 'migrated') return { instances: movedZone(ctx, appId, app.successor, now), until: now + 1 };
  const listed = await ctx.reads.bindings.listed(appId);
  const bindings = listed.filter((binding) => ctx.liveness.isHealthy(binding, now));
  return { instances: bindings.map(dnsInstance), until: instancesUntil(ctx, listed, now) };
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

/** A released app's old zone points at its new one for the grace period (docs/DNS.md, "Migration"), then is gone. */
function movedZone(ctx: RegistryContext, appId: string, successor: string | null, now: number): MovedZone | null {
  const parsed = MigrationSuccessor.safeParse(successor === null ? null : JSON.parse(successor));
  if (!parsed.success) return null;
  if (now >= parsed.data.data.released_at + ctx.migrationDnsGraceSeconds) return null;
  return { target: migratedZone(appId, parsed.data.data.successor), successor: parsed.data.data.successor };
}
