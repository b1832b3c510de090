import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jwkFromPublicKey, jwkThumbprint, publicKeyObject, SwarmError, wirePublicKeyOf } from '@swarm/protocol';
import { isUniqueViolation, migrate, withTables } from '@swarm/runtime';
import { type Kysely, sql } from 'kysely';

interface AuthTables {
  auth_apps: { app_id: string; created_at: number };
  auth_keys: { kid: string; app_id: string; public_key: string; private_key: string; created_at: number; retires_at: number | null };
  auth_users: { app_id: string; username: string; password_hash: string; roles: string; created_at: number };
}

/** The key new tokens of an app are signed with. */
export interface SigningAuthKey {
  kid: string;
  publicKey: string;
  privateKey: KeyObject;
}

/** A key tokens of an app still verify under: the current one and those in their overlap. */
export interface VerificationAuthKey {
  kid: string;
  publicKey: string;
  key: KeyObject;
  /** Unix seconds when it stops verifying; null for the current key. */
  retiresAt: number | null;
}

export interface AuthUser {
  username: string;
  passwordHash: string;
  roles: string[];
}

interface Cached<T> {
  value: T;
  expiresAt: number;
}

// Replicas on one database see another's rotation within this time; the old key stays valid longer.
const KEY_CACHE_MS = 10_000;

export async function migrateAuth(db: Kysely<unknown>): Promise<void> {
  await migrate(db, 'auth', {
    '001_auth': {
      up: async (db) => {
        await db.schema
          .createTable('auth_apps')
          .addColumn('app_id', 'text', (c) => c.primaryKey())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('auth_keys')
          .addColumn('kid', 'text', (c) => c.primaryKey())
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('private_key', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('retires_at', 'bigint')
          .execute();
        await db.schema.createIndex('auth_keys_app').on('auth_keys').column('app_id').execute();
        // One current key per app, even when two rotations race on replicas.
        await db.schema
          .createIndex('auth_keys_current')
          .on('auth_keys')
          .column('app_id')
          .unique()
          .where(sql.ref('retires_at'), 'is', null)
          .execute();
        await db.schema
          .createTable('auth_users')
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('auth_users_pk', ['app_id', 'username'])
          .execute();
      },
    },
  });
}

function newAuthKey(appId: string, now: number): AuthTables['auth_keys'] {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = wirePublicKeyOf(privateKey);
  return {
    kid: jwkThumbprint(publicKey),
    app_id: appId,
    public_key: publicKey,
    private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    created_at: now,
    retires_at: null,
  };
}

/** Per-app user stores and Auth keys (private halves stay in this database). */
export class AuthStore {
  readonly #db: Kysely<AuthTables>;
  readonly #signing = new Map<string, Cached<SigningAuthKey | null>>();
  readonly #verifying = new Map<string, Cached<VerificationAuthKey[]>>();
  /** Apps provisioned here; an app is never unprovisioned, so a hit needs no query. */
  readonly #known = new Set<string>();

  constructor(db: Kysely<unknown>) {
    this.#db = withTables<AuthTables>(db);
  }

  /**
   * Creates the app's user store and first Auth key, once. A second call for the same app
   * answers the existing key with `created: false` (an idempotent retry).
   */
  async provision(appId: string, now: number): Promise<{ created: boolean; key: SigningAuthKey }> {
    const key = newAuthKey(appId, now);
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto('auth_apps').values({ app_id: appId, created_at: now }).execute();
        await trx.insertInto('auth_keys').values(key).execute();
      });
      this.#forget(appId);
      return { created: true, key: { kid: key.kid, publicKey: key.public_key, privateKey: createPrivateKey(key.private_key) } };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    const existing = await this.signingKey(appId);
    if (!existing) throw new SwarmError('conflict', 'the app is being provisioned, try again');
    return { created: false, key: existing };
  }

  async hasApp(appId: string): Promise<boolean> {
    if (this.#known.has(appId)) return true;
    const row = await this.#db.selectFrom('auth_apps').select('app_id').where('app_id', '=', appId).executeTakeFirst();
    if (row && this.#known.size < 100_000) this.#known.add(appId);
    return row !== undefined;
  }

  /** The key new tokens are signed with, or null when the app is not provisioned here. */
  async signingKey(appId: string): Promise<SigningAuthKey | null> {
    const cached = this.#signing.get(appId);
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    const row = await this.#db
      .selectFrom('auth_keys')
      .select(['kid', 'public_key', 'private_key'])
      .where('app_id', '=', appId)
      .where('retires_at', 'is', null)
      .executeTakeFirst();
    const value = row ? { kid: row.kid, publicKey: row.public_key, privateKey: createPrivateKey(row.private_key) } : null;
    this.#signing.set(appId, { value, expiresAt: Date.now() + KEY_CACHE_MS });
    return value;
  }

  /** The keys the app's tokens verify under at `now`, current key first. */
  async verificationKeys(appId: string, now: number): Promise<VerificationAuthKey[]> {
    const cached = this.#verifying.get(appId);
    if (cached && cached.expiresAt > Date.now()) return cached.value.filter((key) => key.retiresAt === null || key.retiresAt > now);
    const rows = await this.#db
      .selectFrom('auth_keys')
      .select(['kid', 'public_key', 'retires_at'])
      .where('app_id', '=', appId)
      .where((eb) => eb.or([eb('retires_at', 'is', null), eb('retires_at', '>', now)]))
      .orderBy('created_at', 'desc')
      .execute();
    const value = rows
      .map((row) => ({
        kid: row.kid,
        publicKey: row.public_key,
        key: publicKeyObject(row.public_key),
        retiresAt: row.retires_at === null ? null : Number(row.retires_at),
      }))
      .sort((a, b) => (a.retiresAt === null ? -1 : b.retiresAt === null ? 1 : b.retiresAt - a.retiresAt));
    this.#verifying.set(appId, { value, expiresAt: Date.now() + KEY_CACHE_MS });
    return value;
  }

  /** A new current key; the old one keeps verifying until `now + overlapSeconds`. */
  async rotate(appId: string, now: number, overlapSeconds: number): Promise<SigningAuthKey> {
    const key = newAuthKey(appId, now);
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .updateTable('auth_keys')
          .set({ retires_at: now + overlapSeconds })
          .where('app_id', '=', appId)
          .where('retires_at', 'is', null)
          .execute();
        await trx.insertInto('auth_keys').values(key).execute();
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new SwarmError('conflict', 'another rotation of this key won, try again');
      throw error;
    }
    this.#forget(appId);
    return { kid: key.kid, publicKey: key.public_key, privateKey: createPrivateKey(key.private_key) };
  }

  /** Adds a user; `conflict` when the name is taken in this app. */
  async createUser(appId: string, user: AuthUser, now: number): Promise<void> {
    try {
      await this.#db
        .insertInto('auth_users')
        .values({
          app_id: appId,
          username: user.username,
          password_hash: user.passwordHash,
          roles: JSON.stringify(user.roles),
          created_at: now,
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new SwarmError('conflict', 'this username is taken');
      throw error;
    }
  }

  async findUser(appId: string, username: string): Promise<AuthUser | null> {
    const row = await this.#db
      .selectFrom('auth_users')
      .select(['username', 'password_hash', 'roles'])
      .where('app_id', '=', appId)
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? { username: row.username, passwordHash: row.password_hash, roles: JSON.parse(row.roles) as string[] } : null;
  }

  #forget(appId: string): void {
    this.#signing.delete(appId);
    this.#verifying.delete(appId);
  }
}

/** The JWKS entry of an Auth key (RFC 7517; kid = RFC 7638 thumbprint). */
export function authJwk(key: { kid: string; publicKey: string }) {
  return { ...jwkFromPublicKey(key.publicKey), kid: key.kid, use: 'sig', alg: 'EdDSA' };
}
