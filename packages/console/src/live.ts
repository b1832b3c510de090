import type { ServerResponse } from 'node:http';
import type { ServiceRecord } from '@swarm/protocol';
import type { ConsoleSource } from './source.js';

/** Browser tabs following one console at once; more are refused (each holds a socket). */
export const MAX_LISTENERS = 8;
/** Usage samples kept per app for the chart (a day at one a minute). */
const SAMPLES = 1440;
/** Instances whose health-change time is remembered. */
const MAX_TRACKED = 10_000;

export interface UsageSample {
  at: number;
  metrics: Record<string, number>;
}

/**
 * Server-sent events: while a tab listens, polls each app's Service DNS records and sends
 * `instances` when one appears, goes, or changes health (the registry has no push to owners),
 * and relays `operation` events as the console's own actions progress.
 */
export class Live {
  readonly #listeners = new Set<ServerResponse>();
  readonly #seen = new Map<string, string>();
  readonly #samples = new Map<string, UsageSample[]>();
  readonly #health = new Map<string, { health: string; since: number }>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(
    private readonly source: ConsoleSource,
    private readonly apps: readonly string[],
    private readonly pollMs: number,
  ) {}

  /** Takes over the response as an event stream; false when too many listen already. */
  listen(response: ServerResponse): boolean {
    if (this.#listeners.size >= MAX_LISTENERS) return false;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    response.write('retry: 2000\n\n');
    this.#listeners.add(response);
    response.once('close', () => {
      this.#listeners.delete(response);
      if (this.#listeners.size === 0) this.#stop();
    });
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.poll(), this.pollMs);
      void this.poll();
    }
    return true;
  }

  send(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const listener of this.#listeners) listener.write(frame);
  }

  samples(appId: string): UsageSample[] {
    return this.#samples.get(appId) ?? [];
  }

  /** Keeps a usage total the page read, so the chart grows while the console runs. */
  sample(appId: string, metrics: Record<string, number>): void {
    const samples = this.#samples.get(appId) ?? [];
    const last = samples.at(-1);
    const at = Math.floor(Date.now() / 1000);
    if (last?.at === at) last.metrics = metrics;
    else samples.push({ at, metrics });
    if (samples.length > SAMPLES) samples.splice(0, samples.length - SAMPLES);
    this.#samples.set(appId, samples);
  }

  /**
   * The records with `health_changed_at`: when this console first saw the instance in its
   * present health (the registry keeps the last beat, not the last change).
   */
  annotate(records: ServiceRecord[]): Array<ServiceRecord & { health_changed_at: number }> {
    const now = Math.floor(Date.now() / 1000);
    return records.map((record) => {
      const health = record.health ?? 'unknown';
      let known = this.#health.get(record.service_id);
      if (known?.health !== health) {
        known = { health, since: now };
        this.#health.delete(record.service_id);
        this.#health.set(record.service_id, known);
        // Oldest first out: an app past this many instances loses only the earliest times.
        if (this.#health.size > MAX_TRACKED) this.#health.delete(this.#health.keys().next().value ?? '');
      }
      return { ...record, health_changed_at: known.since };
    });
  }

  /** One round: an `instances` event for each app whose records changed since the last round. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      for (const appId of this.apps) {
        const records = await this.source.services(appId).catch(() => null);
        if (!records) continue;
        const shape = fingerprint(records);
        if (this.#seen.get(appId) === shape) continue;
        const first = !this.#seen.has(appId);
        this.#seen.set(appId, shape);
        if (!first) this.send('instances', { app_id: appId, records: this.annotate(records) });
      }
    } finally {
      this.#polling = false;
    }
  }

  close(): void {
    this.#stop();
    for (const listener of this.#listeners) listener.end();
    this.#listeners.clear();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** What the page shows of the records: a change of any of it is worth an event. */
function fingerprint(records: ServiceRecord[]): string {
  return JSON.stringify(records.map((r) => [r.service_id, r.health ?? null, r.endpoint_url, r.service_tier, r.public_key]).sort());
}
