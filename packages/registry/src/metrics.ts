import { type CacheCounts, countedCaches, type Database, outboxGauges, PartMetrics, poolGauge, watchRoutes } from '@swarm/runtime';
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
  const caches = countedCaches(part, ['services_http', 'dns_instances', 'dns_replies'] as const);
  // A look-up of a kept answer costs less than a labelled increment: plain numbers, added up at scrape.
  const hits = (counts: CacheCounts) => (found: boolean) => {
    if (found) counts.hit++;
    else counts.miss++;
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
    dns: dnsQueryCounter(part),
    cache: { http: hits(caches.services_http), dns: hits(caches.dns_instances), dnsReplies: hits(caches.dns_replies) },
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

interface QueryCount {
  labels: { type: string; rcode: string; transport: string };
  count: number;
  published: number;
}

/**
 * Each query counted as a plain number per (transport, type, rcode), all bounded sets and found
 * without building a key (a kept UDP reply costs about as much as hashing labels would); each
 * scrape adds what the numbers gained since the one before, so every scrape is exact.
 */
function dnsQueryCounter(part: PartMetrics): DnsObserver {
  const counts = new Map<string, Map<string, Map<string, QueryCount>>>();
  const all: QueryCount[] = [];
  part.counter(
    'swarm_dns_queries_total',
    'Service DNS queries answered, by query type, rcode and transport',
    ['type', 'rcode', 'transport'],
    (counter) => {
      for (const entry of all) {
        const gained = entry.count - entry.published;
        if (gained > 0) counter.inc(entry.labels, gained);
        entry.published += gained;
      }
    },
  );
  const countOf = (type: string, rcode: string, transport: string): QueryCount => {
    let byType = counts.get(transport);
    if (!byType) {
      byType = new Map();
      counts.set(transport, byType);
    }
    let byRcode = byType.get(type);
    if (!byRcode) {
      byRcode = new Map();
      byType.set(type, byRcode);
    }
    let entry = byRcode.get(rcode);
    if (!entry) {
      entry = { labels: { type, rcode, transport }, count: 0, published: 0 };
      byRcode.set(rcode, entry);
      all.push(entry);
    }
    return entry;
  };
  return (type, rcode, transport) => {
    const entry = counts.get(transport)?.get(type)?.get(rcode) ?? countOf(type, rcode, transport);
    entry.count++;
  };
}
