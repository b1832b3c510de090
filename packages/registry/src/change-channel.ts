import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import type { Executor } from './storage/schema.js';

export interface ChangeChannelOptions {
  /** `postgres://…`, as the registry's database (a `schema` parameter is ignored here). */
  url: string;
  /** The registry's schema: registries in other schemas of the database have channels of their own. */
  schema: string | undefined;
  /** An app changed (announced by any replica, this one included). */
  onChange(appId: string): void;
  /** The channel stopped or came back: whatever was kept may have missed changes. */
  onReset(): void;
  /** First retry after a lost connection; doubles up to 30 s. Default 500 ms. */
  retryMs?: number;
}

/**
 * PostgreSQL LISTEN/NOTIFY carrying the app_id of each committed change, so every replica drops
 * that app's kept answers (app-lookups.ts). `announce` runs inside the changing transaction:
 * PostgreSQL delivers the notification only if it commits, after it committed. While the
 * listening connection is down nothing may be kept (`listening` is false, `onReset` emptied it);
 * it reconnects with backoff and empties again before answers are kept anew.
 */
export class ChangeChannel {
  readonly #options: ChangeChannelOptions;
  readonly #name: string;
  #client: pg.Client | null = null;
  #listening = false;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;
  #retryMs: number;

  private constructor(options: ChangeChannelOptions) {
    this.#options = options;
    this.#retryMs = options.retryMs ?? 500;
    // A channel name is an identifier of at most 63 bytes: a hash keeps long schema names apart.
    const schema = options.schema ?? 'public';
    this.#name = `swarm_registry_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
  }

  /** Opens the channel; when the first connection fails the registry still starts, with nothing kept until it listens. */
  static async open(options: ChangeChannelOptions): Promise<ChangeChannel> {
    const channel = new ChangeChannel(options);
    await channel.#connect();
    return channel;
  }

  get listening(): boolean {
    return this.#listening;
  }

  async announce(trx: Executor, appId: string): Promise<void> {
    await sql`select pg_notify(${this.#name}, ${appId})`.execute(trx);
  }

  /** For tests: drops the listening connection as a network fault would. */
  interrupt(): void {
    this.#client?.emit('error', new Error('interrupted'));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#listening = false;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    const url = new URL(this.#options.url);
    url.searchParams.delete('schema');
    const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => {
      if (message.channel === this.#name && message.payload) this.#options.onChange(message.payload);
    });
    this.#client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#name}`);
    } catch {
      this.#lost(client);
      return;
    }
    if (this.#client !== client) return;
    // Changes made while nobody listened are unknown: start empty.
    this.#options.onReset();
    this.#listening = true;
    this.#retryMs = this.#options.retryMs ?? 500;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#listening = false;
    this.#options.onReset();
    client.end().catch(() => {});
    if (this.#closed) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (!this.#closed) void this.#connect();
    }, wait);
    this.#retry.unref();
  }
}
