import { type CacheCounts, countedCaches, type Database, outboxGauges, PartMetrics, poolGauge } from '@swarm/runtime';
import { type Kysely, sql } from 'kysely';
import type { KitTables } from './store.js';

/** The service kit's families (docs/OPERATIONS.md, "Metrics"), in the service's own registry. */
export interface KitMetrics extends PartMetrics {
  /** Provisioning requests answered, by outcome: active (201), binding (202) or the SPEC error code. */
  provisionings: ReturnType<PartMetrics['counter']>;
  /** Binding handshakes with the registry, by outcome: active, binding (to be retried) or the error code. */
  bindingAttempts: ReturnType<PartMetrics['counter']>;
  /** Pages of moves (docs/DATA-TRANSFER.md), by side: `export` (served to a new provider) or `import` (written here). */
  transferPages: ReturnType<PartMetrics['counter']>;
  /** Items in those pages, by side. */
  transferItems: ReturnType<PartMetrics['counter']>;
  /** Transfers into this provider that ended, by outcome: done or the error code. */
  transfers: ReturnType<PartMetrics['counter']>;
  /** Re-bindings at the registry an app moved to, by outcome: rebound or the error code (retried). */
  rebinds: ReturnType<PartMetrics['counter']>;
  /**
   * Look-ups of the kit's per-request caches (`swarm_cache_requests_total{cache}`): `context`
   * (an instance's verified operational context in memory), `verified_token` (a user token
   * verified before), `read` (a domain's ReadCache of answers, where it keeps one).
   */
  caches: Record<KitCache, CacheCounts>;
}

export type KitCache = 'context' | 'verified_token' | 'read';

export function kitMetrics(database: Database<unknown>, db: Kysely<KitTables>): KitMetrics {
  const metrics = new PartMetrics() as KitMetrics;
  metrics.provisionings = metrics.counter(
    'swarm_provisionings_total',
    'Provisioning requests answered, by outcome (active, binding, error code)',
    ['outcome'],
  );
  metrics.bindingAttempts = metrics.counter(
    'swarm_binding_attempts_total',
    'Binding handshakes sent to the registry, by outcome (active, binding = retried later, error code)',
    ['outcome'],
  );
  metrics.transferPages = metrics.counter('swarm_transfer_pages_total', 'Pages of instance moves, by side (export, import)', ['side']);
  metrics.transferItems = metrics.counter('swarm_transfer_items_total', 'Items in pages of instance moves, by side (export, import)', [
    'side',
  ]);
  metrics.transfers = metrics.counter('swarm_transfers_total', 'Transfers into this provider that ended, by outcome (done, error code)', [
    'outcome',
  ]);
  metrics.rebinds = metrics.counter(
    'swarm_rebinds_total',
    'Re-bindings sent to the registry an app moved to, by outcome (rebound, error code = retried later)',
    ['outcome'],
  );
  metrics.caches = countedCaches(metrics, ['context', 'verified_token', 'read'] as const);
  // usage rows go to Billing, logs rows to Logging: the receiver kind is the row's kind.
  outboxGauges(metrics, async () => {
    const rows = await db
      .selectFrom('kit_outbox')
      .select([
        'kind',
        sql<number>`sum(case when dead_at is null then 1 else 0 end)`.as('pending'),
        sql<number | null>`min(case when dead_at is null then created_at end)`.as('oldest'),
        sql<number>`sum(case when dead_at is null then 0 else 1 end)`.as('dead'),
      ])
      .groupBy('kind')
      .execute();
    return rows.map((row) => ({
      kind: row.kind,
      pending: Number(row.pending),
      // Kit rows are stamped in milliseconds.
      oldestCreatedAt: row.oldest === null ? null : Number(row.oldest) / 1000,
      dead: Number(row.dead),
    }));
  });
  poolGauge(metrics, database.poolStats);
  return metrics;
}
