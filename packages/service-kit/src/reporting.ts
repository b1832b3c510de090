import { randomUUID } from 'node:crypto';
import { type LogEntry, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import {
  type DeliveryOutcome,
  deliveryOutcome,
  type Egress,
  endHop,
  forEachLimited,
  openDatabase,
  type Prepare,
  type PreparedQuery,
  postJson,
  ReceiverLanes,
  type RunInTransaction,
  receiverOf,
  retryDelayMs,
  startHop,
  type Tracing,
  withTables,
  write,
} from '@swarm/runtime';
import { type Kysely, sql } from 'kysely';
import type { ContextCache } from './contexts.js';
import type { InstanceStore } from './instances.js';
import { type KitTables, kitDatabaseFile, type OutboxRow, outboxToRow, outboxToTable, usageCounterToRow } from './store.js';

interface Pending {
  appId: string;
  periodStart: number;
  counters: Record<string, number>;
  logs: LogEntry[];
}

export interface ReporterOptions {
  /** Billing and Logging are URLs tenants chose: sent through the service's egress policy. */
  egress?: Egress;
  db: Kysely<KitTables>;
  prepare: Prepare;
  runInTransaction: RunInTransaction;
  instances: InstanceStore;
  contexts: ContextCache;
  /** Gauges the domain measures at flush time (e.g. bytes_stored). */
  gauges: (serviceId: string) => Promise<Record<string, number>>;
  /** Limits of the outbox; each has a default (REPORT_OUTBOX_DEFAULTS). */
  outbox?: Partial<ReportOutboxLimits>;
  /** The service's span exporter, if any: each delivery is a trace the receiver joins. */
  tracing?: () => Tracing | null;
}

export interface ReportOutboxLimits {
  /** Rows an app may have waiting (not dead); past it, usage stays counted on disk and logs wait in memory. */
  capPerApp: number;
  /** A row unsent this long is a dead letter. */
  giveUpAfterMs: number;
  /** Backoff of a row and of a receiver whose breaker opened. */
  initialMs: number;
  maxMs: number;
  /** Consecutive failures that open a receiver's breaker. */
  failuresToOpen: number;
  /** Receivers sent to at once during a flush (one request at a time each). */
  lanesAtOnce: number;
  timeoutMs: number;
}

/**
 * 10 000 rows an app (10 s flushes: a day of one instance's batches), 3 days before a row is dead
 * (Stripe retries webhooks as long), 1 s doubling to 5 min between attempts, breakers open after
 * 5 failures in a row.
 */
export const REPORT_OUTBOX_DEFAULTS: ReportOutboxLimits = {
  capPerApp: 10_000,
  giveUpAfterMs: 3 * 86_400_000,
  initialMs: 1000,
  maxMs: 300_000,
  failuresToOpen: 5,
  lanesAtOnce: 32,
  timeoutMs: 5000,
};

/** Dead letters nobody retried are forgotten after this long. */
const DEAD_KEPT_MS = 30 * 86_400_000;

/** The parameters of the prepared counter upsert. */
interface CounterIncrement {
  serviceId: string;
  appId: string;
  metric: string;
  amount: number;
  periodStart: number;
}

const MAX_LOGS_PER_BATCH = 500;

/**
 * Usage and logs (SPEC §9.3): counted in memory, moved to the on-disk outbox at each flush,
 * signed with the instance key when sent, and deleted only once the receiver answered 202.
 * A batch keeps its nonce across retries so the receiver counts it once.
 *
 * The outbox is sent one lane per receiver (the Billing or Logging origin of the app's
 * context), each with its own backoff and circuit breaker, so one tenant's dead receiver delays
 * only its own rows. A row refused for good (4xx other than 408/429, or no receiver URL) or
 * unsent for `giveUpAfterMs` becomes a dead letter the operator lists and retries
 * (`swarm outbox`); an app with `capPerApp` rows waiting queues no more until they drain.
 */
export class Reporter {
  readonly #options: ReporterOptions;
  readonly #pending = new Map<string, Pending>();
  #flushing: Promise<void> | null = null;
  #batch: Map<string, CounterIncrement> | null = null;
  #batchWritten: Promise<void> | null = null;
  readonly #addToCounter: PreparedQuery<CounterIncrement, unknown>;
  readonly #limits: ReportOutboxLimits;
  readonly #lanes: ReceiverLanes;
  /** Lanes of failing receivers still sending, by receiver. */
  readonly #background = new Map<string, Promise<void>>();
  #flushes = 0;

  constructor(options: ReporterOptions) {
    this.#options = options;
    this.#limits = { ...REPORT_OUTBOX_DEFAULTS, ...options.outbox };
    this.#lanes = new ReceiverLanes(this.#limits);
    this.#addToCounter = options.prepare<CounterIncrement, unknown>((value) =>
      options.db
        .insertInto('kit_usage_counters')
        .values({
          service_id: value('serviceId'),
          metric: value('metric'),
          app_id: value('appId'),
          value: value('amount'),
          period_start: value('periodStart'),
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
    else this.#batch.set(key, { serviceId, appId, metric, amount, periodStart: nowSeconds() });
    return this.#batchWritten as Promise<void>;
  }

  async #writeCounters(batch: Map<string, CounterIncrement>): Promise<void> {
    try {
      await this.#options.runInTransaction([...batch.values()].map((increment) => write(this.#addToCounter, increment)));
    } catch {
      for (const increment of batch.values()) this.count(increment.serviceId, increment.appId, increment.metric, increment.amount);
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
    // An app at its cap queues nothing new: its usage stays counted on disk, its logs in memory.
    const full = await this.#appsAtCap();
    for (const [serviceId, pending] of batches) {
      if (!full.has(pending.appId)) continue;
      batches.delete(serviceId);
      for (const [metric, amount] of Object.entries(pending.counters)) this.count(serviceId, pending.appId, metric, amount);
      for (const entry of pending.logs) this.#pendingFor(serviceId, pending.appId).logs.push(entry);
    }
    // Taking the counters and writing the batches is one transaction: a crash keeps one or the other.
    await db.transaction().execute(async (trx) => {
      let taking = trx.deleteFrom('kit_usage_counters');
      if (full.size > 0) taking = taking.where('app_id', 'not in', [...full]);
      for (const row of (await taking.returningAll().execute()).map(usageCounterToRow)) {
        let pending = batches.get(row.serviceId);
        if (!pending) {
          pending = { appId: row.appId, periodStart: row.periodStart, counters: {}, logs: [] };
          batches.set(row.serviceId, pending);
        }
        pending.periodStart = Math.min(pending.periodStart, row.periodStart);
        pending.counters[row.metric] = (pending.counters[row.metric] ?? 0) + row.value;
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
      if (rows.length > 0) await trx.insertInto('kit_outbox').values(rows.map(outboxToTable)).execute();
    });
  }

  async #appsAtCap(): Promise<Set<string>> {
    const rows = await this.#options.db
      .selectFrom('kit_outbox')
      .select((eb) => ['app_id', eb.fn.countAll<number | string>().as('count')])
      .where('dead_at', 'is', null)
      .groupBy('app_id')
      .having((eb) => eb.fn.countAll(), '>=', this.#limits.capPerApp)
      .execute();
    return new Set(rows.map((row) => row.app_id));
  }

  async #sendOutbox(): Promise<void> {
    const db = this.#options.db;
    const now = Date.now();
    if (this.#flushes++ % 60 === 0) {
      await db
        .updateTable('kit_outbox')
        .set((eb) => ({ dead_at: now, last_error: eb.fn.coalesce('last_error', eb.val('unsent for too long')) }))
        .where('dead_at', 'is', null)
        .where('created_at', '<', now - this.#limits.giveUpAfterMs)
        .execute();
      await db
        .deleteFrom('kit_outbox')
        .where('dead_at', '<', now - DEAD_KEPT_MS)
        .execute();
    }
    // Only rows due now: rows waiting on a backoff or an open breaker do not hold a place.
    const rows = (
      await db
        .selectFrom('kit_outbox')
        .selectAll()
        .where('dead_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('created_at')
        .orderBy('id')
        .limit(1000)
        .execute()
    ).map(outboxToRow);
    const lanes = new Map<string, Array<{ row: OutboxRow; url: string }>>();
    for (const row of rows) {
      const context = this.#options.contexts.get(row.serviceId)?.context;
      if (!context) {
        // Not fetched yet (or the registry is away): the row waits, backing off.
        await this.#failed(row, 'retry', 'the instance has no operational context yet');
        continue;
      }
      const base = row.kind === 'usage' ? context.billing_provider_url : context.logging_service_url;
      const receiver = receiverOf(base);
      if (!base || !receiver) {
        await this.#failed(row, 'dead', `the app's context names no ${row.kind === 'usage' ? 'billing' : 'logging'} URL`);
        continue;
      }
      const path = row.kind === 'usage' ? '/v1/usage' : '/v1/logs';
      const lane = lanes.get(receiver) ?? [];
      lane.push({ row, url: base.replace(/\/+$/, '') + path });
      lanes.set(receiver, lane);
    }
    // A flush waits for healthy receivers only. A receiver that failed lately is sent to in the
    // background, one lane at a time, so its timeouts never hold up the next flush of the others.
    const healthy: Array<[string, Array<{ row: OutboxRow; url: string }>]> = [];
    for (const [receiver, items] of lanes) {
      if (this.#background.has(receiver)) continue;
      if (!this.#lanes.failing(receiver)) healthy.push([receiver, items]);
      else if (this.#background.size < this.#limits.lanesAtOnce) {
        const run = this.#sendLane(receiver, items)
          .catch(() => {})
          .finally(() => this.#background.delete(receiver));
        this.#background.set(receiver, run);
      }
    }
    await forEachLimited(healthy, this.#limits.lanesAtOnce, ([receiver, items]) => this.#sendLane(receiver, items));
  }

  /** Waits for the background lanes (at shutdown, before the store closes). */
  async drain(): Promise<void> {
    await Promise.all([...this.#background.values()]);
  }

  /** One receiver's rows, one at a time; the lane stops at its first failure of this flush. */
  async #sendLane(receiver: string, items: Array<{ row: OutboxRow; url: string }>): Promise<void> {
    const db = this.#options.db;
    for (let i = 0; i < items.length; i++) {
      const { row, url } = items[i] as { row: OutboxRow; url: string };
      const admission = this.#lanes.admit(receiver, Date.now());
      if (admission === 'wait') {
        // The breaker is open: the rest of the lane waits for it without being read again.
        const ids = items.slice(i).map((item) => item.row.id);
        await db
          .updateTable('kit_outbox')
          .set({ next_attempt_at: this.#lanes.openUntil(receiver) })
          .where('id', 'in', ids)
          .execute();
        return;
      }
      const instance = await this.#options.instances.get(row.serviceId);
      if (!instance?.key) {
        // The instance is gone (its binding was refused): nobody would accept its reports.
        await db.deleteFrom('kit_outbox').where('id', '=', row.id).execute();
        continue;
      }
      if (admission === 'probe') this.#lanes.startProbe(receiver);
      const data = { ...JSON.parse(row.data), timestamp: nowSeconds() };
      let status: number | null = null;
      let error: string | null = null;
      // A delivery is retried long after the request that counted it: it starts a trace of its own.
      const trace = startHop(this.#options.tracing?.(), `report ${row.kind}`, 'internal', null);
      try {
        ({ status } = await postJson(url, signEnvelope('service_call', data, instance.key.privateKey), {
          timeoutMs: this.#limits.timeoutMs,
          trace,
          ...(this.#options.egress ? { egress: this.#options.egress } : {}),
        }));
      } catch (cause) {
        error = cause instanceof Error ? cause.message : String(cause);
      }
      endHop(trace, status ?? undefined, error ?? undefined);
      // 409: the receiver already counted this nonce.
      const outcome: DeliveryOutcome = status === 409 ? 'delivered' : deliveryOutcome(status);
      this.#lanes.record(receiver, outcome, Date.now(), error);
      if (outcome === 'delivered' || (status === 403 && (instance.status === 'revoked' || instance.terminated))) {
        // A revoked instance's reports are refused for good (SPEC §11 step 3): nothing to keep.
        await db.deleteFrom('kit_outbox').where('id', '=', row.id).execute();
      } else {
        await this.#failed(row, outcome, error ?? `receiver answered ${status}`);
        if (outcome === 'retry') return;
      }
    }
  }

  async #failed(row: OutboxRow, outcome: Exclude<DeliveryOutcome, 'delivered'>, error: string): Promise<void> {
    const now = Date.now();
    const attempts = row.attempts;
    await this.#options.db
      .updateTable('kit_outbox')
      .set({
        attempts: attempts + 1,
        last_error: error.slice(0, 500),
        ...(outcome === 'dead'
          ? { dead_at: now }
          : { next_attempt_at: now + retryDelayMs(attempts, this.#limits.initialMs, this.#limits.maxMs) }),
      })
      .where('id', '=', row.id)
      .execute();
  }
}

export type ReportRowState = 'pending' | 'dead';

/** One report row as the provider's operator sees it (`swarm outbox list`). */
export interface ReportRowView {
  id: string;
  service_id: string;
  app_id: string;
  kind: string;
  state: ReportRowState;
  attempts: number;
  created_at: number;
  next_attempt_at: number | null;
  dead_at: number | null;
  last_error: string | null;
}

/** A page of the report outbox in one state, oldest first; `after` is the last id of the page before. */
export async function listReportOutbox(
  db: Kysely<KitTables>,
  filter: { state: ReportRowState; appId?: string; after?: string; limit: number },
): Promise<{ rows: ReportRowView[]; next: string | null }> {
  let query = db
    .selectFrom('kit_outbox')
    .select(['id', 'service_id', 'app_id', 'kind', 'attempts', 'created_at', 'next_attempt_at', 'dead_at', 'last_error'])
    .where('dead_at', filter.state === 'dead' ? 'is not' : 'is', null);
  if (filter.appId) query = query.where('app_id', '=', filter.appId);
  if (filter.after) query = query.where('id', '>', filter.after);
  const rows = await query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
  const page = rows.slice(0, filter.limit).map((row) => ({
    id: row.id,
    service_id: row.service_id,
    app_id: row.app_id,
    kind: row.kind,
    state: filter.state,
    attempts: Number(row.attempts),
    created_at: Number(row.created_at),
    next_attempt_at: filter.state === 'pending' ? Number(row.next_attempt_at) : null,
    dead_at: row.dead_at === null ? null : Number(row.dead_at),
    last_error: row.last_error,
  }));
  return { rows: page, next: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null };
}

/**
 * Puts dead report rows (all, those of `appId`, or those in `ids`) back in the queue: attempts and
 * the time they may stay unsent start over. A running service sends them at its next flush.
 */
export async function retryReportOutbox(db: Kysely<KitTables>, filter: { ids?: string[]; appId?: string } = {}): Promise<number> {
  const now = Date.now();
  let query = db
    .updateTable('kit_outbox')
    .set({ dead_at: null, attempts: 0, next_attempt_at: now, created_at: now })
    .where('dead_at', 'is not', null);
  if (filter.appId) query = query.where('app_id', '=', filter.appId);
  if (filter.ids) query = query.where('id', 'in', filter.ids.length > 0 ? filter.ids : ['']);
  return Number((await query.executeTakeFirst()).numUpdatedRows);
}

function outboxRow(serviceId: string, appId: string, kind: 'usage' | 'logs', data: object): OutboxRow {
  return {
    id: `${Date.now().toString().padStart(15, '0')}-${randomUUID()}`,
    serviceId,
    appId,
    kind,
    data: JSON.stringify(data),
    createdAt: Date.now(),
    attempts: 0,
    nextAttemptAt: 0,
    lastError: null,
    deadAt: null,
  };
}

/**
 * The report outbox of a service's database, for its operator (`swarm outbox`): the same
 * database the service runs on (its SQLite file under `dataDir`, or PostgreSQL), opened beside it.
 */
export function openReportOutbox(where: { serviceType: string; dataDir?: string; databaseUrl?: string; databaseSchema?: string }) {
  const database = openDatabase<unknown>({
    url: where.databaseUrl,
    file: kitDatabaseFile(where.dataDir ?? '.', where.serviceType),
    schema: where.databaseSchema,
  });
  const db = withTables<KitTables>(database.db);
  return {
    list: (filter: Parameters<typeof listReportOutbox>[1]) => listReportOutbox(db, filter),
    retry: (filter: Parameters<typeof retryReportOutbox>[1] = {}) => retryReportOutbox(db, filter),
    close: () => database.close(),
  };
}
