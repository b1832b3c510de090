import { type ReplayStore, SwarmError } from '@swarm/protocol';
import { type Kysely, sql } from 'kysely';
import { createClient, type RedisClientType } from 'redis';
import { isUniqueViolation, migrate, withTables } from './database.js';

interface ReplayTables {
  replay_nonces: { scope: string; nonce: string; expires_at: number };
}

/**
 * Nonces in the service's own database: durable across restarts, and exact across replicas
 * on one PostgreSQL, because the primary key decides which insert wins.
 */
export class SqlReplayStore implements ReplayStore {
  readonly #db: Kysely<ReplayTables>;
  #calls = 0;

  private constructor(db: Kysely<ReplayTables>) {
    this.#db = db;
  }

  static async open(db: Kysely<unknown>): Promise<SqlReplayStore> {
    const typed = withTables<ReplayTables>(db);
    await migrate(typed, 'replay', {
      '001_replay_nonces': {
        up: async (db) => {
          await db.schema
            .createTable('replay_nonces')
            .ifNotExists()
            .addColumn('scope', 'text', (c) => c.notNull())
            .addColumn('nonce', 'text', (c) => c.notNull())
            .addColumn('expires_at', 'bigint', (c) => c.notNull())
            .addPrimaryKeyConstraint('replay_nonces_pk', ['scope', 'nonce'])
            .execute();
          await db.schema.createIndex('replay_nonces_expiry').ifNotExists().on('replay_nonces').column('expires_at').execute();
        },
      },
    });
    return new SqlReplayStore(typed);
  }

  async unique(scope: string, nonce: string, expiresAt: number): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    if (++this.#calls % 1000 === 0) await this.purge(now);
    try {
      await this.#db
        .insertInto('replay_nonces')
        .values({ scope, nonce, expires_at: Math.ceil(expiresAt) })
        .execute();
      return true;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    // Seen before: new again only once the old entry has expired (and only one racer wins).
    const result = await this.#db
      .updateTable('replay_nonces')
      .set({ expires_at: Math.ceil(expiresAt) })
      .where('scope', '=', scope)
      .where('nonce', '=', nonce)
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async purge(now = Math.floor(Date.now() / 1000)): Promise<void> {
    await this.#db.deleteFrom('replay_nonces').where('expires_at', '<', sql<number>`${now}`).execute();
  }
}

/**
 * A connected Redis client as every part uses it: a request fails at once while Redis is away
 * instead of queueing without bound; after the first connection it reconnects for as long as
 * it takes, while at start a wrong URL is reported after three tries.
 */
export async function openRedisClient(url: string): Promise<RedisClientType> {
  let connectedOnce = false;
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries: number) =>
        connectedOnce ? Math.min(retries * 100, 2000) : retries >= 3 ? new Error(`Redis at ${url} is unreachable`) : 200,
    },
  }) as RedisClientType;
  client.on('error', () => {});
  client.on('ready', () => {
    connectedOnce = true;
  });
  await client.connect();
  return client;
}

/** Nonces shared by every replica through Redis: `SET key NX EXAT` is the whole check. */
export class RedisReplayStore implements ReplayStore {
  readonly #client: RedisClientType;
  readonly #prefix: string;
  #borrowed = false;

  private constructor(client: RedisClientType, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  static async open(url: string, prefix = 'swarm:nonce'): Promise<RedisReplayStore> {
    const client = await openRedisClient(url);
    return new RedisReplayStore(client, prefix);
  }

  /** Over a client the caller also uses for other things (and closes itself: `close` then leaves it open). */
  static over(client: RedisClientType, prefix: string): RedisReplayStore {
    const store = new RedisReplayStore(client, prefix);
    store.#borrowed = true;
    return store;
  }

  async unique(scope: string, nonce: string, expiresAt: number): Promise<boolean> {
    // A nonce whose window already closed cannot be replayed inside it: nothing to remember.
    if (expiresAt <= Date.now() / 1000) return true;
    try {
      const reply = await this.#client.set(`${this.#prefix}:${scope}:${nonce}`, '1', {
        condition: 'NX',
        expiration: { type: 'EXAT', value: Math.ceil(expiresAt) },
      });
      return reply === 'OK';
    } catch (cause) {
      throw new SwarmError('registry_unavailable', 'the nonce store is unavailable, try again', { cause });
    }
  }

  /** For readiness: resolves when Redis answers. */
  async ping(): Promise<void> {
    await this.#client.ping();
  }

  async close(): Promise<void> {
    if (!this.#borrowed && this.#client.isOpen) await this.#client.quit().catch(() => {});
  }
}
