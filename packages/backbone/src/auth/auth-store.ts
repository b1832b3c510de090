import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jwkFromPublicKey, jwkThumbprint, publicKeyObject, type SignupPolicy, SwarmError, wirePublicKeyOf } from '@swarm/protocol';
import { isUniqueViolation, migrate, withTables } from '@swarm/runtime';
import { type Kysely, sql } from 'kysely';

interface AuthTables {
  auth_apps: { app_id: string; created_at: number };
  auth_keys: { kid: string; app_id: string; public_key: string; private_key: string; created_at: number; retires_at: number | null };
  auth_users: { app_id: string; username: string; password_hash: string; roles: string; created_at: number };
  auth_settings: { app_id: string; signup_policy: string; default_roles: string; updated_at: number };
  /** Invite codes by their SHA-256, so the database never holds a usable code. */
  auth_invites: {
    app_id: string;
    code_hash: string;
    roles: string;
    created_at: number;
    expires_at: number;
    used_at: number | null;
    used_by: string | null;
  };
  /** Users whose tokens issued at or before `revoked_at` are void (removed, reset, roles changed). */
  auth_revoked: { app_id: string; username: string; revoked_at: number };
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

/** A user as the owner lists them (no password hash). */
export interface ListedUser {
  username: string;
  roles: string[];
  created_at: number;
}

export interface SignupSettings {
  policy: SignupPolicy;
  defaultRoles: string[];
}

/** An app without a settings row: only the owner creates users (SPEC §15). */
export const DEFAULT_SIGNUP: SignupSettings = { policy: 'closed', defaultRoles: [] };

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
    '002_user_admin': {
      up: async (db) => {
        await db.schema
          .createTable('auth_settings')
          .addColumn('app_id', 'text', (c) => c.primaryKey())
          .addColumn('signup_policy', 'text', (c) => c.notNull())
          .addColumn('default_roles', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('auth_invites')
          .addColumn('code_hash', 'text', (c) => c.primaryKey())
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .addColumn('used_by', 'text')
          .execute();
        await db.schema.createIndex('auth_invites_expiry').on('auth_invites').column('expires_at').execute();
        await db.schema
          .createTable('auth_revoked')
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('auth_revoked_pk', ['app_id', 'username'])
          .execute();
        await db.schema.createIndex('auth_revoked_app_time').on('auth_revoked').columns(['app_id', 'revoked_at']).execute();
      },
    },
  });
}

/** How an invite code is kept and looked up. */
export function inviteHash(code: string): string {
  return createHash('sha256').update(code).digest('base64url');
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

  /**
   * Adds a user; `conflict` when the name is taken in this app. With `invite`, the invite is
   * used up in the same transaction: of two sign-ups with one code exactly one wins (the update
   * takes the row's lock on PostgreSQL, SQLite writes one at a time), and a sign-up that fails
   * leaves the code unused.
   */
  async createUser(appId: string, user: AuthUser, now: number, invite?: { code: string }): Promise<void> {
    try {
      await this.#db.transaction().execute(async (trx) => {
        if (invite) {
          const used = await trx
            .updateTable('auth_invites')
            .set({ used_at: now, used_by: user.username })
            .where('code_hash', '=', inviteHash(invite.code))
            .where('app_id', '=', appId)
            .where('used_at', 'is', null)
            .where('expires_at', '>', now)
            .executeTakeFirst();
          if (Number(used.numUpdatedRows) !== 1) throw new SwarmError('forbidden', 'the invite is unknown, used or expired');
        }
        await trx
          .insertInto('auth_users')
          .values({
            app_id: appId,
            username: user.username,
            password_hash: user.passwordHash,
            roles: JSON.stringify(user.roles),
            created_at: now,
          })
          .execute();
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new SwarmError('conflict', 'this username is taken');
      throw error;
    }
  }

  /** The user, and when their tokens were last voided (null if never). */
  async findUser(appId: string, username: string): Promise<(AuthUser & { revokedAt: number | null }) | null> {
    const row = await this.#db
      .selectFrom('auth_users as u')
      .leftJoin('auth_revoked as r', (join) => join.onRef('r.app_id', '=', 'u.app_id').onRef('r.username', '=', 'u.username'))
      .select(['u.username', 'u.password_hash', 'u.roles', 'r.revoked_at'])
      .where('u.app_id', '=', appId)
      .where('u.username', '=', username)
      .executeTakeFirst();
    if (!row) return null;
    return {
      username: row.username,
      passwordHash: row.password_hash,
      roles: JSON.parse(row.roles) as string[],
      revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    };
  }

  /** Users in name order after `after`, at most `limit`. */
  async listUsers(appId: string, after: string | undefined, limit: number): Promise<ListedUser[]> {
    let query = this.#db
      .selectFrom('auth_users')
      .select(['username', 'roles', 'created_at'])
      .where('app_id', '=', appId)
      .orderBy('username')
      .limit(limit);
    if (after !== undefined) query = query.where('username', '>', after);
    const rows = await query.execute();
    return rows.map((row) => ({ username: row.username, roles: JSON.parse(row.roles) as string[], created_at: Number(row.created_at) }));
  }

  /**
   * Changes a user's roles or password hash and voids their earlier tokens, in one
   * transaction; `not_found` for an unknown user.
   */
  async updateUser(appId: string, username: string, change: { roles?: string[]; passwordHash?: string }, now: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('auth_users')
        .set({
          ...(change.roles ? { roles: JSON.stringify(change.roles) } : {}),
          ...(change.passwordHash ? { password_hash: change.passwordHash } : {}),
        })
        .where('app_id', '=', appId)
        .where('username', '=', username)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) throw new SwarmError('not_found', `no user ${username} in this app`);
      await revokeIn(trx, appId, username, now);
    });
  }

  /** Removes a user and voids their tokens, in one transaction; `not_found` for an unknown user. */
  async removeUser(appId: string, username: string, now: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const removed = await trx.deleteFrom('auth_users').where('app_id', '=', appId).where('username', '=', username).executeTakeFirst();
      if (Number(removed.numDeletedRows) !== 1) throw new SwarmError('not_found', `no user ${username} in this app`);
      await revokeIn(trx, appId, username, now);
    });
  }

  /** Subjects voided after `since` (older entries can match no unexpired token). */
  async revokedSince(appId: string, since: number): Promise<Array<{ username: string; revokedAt: number }>> {
    const rows = await this.#db
      .selectFrom('auth_revoked')
      .select(['username', 'revoked_at'])
      .where('app_id', '=', appId)
      .where('revoked_at', '>', since)
      .orderBy('revoked_at')
      .execute();
    return rows.map((row) => ({ username: row.username, revokedAt: Number(row.revoked_at) }));
  }

  /** When the subject's tokens were last voided, or null. */
  async revokedAt(appId: string, username: string): Promise<number | null> {
    const row = await this.#db
      .selectFrom('auth_revoked')
      .select('revoked_at')
      .where('app_id', '=', appId)
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? Number(row.revoked_at) : null;
  }

  async signupSettings(appId: string): Promise<SignupSettings> {
    const row = await this.#db
      .selectFrom('auth_settings')
      .select(['signup_policy', 'default_roles'])
      .where('app_id', '=', appId)
      .executeTakeFirst();
    if (!row) return DEFAULT_SIGNUP;
    return { policy: row.signup_policy as SignupPolicy, defaultRoles: JSON.parse(row.default_roles) as string[] };
  }

  async setSignupSettings(appId: string, settings: SignupSettings, now: number): Promise<void> {
    const values = { signup_policy: settings.policy, default_roles: JSON.stringify(settings.defaultRoles), updated_at: now };
    await this.#db
      .insertInto('auth_settings')
      .values({ app_id: appId, ...values })
      .onConflict((conflict) => conflict.column('app_id').doUpdateSet(values))
      .execute();
  }

  /** Keeps a new invite (by its hash); used and expired ones of the app are swept on the way. */
  async createInvite(appId: string, code: string, roles: string[], now: number, expiresAt: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('auth_invites').where('app_id', '=', appId).where('expires_at', '<=', now).execute();
      await trx
        .insertInto('auth_invites')
        .values({
          app_id: appId,
          code_hash: inviteHash(code),
          roles: JSON.stringify(roles),
          created_at: now,
          expires_at: expiresAt,
          used_at: null,
          used_by: null,
        })
        .execute();
    });
  }

  /** The roles of an invite that can still be used, or null (unknown, used or expired). */
  async usableInvite(appId: string, code: string, now: number): Promise<string[] | null> {
    const row = await this.#db
      .selectFrom('auth_invites')
      .select('roles')
      .where('code_hash', '=', inviteHash(code))
      .where('app_id', '=', appId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row ? (JSON.parse(row.roles) as string[]) : null;
  }

  #forget(appId: string): void {
    this.#signing.delete(appId);
    this.#verifying.delete(appId);
  }
}

/** Voids the subject's tokens issued up to `now` (the latest voiding wins). */
async function revokeIn(trx: Kysely<AuthTables>, appId: string, username: string, now: number): Promise<void> {
  await trx
    .insertInto('auth_revoked')
    .values({ app_id: appId, username, revoked_at: now })
    .onConflict((conflict) => conflict.columns(['app_id', 'username']).doUpdateSet({ revoked_at: now }))
    .execute();
}

/** The JWKS entry of an Auth key (RFC 7517; kid = RFC 7638 thumbprint). */
export function authJwk(key: { kid: string; publicKey: string }) {
  return { ...jwkFromPublicKey(key.publicKey), kid: key.kid, use: 'sig', alg: 'EdDSA' };
}
