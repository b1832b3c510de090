import { type BroadcastData, newNonce, nowSeconds, SwarmError, signEnvelope } from '@swarm/protocol';
import {
  type DeliveryOutcome,
  deliveryOutcome,
  type Egress,
  endHop,
  forEachLimited,
  ReceiverLanes,
  receiverOf,
  requestJson,
  retryDelayMs,
  startHop,
  type Tracing,
} from '@swarm/runtime';
import type { RegistryContext } from './context.js';
import type { AppRow } from './storage/apps.js';
import { eventsUrlsOfApp } from './storage/catalog.js';
import {
  claimBroadcast,
  deferReceiver,
  dueBroadcastsOf,
  dueReceivers,
  enqueueBroadcast,
  expireUndelivered,
  markDead,
  markDelivered,
  markFailed,
  pendingBroadcastsOfApp,
  purgeDead,
  purgeDelivered,
} from './storage/outbox.js';
import type { Executor } from './storage/schema.js';

type Event = BroadcastData extends infer D
  ? D extends BroadcastData
    ? Omit<D, 'origin' | 'app_id' | 'timestamp' | 'nonce'>
    : never
  : never;

/** Delivered rows are kept this long for inspection. */
const DELIVERED_KEPT_SECONDS = 7 * 86400;
/** Dead letters nobody retried are kept this long (longer than SQS's 14-day maximum retention). */
const DEAD_KEPT_SECONDS = 30 * 86400;

const eventsUrl = (base: string) => `${base.replace(/\/+$/, '')}/v1/events`;

/** Transactions that queued broadcast rows, with the receivers they queued for: only their commit needs a delivery pass. */
const queuedIn = new WeakMap<Executor, Set<string>>();

/** The receivers `trx` queued broadcasts for (read after it committed); null when none. */
export function queuedBroadcasts(trx: Executor): ReadonlySet<string> | null {
  return queuedIn.get(trx) ?? null;
}

/**
 * Queues a broadcast (SPEC §9.4) in the caller's transaction: to the app's Auth Provider,
 * Billing and Logging, and to the events_url of each provider with an active instance of the
 * app (and `alsoServiceId`, just revoked). `extraBackbone` adds URLs the change replaced.
 * An app with `ctx.broadcastQueueCap` rows still waiting is refused (`429 rate_limited`): the
 * change is not made rather than its broadcast dropped.
 */
export async function queueBroadcast(
  db: Executor,
  ctx: RegistryContext,
  app: AppRow,
  event: Event,
  options: { alsoServiceId?: string; extraBackbone?: Array<string | null> } = {},
): Promise<void> {
  const backbone = [app.authProviderUrl, app.billingProviderUrl, app.loggingServiceUrl, ...(options.extraBackbone ?? [])];
  const urls = [
    ...new Set([
      ...backbone.filter((url): url is string => url !== null).map(eventsUrl),
      ...(await eventsUrlsOfApp(db, app.appId, options.alsoServiceId)),
    ]),
  ];
  const data = { origin: ctx.authority, app_id: app.appId, ...event, nonce: newNonce() };
  if (urls.length === 0) return;
  const waiting = await pendingBroadcastsOfApp(db, app.appId);
  if (waiting + urls.length > ctx.broadcastQueueCap) {
    throw new SwarmError(
      'rate_limited',
      `app ${app.appId} has ${waiting} broadcasts waiting for delivery (at most ${ctx.broadcastQueueCap}); retry once they are delivered or dead`,
    );
  }
  await enqueueBroadcast(db, app.appId, urls, data, nowSeconds());
  const receivers = queuedIn.get(db) ?? new Set<string>();
  for (const url of urls) receivers.add(receiverOf(url) ?? '');
  queuedIn.set(db, receivers);
}

export interface DeliveryOptions {
  initialMs: number;
  maxMs: number;
  pollMs: number;
  timeoutMs: number;
  /** A broadcast still undelivered after this long becomes a dead letter (kept, listed, retryable). */
  giveUpAfterSeconds: number;
  /** Requests in flight to one receiver. */
  laneConcurrency: number;
  /** Receivers served at once; half of them at most may be probes of receivers that failed. */
  maxLanes: number;
  /** Consecutive failures that open a receiver's circuit breaker. */
  failuresToOpen: number;
  /** Receivers are URLs tenants chose: sent through the registry's egress policy. */
  egress?: Egress;
  logger?: { warn(obj: unknown, msg?: string): void };
  /** The registry's span exporter, if any: each delivery is a trace the receiver joins. */
  tracing?: () => Tracing | null;
}

/**
 * The outbox delivery loop: at least once, 2xx = delivered, one lane per receiver (the
 * destination origin). Each lane has its own workers, backoff and circuit breaker
 * (runtime's ReceiverLanes), so a receiver that never answers holds at most its own
 * `laneConcurrency` requests and delays only its own rows. A permanent answer (4xx other than
 * 408/429) or a row undelivered for `giveUpAfterSeconds` becomes a dead letter the owner can
 * list and retry. Rows are leased before sending, so replicas on one database rarely send
 * twice; receivers drop repeats by nonce anyway. Each attempt is signed afresh (same nonce,
 * new timestamp), so a delivery that lands after a long outage is still fresh.
 */
export class BroadcastDelivery {
  readonly #ctx: RegistryContext;
  readonly #options: DeliveryOptions;
  readonly #lanes: ReceiverLanes;
  /** Running lane workers by receiver; `probe` marks a half-open lane's single test. */
  readonly #workers = new Map<string, { done: Promise<void>; probe: boolean }>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #passes = 0;

  constructor(ctx: RegistryContext, options: DeliveryOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#lanes = new ReceiverLanes({ initialMs: options.initialMs, maxMs: options.maxMs, failuresToOpen: options.failuresToOpen });
  }

  start(): void {
    this.kick();
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#running = this.#pass()
      .catch((error) => this.#options.logger?.warn({ err: error }, 'broadcast delivery pass failed'))
      .finally(() => {
        this.#running = null;
        if (this.#stopped) return;
        if (this.#again) {
          this.#again = false;
          this.kick();
        } else {
          this.#timer = setTimeout(() => this.kick(), this.#options.pollMs);
          this.#timer.unref();
        }
      });
  }

  /**
   * Runs a pass now and waits (at most `maxWaitMs`) for the lanes of `receivers` (all lanes
   * when null): a change's broadcasts get their first attempt before the change is answered,
   * so reachable receivers hear of it first, and a dead receiver of another app costs nothing.
   */
  async settle(maxWaitMs: number, receivers: ReadonlySet<string> | null = null): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxWaitMs);
    });
    const drained = (async () => {
      // A pass already running may have listed lanes before this change committed: kick asks for another.
      this.kick();
      while (this.#running) await this.#running;
      for (;;) {
        const busy = [...this.#workers].filter(([receiver]) => receivers === null || receivers.has(receiver));
        if (busy.length === 0) return;
        await Promise.all(busy.map(([, worker]) => worker.done));
      }
    })();
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    await Promise.all([...this.#workers.values()].map((worker) => worker.done));
  }

  async #pass(): Promise<void> {
    const db = this.#ctx.db;
    const passes = ++this.#passes;
    if (passes % 1000 === 1) {
      await purgeDelivered(db, nowSeconds() - DELIVERED_KEPT_SECONDS);
      await purgeDead(db, nowSeconds() - DEAD_KEPT_SECONDS);
    }
    if (passes % 60 === 1) await expireUndelivered(db, nowSeconds() - this.#options.giveUpAfterSeconds, nowSeconds());
    const { maxLanes } = this.#options;
    const now = Date.now();
    // More receivers than lanes: the ones whose breaker is open are passed over cheaply.
    for (const receiver of await dueReceivers(db, now, maxLanes * 4)) {
      if (this.#stopped || this.#workers.size >= maxLanes) return;
      if (this.#workers.has(receiver)) continue;
      const admission = this.#lanes.admit(receiver, now);
      if (admission === 'wait') {
        // Its breaker is open: its rows wait for it, so they stop heading the due list and a few
        // hundred dead receivers cannot keep every healthy one out of the lanes.
        await deferReceiver(db, receiver, this.#lanes.openUntil(receiver));
        continue;
      }
      const probes = [...this.#workers.values()].filter((worker) => worker.probe).length;
      if (admission === 'probe' && probes >= Math.max(1, Math.floor(maxLanes / 2))) continue;
      const worker = { probe: admission === 'probe', done: Promise.resolve() };
      worker.done = this.#lane(receiver)
        .catch((error) => this.#options.logger?.warn({ err: error, receiver }, 'broadcast lane failed'))
        .finally(() => {
          this.#workers.delete(receiver);
        });
      this.#workers.set(receiver, worker);
    }
  }

  /** Delivers one receiver's due rows until none is left or its breaker opens. */
  async #lane(receiver: string): Promise<void> {
    const db = this.#ctx.db;
    while (!this.#stopped) {
      const admission = this.#lanes.admit(receiver, Date.now());
      if (admission === 'wait') return;
      const probe = admission === 'probe';
      const concurrency = probe ? 1 : this.#options.laneConcurrency;
      const now = Date.now();
      const due = await dueBroadcastsOf(db, receiver, now, probe ? 1 : concurrency * 4);
      if (due.length === 0) return;
      if (probe) this.#lanes.startProbe(receiver);
      let sent = false;
      try {
        await forEachLimited(due, concurrency, async (row) => {
          if (this.#stopped || (!probe && this.#lanes.admit(receiver, Date.now()) !== 'go')) return;
          if (!(await claimBroadcast(db, row, Date.now() + this.#options.timeoutMs * 3))) return;
          sent = true;
          const { outcome, error } = await this.#deliver(row.url, row.data);
          this.#lanes.record(receiver, outcome, Date.now(), error);
          if (outcome === 'delivered') await markDelivered(db, row.id, nowSeconds());
          else if (outcome === 'dead') await markDead(db, row.id, nowSeconds(), error ?? 'refused');
          else {
            const next = Date.now() + retryDelayMs(row.attempts, this.#options.initialMs, this.#options.maxMs);
            await markFailed(db, row.id, next, error ?? 'failed');
          }
        });
      } finally {
        if (probe && !sent) this.#lanes.cancelProbe(receiver);
      }
    }
  }

  async #deliver(url: string, data: Record<string, unknown>): Promise<{ outcome: DeliveryOutcome; error: string | null }> {
    if (receiverOf(url) === null) return { outcome: 'dead', error: 'the receiver URL is not an http(s) URL' };
    const envelope = signEnvelope('broadcast', { ...data, timestamp: nowSeconds() }, this.#ctx.registryKey.privateKey);
    // A delivery may come long after the change that queued it, and be retried: a trace of its own.
    const trace = startHop(this.#options.tracing?.(), 'broadcast', 'internal', null);
    try {
      // Only the status counts: a receiver may answer 2xx with any body, or none.
      const { status } = await requestJson('POST', url, envelope, {
        timeoutMs: this.#options.timeoutMs,
        read: 'status',
        trace,
        ...(this.#options.egress ? { egress: this.#options.egress } : {}),
      }).finally(() => endHop(trace));
      const outcome = deliveryOutcome(status);
      return { outcome, error: outcome === 'delivered' ? null : `receiver answered ${status}` };
    } catch (error) {
      // The owner's listing shows only what kind of failure it was: the full text (how the
      // registry resolved and reached the host) would turn the public listing into a network probe.
      this.#options.logger?.warn({ err: error, receiver: url }, 'broadcast delivery failed');
      const refused = error instanceof SwarmError && error.message.includes('egress policy');
      return { outcome: 'retry', error: refused ? 'refused by the egress policy' : 'receiver unreachable' };
    }
  }
}
