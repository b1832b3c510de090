import { randomUUID } from 'node:crypto';
import { type LogEntry, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { type Prepare, type PreparedQuery, postJson, type RunInTransaction, write } from '@swarm/runtime';
import { type Kysely, sql } from 'kysely';
import type { ContextCache } from './contexts.js';
import type { InstanceStore } from './instances.js';
import type { KitTables, OutboxRow } from './store.js';

interface Pending {
  appId: string;
  periodStart: number;
  counters: Record<string, number>;
  logs: LogEntry[];
}

export interface ReporterOptions {
  db: Kysely<KitTables>;
  prepare: Prepare;
  runInTransaction: RunInTransaction;
  instances: InstanceStore;
  contexts: ContextCache;
  /** Gauges the domain measures at flush time (e.g. bytes_stored). */
  gauges: (serviceId: string) => Promise<Record<string, number>>;
}

interface CounterIncrement {
  service_id: string;
  app_id: string;
  metric: string;
  amount: number;
  period_start: number;
}

const MAX_LOGS_PER_BATCH = 500;

/**
 * Usage and logs (SPEC §9.3): counted in memory, moved to the on-disk outbox at each flush,
 * signed with the instance key when sent, and deleted only once the receiver answered 202.
 * A batch keeps its nonce across retries so the receiver counts it once.
 */
export class Reporter {
  readonly #options: ReporterOptions;
  readonly #pending = new Map<string, Pending>();
  #flushing: Promise<void> | null = null;
  #batch: Map<string, CounterIncrement> | null = null;
  #batchWritten: Promise<void> | null = null;
  readonly #addToCounter: PreparedQuery<CounterIncrement, unknown>;

  constructor(options: ReporterOptions) {
    this.#options = options;
    this.#addToCounter = options.prepare<CounterIncrement, unknown>((value) =>
      options.db
        .insertInto('kit_usage_counters')
        .values({
          service_id: value('service_id'),
          metric: value('metric'),
          app_id: value('app_id'),
          value: value('amount'),
          period_start: value('period_start'),
        })
        .onConflict((oc) =>
          oc.columns(['service_id', 'metric']).doUpdateSet({ value: sql<number>`kit_usage_counters.value + excluded.value` }),
        ),
    );
  }

  /**
   * Counts on disk before the caller answers, so a crash right after the answer loses nothing;
   * in memory only while the database cannot take it. Counts that arrive in the same turn of
   * the event loop share one transaction (group commit): one write per turn, not per request.
   */
  record(serviceId: string, appId: string, metric: string, amount = 1): Promise<void> {
    if (!this.#batch) {
      const batch = new Map<string, CounterIncrement>();
      this.#batch = batch;
      this.#batchWritten = new Promise((resolve) =>
        setImmediate(() => {
          this.#batch = null;
          resolve(this.#writeCounters(batch));
        }),
      );
    }
    const key = `${serviceId}\u0000${metric}`;
    const increment = this.#batch.get(key);
    if (increment) increment.amount += amount;
    else this.#batch.set(key, { service_id: serviceId, app_id: appId, metric, amount, period_start: nowSeconds() });
    return this.#batchWritten as Promise<void>;
  }

  async #writeCounters(batch: Map<string, CounterIncrement>): Promise<void> {
    try {
      await this.#options.runInTransaction([...batch.values()].map((increment) => write(this.#addToCounter, increment)));
    } catch {
      for (const increment of batch.values()) this.count(increment.service_id, increment.app_id, increment.metric, increment.amount);
    }
  }

  count(serviceId: string, appId: string, metric: string, amount = 1): void {
    const pending = this.#pendingFor(serviceId, appId);
    pending.counters[metric] = (pending.counters[metric] ?? 0) + amount;
  }

  log(serviceId: string, appId: string, entry: Omit<LogEntry, 'at'>): void {
    const pending = this.#pendingFor(serviceId, appId);
    if (pending.logs.length < MAX_LOGS_PER_BATCH) pending.logs.push({ ...entry, message: entry.message.slice(0, 4096), at: nowSeconds() });
  }

  /** Stops counting for a terminated instance; what is already in the outbox still goes out. */
  forget(serviceId: string): void {
    this.#pending.delete(serviceId);
    void this.#options.db
      .deleteFrom('kit_usage_counters')
      .where('service_id', '=', serviceId)
      .execute()
      .catch(() => {});
  }

  /** One flush at a time; callers arriving meanwhile wait for it. */
  flush(): Promise<void> {
    if (!this.#flushing) {
      this.#flushing = this.#flushOnce().finally(() => {
        this.#flushing = null;
      });
    }
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    await this.#persistPending();
    await this.#sendOutbox();
  }

  #pendingFor(serviceId: string, appId: string): Pending {
    let pending = this.#pending.get(serviceId);
    if (!pending) {
      pending = { appId, periodStart: nowSeconds(), counters: {}, logs: [] };
      this.#pending.set(serviceId, pending);
    }
    return pending;
  }

  async #persistPending(): Promise<void> {
    const db = this.#options.db;
    const batches = new Map(this.#pending);
    this.#pending.clear();
    // Gauges are read outside the transaction: SQLite has one connection, which it holds.
    const counted = await db.selectFrom('kit_usage_counters').select('service_id').distinct().execute();
    const gauges = new Map<string, Record<string, number>>();
    for (const serviceId of new Set([...batches.keys(), ...counted.map((row) => row.service_id)])) {
      gauges.set(serviceId, await this.#options.gauges(serviceId).catch(() => ({})));
    }
    const now = nowSeconds();
    // Taking the counters and writing the batches is one transaction: a crash keeps one or the other.
    await db.transaction().execute(async (trx) => {
      for (const row of await trx.deleteFrom('kit_usage_counters').returningAll().execute()) {
        let pending = batches.get(row.service_id);
        if (!pending) {
          pending = { appId: row.app_id, periodStart: Number(row.period_start), counters: {}, logs: [] };
          batches.set(row.service_id, pending);
        }
        pending.periodStart = Math.min(pending.periodStart, Number(row.period_start));
        pending.counters[row.metric] = (pending.counters[row.metric] ?? 0) + Number(row.value);
      }
      const rows: OutboxRow[] = [];
      for (const [serviceId, pending] of batches) {
        if (Object.keys(pending.counters).length > 0) {
          const data = {
            app_id: pending.appId,
            service_id: serviceId,
            period_start: pending.periodStart,
            period_end: Math.max(now, pending.periodStart),
            metrics: { ...pending.counters, ...(gauges.get(serviceId) ?? {}) },
            nonce: newNonce(),
          };
          rows.push(outboxRow(serviceId, pending.appId, 'usage', data));
        }
        if (pending.logs.length > 0) {
          const data = { app_id: pending.appId, service_id: serviceId, entries: pending.logs, nonce: newNonce() };
          rows.push(outboxRow(serviceId, pending.appId, 'logs', data));
        }
      }
      if (rows.length > 0) await trx.insertInto('kit_outbox').values(rows).execute();
    });
  }

  async #sendOutbox(): Promise<void> {
    const rows = await this.#options.db.selectFrom('kit_outbox').selectAll().orderBy('created_at').orderBy('id').limit(1000).execute();
    const unreachable = new Set<string>();
    for (const row of rows) {
      const context = this.#options.contexts.get(row.service_id)?.context;
      const base = row.kind === 'usage' ? context?.billing_provider_url : context?.logging_service_url;
      if (!base || unreachable.has(base)) continue;
      const instance = await this.#options.instances.get(row.service_id);
      if (!instance?.key) {
        // The instance is gone (its binding was refused): nobody would accept its reports.
        await this.#options.db.deleteFrom('kit_outbox').where('id', '=', row.id).execute();
        continue;
      }
      const data = { ...JSON.parse(row.data), timestamp: nowSeconds() };
      const path = row.kind === 'usage' ? '/v1/usage' : '/v1/logs';
      try {
        const { status } = await postJson(base.replace(/\/+$/, '') + path, signEnvelope('service_call', data, instance.key.privateKey), {
          timeoutMs: 5000,
        });
        // 409: the receiver already counted this nonce; 400/413/422: it will never take this batch.
        if (status === 202 || status === 409 || status === 400 || status === 413 || status === 422) {
          await this.#options.db.deleteFrom('kit_outbox').where('id', '=', row.id).execute();
        } else if (status >= 500) unreachable.add(base);
        else if (status === 403 && (instance.status === 'revoked' || instance.terminated)) {
          // A revoked instance's reports are refused for good (SPEC §11 step 3).
          await this.#options.db.deleteFrom('kit_outbox').where('id', '=', row.id).execute();
        }
      } catch {
        unreachable.add(base);
      }
    }
  }
}

function outboxRow(serviceId: string, appId: string, kind: 'usage' | 'logs', data: object): OutboxRow {
  return {
    id: `${Date.now().toString().padStart(15, '0')}-${randomUUID()}`,
    service_id: serviceId,
    app_id: appId,
    kind,
    data: JSON.stringify(data),
    created_at: Date.now(),
  };
}
