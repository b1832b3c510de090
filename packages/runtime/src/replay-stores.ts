import { type ReplayStore, SwarmError } from '@swarm/protocol';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { createClient, type RedisClientType } from 'redis';
import { migrate, withTables } from './database.js';
import { prepareWithKysely } from './prepared.js';

interface ReplayTables {
  replay_nonces: { scope: string; nonce: string; expires_at: number };
}

interface PendingNonce {
  scope: string;
  nonce: string;
  expiresAt: number;
  resolve: (unique: boolean) => void;
  reject: (error: unknown) => void;
}

type NonceRow = ReplayTables['replay_nonces'];

/** A nonce's insert (a repeat changes nothing) and the renewal of an expired entry, compiled once. */
function nonceStatements(db: Kysely<ReplayTables>) {
  const prepare = prepareWithKysely(db);
  return {
    insert: prepare<NonceRow, unknown>((value) =>
      db
        .insertInto('replay_nonces')
        .values({ scope: value('scope'), nonce: value('nonce'), expires_at: value('expires_at') })
        .onConflict((oc) => oc.columns(['scope', 'nonce']).doNothing()),
    ),
    renew: prepare<NonceRow & { now: number }, unknown>((value) =>
      db
        .updateTable('replay_nonces')
        .set({ expires_at: value('expires_at') })
        .where('scope', '=', value('scope'))
        .where('nonce', '=', value('nonce'))
        .where('expires_at', '<=', value('now')),
    ),
  };
}

/**
 * Nonces in the service's own database: durable across restarts, and exact across replicas
 * on one PostgreSQL, because the primary key decides which insert wins.
 *
 * Group commit: the nonces asked for in one turn of the event loop are written in one
 * transaction (a commit costs more than the inserts on SQLite, and a provisioning spends two
 * nonces). Each caller still learns its own answer only after the commit that holds its
 * nonce, so nothing is acted on before its nonce is durably spent; a nonce asked twice in one
 * group is new once. A lone nonce is written on its own, as before.
 */
export class SqlReplayStore implements ReplayStore {
  readonly #db: Kysely<ReplayTables>;
  readonly #statements: ReturnType<typeof nonceStatements>;
  #calls = 0;
  #pending: PendingNonce[] = [];

  private constructor(db: Kysely<ReplayTables>) {
    this.#db = db;
    this.#statements = nonceStatements(db);
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

  unique(scope: string, nonce: string, expiresAt: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ scope, nonce, expiresAt, resolve, reject }) === 1) setImmediate(() => void this.#flush());
    });
  }

  async purge(now = Math.floor(Date.now() / 1000)): Promise<void> {
    await this.#db.deleteFrom('replay_nonces').where('expires_at', '<', sql<number>`${now}`).execute();
  }

  async #flush(): Promise<void> {
    const group = this.#pending;
    this.#pending = [];
    const now = Math.floor(Date.now() / 1000);
    try {
      const before = this.#calls;
      this.#calls += group.length;
      if (Math.floor(before / 1000) !== Math.floor(this.#calls / 1000)) await this.purge(now);
      const answers =
        group.length === 1
          ? [await this.#spend(this.#db, group[0] as PendingNonce, now)]
          : await this.#db.transaction().execute(async (trx) => {
              const spent: boolean[] = [];
              for (const pending of group) spent.push(await this.#spend(trx, pending, now));
              return spent;
            });
      for (const [i, pending] of group.entries()) pending.resolve(answers[i] as boolean);
    } catch (error) {
      for (const pending of group) pending.reject(error);
    }
  }

  /**
   * Inserts the nonce; one seen before is new again only once its entry has expired (and only
   * one racer wins). Both statements are compiled once: every signed request spends a nonce.
   */
  async #spend(db: Kysely<ReplayTables>, { scope, nonce, expiresAt }: PendingNonce, now: number): Promise<boolean> {
    const expires_at = Math.ceil(expiresAt);
    const { insert, renew } = this.#statements;
    const inserted = await db.executeQuery(CompiledQuery.raw(insert.compiled.sql, insert.compiled.bind({ scope, nonce, expires_at })));
    if (Number(inserted.numAffectedRows ?? 0) > 0) return true;
    const renewed = await db.executeQuery(CompiledQuery.raw(renew.compiled.sql, renew.compiled.bind({ scope, nonce, expires_at, now })));
    return Number(renewed.numAffectedRows ?? 0) > 0;
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
