import { cacheCounter, type Database, outboxGauges, PartMetrics, poolGauge, watchRoutes } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { MISSED_HEARTBEATS } from './context.js';
import type { DnsObserver } from './dns/observed.js';
import type { RegistryDb, RegistryTables } from './storage/schema.js';

/** The registry's families (docs/OPERATIONS.md, "Metrics"), beside the request histogram every part has. */
export interface RegistryMetrics {
  part: PartMetrics;
  /** Counts each Service DNS query by type and rcode. */
  dns: DnsObserver;
  /** Look-up observers of the three Service DNS caches. */
  cache: { http(hit: boolean): void; dns(hit: boolean): void; dnsReplies(hit: boolean): void };
  /** Counts bindings and heartbeats from the answers of their routes (no route code changes). */
  watch(app: FastifyInstance): void;
  /** Counts the instance beats of one provider heartbeat: each entry is one beat received. */
  providerBeats(accepted: number, refused: number): void;
}

const BINDINGS_ROUTE = '/v1/bindings';
const HEARTBEAT_ROUTE = '/v1/apps/:app_id/services/:service_id/heartbeat';

export function registryMetrics(
  database: Database<RegistryTables>,
  db: RegistryDb,
  heartbeatIntervalSeconds: () => number,
  /**
   * Instances that beat since `since` as this process knows them (last beats kept in memory,
   * rows written only on transitions), or null when the rows are exact (every beat written).
   */
  healthyInMemory: (since: number) => number | null = () => null,
): RegistryMetrics {
  const part = new PartMetrics();
  const bindings = part.counter('swarm_bindings_total', 'Binding requests answered, by outcome (bound, existing, or the SPEC error code)', [
    'outcome',
  ]);
  const heartbeats = part.counter('swarm_heartbeats_received_total', 'Heartbeats received, by outcome (ok, or the SPEC error code)', [
    'outcome',
  ]);
  const queries = part.counter('swarm_dns_queries_total', 'Service DNS queries answered, by query type, rcode and transport', [
    'type',
    'rcode',
    'transport',
  ]);
  const caches = cacheCounter(part);
  const hits = (cache: string) => {
    const hit = caches.labels({ cache, result: 'hit' });
    const miss = caches.labels({ cache, result: 'miss' });
    return (found: boolean) => (found ? hit : miss).inc();
  };

  part.gauge('swarm_instances', 'Active bound instances by health (healthy: beat within 3 intervals)', ['health'], async (gauge) => {
    const since = Math.floor(Date.now() / 1000) - MISSED_HEARTBEATS * heartbeatIntervalSeconds();
    const row = await db
      .selectFrom('bindings')
      .select([
        sql<number>`sum(case when last_heartbeat_at >= ${since} then 1 else 0 end)`.as('healthy'),
        sql<number>`sum(case when last_heartbeat_at < ${since} then 1 else 0 end)`.as('unhealthy'),
      ])
      .where('status', '=', 'active')
      .executeTakeFirstOrThrow();
    const fromRows = Number(row.healthy ?? 0);
    const total = fromRows + Number(row.unhealthy ?? 0);
    // Rows lag the beats by up to the persist period; memory has every beat this process took.
    const healthy = Math.min(total, Math.max(fromRows, healthyInMemory(since) ?? 0));
    gauge.set({ health: 'healthy' }, healthy);
    gauge.set({ health: 'unhealthy' }, total - healthy);
  });
  // Broadcasts are the registry's one outbox; their receivers are providers' events URLs.
  outboxGauges(part, async () => {
    const row = await db
      .selectFrom('broadcast_outbox')
      .select([
        sql<number>`sum(case when delivered_at is null and dead_at is null then 1 else 0 end)`.as('pending'),
        sql<number | null>`min(case when delivered_at is null and dead_at is null then created_at end)`.as('oldest'),
        sql<number>`sum(case when dead_at is null then 0 else 1 end)`.as('dead'),
      ])
      .executeTakeFirstOrThrow();
    return [
      {
        kind: 'broadcast',
        pending: Number(row.pending ?? 0),
        oldestCreatedAt: row.oldest === null ? null : Number(row.oldest),
        dead: Number(row.dead ?? 0),
      },
    ];
  });
  poolGauge(part, database.poolStats);

  return {
    part,
    dns: dnsQueryCounter(queries),
    cache: { http: hits('services_http'), dns: hits('dns_instances'), dnsReplies: hits('dns_replies') },
    watch(app) {
      watchRoutes(app, {
        [`POST ${BINDINGS_ROUTE}`]: (status, error) => bindings.inc({ outcome: error ?? (status === 201 ? 'bound' : 'existing') }),
        [`POST ${HEARTBEAT_ROUTE}`]: (_status, error) => heartbeats.inc({ outcome: error ?? 'ok' }),
      });
    },
    providerBeats(accepted, refused) {
      if (accepted > 0) heartbeats.inc({ outcome: 'ok' }, accepted);
      if (refused > 0) heartbeats.inc({ outcome: 'forbidden' }, refused);
    },
  };
}

/**
 * Each query counted on its label child, found once per (type, rcode, transport), all bounded
 * sets: a kept UDP reply costs about as much as hashing the labels would.
 */
function dnsQueryCounter(queries: ReturnType<PartMetrics['counter']>): DnsObserver {
  const children = new Map<string, { inc(): void }>();
  return (type, rcode, transport) => {
    const key = `${type} ${rcode} ${transport}`;
    let child = children.get(key);
    if (!child) {
      child = queries.labels({ type, rcode, transport });
      children.set(key, child);
    }
    child.inc();
  };
}
