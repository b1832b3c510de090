import { cachedCheck, getJson, type ReadinessCheck } from '@swarm/runtime';
import { sql } from 'kysely';
import type { Kit } from './kit.js';

/**
 * What a service needs to serve (`/readyz`): its database, its Redis when nonces live there, and
 * the registries it trusts (binding, contexts and heartbeats go there). A registry that cannot be
 * reached is asked again at most every 5 s, whatever the probe rate.
 */
export function serviceChecks(kit: Pick<Kit, 'database' | 'replay' | 'trusted' | 'config'>): Record<string, ReadinessCheck> {
  const checks: Record<string, ReadinessCheck> = {
    database: () => sql`select 1`.execute(kit.database.db),
    registry: cachedCheck(async () => {
      for (const registry of kit.trusted.list()) {
        const { status } = await getJson(`${registry.baseUrl}/.well-known/swarm-registry`, { timeoutMs: 2000 });
        if (status !== 200) return false;
      }
      return true;
    }),
  };
  const ping = (kit.replay as { ping?: () => Promise<unknown> }).ping;
  if (kit.config.redisUrl && ping) checks.redis = () => ping.call(kit.replay);
  return checks;
}
