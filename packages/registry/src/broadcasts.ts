import { type BroadcastData, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { requestJson } from '@swarm/runtime';
import type { RegistryContext } from './context.js';
import type { AppRow } from './storage/apps.js';
import { eventsUrlsOfApp } from './storage/catalog.js';
import { claimBroadcast, dueBroadcasts, enqueueBroadcast, markDelivered, markFailed, purgeDelivered } from './storage/outbox.js';
import type { Executor } from './storage/schema.js';

type Event = BroadcastData extends infer D
  ? D extends BroadcastData
    ? Omit<D, 'origin' | 'app_id' | 'timestamp' | 'nonce'>
    : never
  : never;

/** Delivered rows are kept this long for inspection. */
const DELIVERED_KEPT_SECONDS = 7 * 86400;

const eventsUrl = (base: string) => `${base.replace(/\/+$/, '')}/v1/events`;

/** Transactions that queued at least one broadcast row: only their commit needs a delivery pass. */
const queuedIn = new WeakSet<Executor>();

/** Whether `trx` queued a broadcast (read after it committed). */
export function queuedBroadcasts(trx: Executor): boolean {
  return queuedIn.has(trx);
}

/**
 * Queues a broadcast (SPEC §9.4) in the caller's transaction: to the app's Auth Provider,
 * Billing and Logging, and to the events_url of each provider with an active instance of the
 * app (and `alsoServiceId`, just revoked). `extraBackbone` adds URLs the change replaced.
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
    ...backbone.filter((url): url is string => url !== null).map(eventsUrl),
    ...(await eventsUrlsOfApp(db, app.appId, options.alsoServiceId)),
  ];
  const data = { origin: ctx.authority, app_id: app.appId, ...event, nonce: newNonce() };
  if (urls.length === 0) return;
  await enqueueBroadcast(db, app.appId, urls, data, nowSeconds());
  queuedIn.add(db);
}

export interface DeliveryOptions {
  initialMs: number;
  maxMs: number;
  pollMs: number;
  timeoutMs: number;
  /** A broadcast still undelivered after this long stops being retried (its row stays, with last_error). */
  giveUpAfterSeconds: number;
  logger?: { warn(obj: unknown, msg?: string): void };
}

/**
 * The outbox delivery loop: at least once, exponential backoff up to maxMs, 2xx = delivered.
 * Rows are leased before sending, so replicas on one database rarely send twice; receivers drop
 * repeats by nonce anyway. Each attempt is signed afresh (same nonce, new timestamp), so a
 * delivery that lands after a long outage is still fresh.
 */
export class BroadcastDelivery {
  readonly #ctx: RegistryContext;
  readonly #options: DeliveryOptions;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #passes = 0;

  constructor(ctx: RegistryContext, options: DeliveryOptions) {
    this.#ctx = ctx;
    this.#options = options;
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
   * Runs a pass now and waits for it (at most `maxWaitMs`): a change's broadcasts get their first
   * attempt before the change is answered, so reachable receivers hear of it first.
   */
  async settle(maxWaitMs: number): Promise<void> {
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxWaitMs);
    });
    const drained = (async () => {
      while (this.#running) await this.#running;
    })();
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  async #pass(): Promise<void> {
    const db = this.#ctx.db;
    if (++this.#passes % 1000 === 1) await purgeDelivered(db, nowSeconds() - DELIVERED_KEPT_SECONDS);
    for (;;) {
      const now = Date.now();
      const due = await dueBroadcasts(db, now, nowSeconds() - this.#options.giveUpAfterSeconds, 50);
      if (due.length === 0 || this.#stopped) return;
      await Promise.all(
        due.map(async (row) => {
          if (!(await claimBroadcast(db, row, now + this.#options.timeoutMs * 3))) return;
          const error = await this.#deliver(row.url, row.data);
          if (error === null) await markDelivered(db, row.id, nowSeconds());
          else await markFailed(db, row.id, Date.now() + this.#backoff(row.attempts), error);
        }),
      );
      if (due.length < 50) return;
    }
  }

  #backoff(attempts: number): number {
    const { initialMs, maxMs } = this.#options;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempts, 30));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  async #deliver(url: string, data: Record<string, unknown>): Promise<string | null> {
    const envelope = signEnvelope('broadcast', { ...data, timestamp: nowSeconds() }, this.#ctx.registryKey.privateKey);
    try {
      // Only the status counts: a receiver may answer 2xx with any body, or none.
      const { status } = await requestJson('POST', url, envelope, { timeoutMs: this.#options.timeoutMs, read: 'status' });
      return status >= 200 && status < 300 ? null : `receiver answered ${status}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
}
