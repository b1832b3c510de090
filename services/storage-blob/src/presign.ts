import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { SwarmError } from '@swarm/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from './tables.js';

/** Methods a presigned URL may be made for: reading and writing one object. */
export const PRESIGN_METHODS = ['GET', 'HEAD', 'PUT'] as const;
export type PresignMethod = (typeof PRESIGN_METHODS)[number];

/** As S3: a URL lives at most 7 days; 15 minutes unless asked otherwise. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
export const DEFAULT_PRESIGN_SECONDS = 900;

export const EXPIRES_PARAM = 'swarm-expires';
export const SIGNATURE_PARAM = 'swarm-signature';

/** Derived instance keys kept: the derivation is one HMAC, so a full table is simply emptied. */
const MAX_CACHED_KEYS = 10_000;

/**
 * Signs and verifies presigned object URLs. The service keeps one 32-byte secret in its
 * database (shared by its replicas); each instance signs
 * with a key derived from it and its `service_id`, so a URL of one instance never opens
 * another's. A signature covers the method, the instance, the object key and the expiry:
 * nothing is stored, and verifying is one HMAC.
 */
export class Presigner {
  readonly #secret: Buffer;
  readonly #keys = new Map<string, KeyObject>();

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new Error('the presign secret must be at least 32 bytes');
    this.#secret = secret;
  }

  /**
   * The service's secret, kept in its database (created by the first replica to start; the
   * others read the same row), so every replica verifies what any of them signed.
   */
  static async fromDatabase(db: Kysely<Tables>): Promise<Presigner> {
    await db
      .insertInto('blob_secrets')
      .values({ name: 'presign', value: randomBytes(32).toString('base64') })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await db.selectFrom('blob_secrets').select('value').where('name', '=', 'presign').executeTakeFirstOrThrow();
    return new Presigner(Buffer.from(row.value, 'base64'));
  }

  #keyOf(serviceId: string): KeyObject {
    let key = this.#keys.get(serviceId);
    if (!key) {
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
      key = createSecretKey(createHmac('sha256', this.#secret).update(`swarm presign instance\n${serviceId}`).digest());
      this.#keys.set(serviceId, key);
    }
    return key;
  }

  #sign(method: PresignMethod, serviceId: string, key: string, expires: number): Buffer {
    return createHmac('sha256', this.#keyOf(serviceId)).update(`swarm-presign-v1\n${method}\n${serviceId}\n${key}\n${expires}`).digest();
  }

  /** The query string (without `?`) that lets `method` on `key` until `expires` (unix seconds). */
  query(method: PresignMethod, serviceId: string, key: string, expires: number): string {
    return `${EXPIRES_PARAM}=${expires}&${SIGNATURE_PARAM}=${this.#sign(method, serviceId, key, expires).toString('base64url')}`;
  }

  /**
   * Checks a request's presigned query for `method` on `key`: `401 invalid_token` when it is
   * absent, malformed, expired or signed for anything else (so it reads as a missing token).
   */
  verify(method: string, serviceId: string, key: string, query: unknown, nowSeconds: number): void {
    const { [EXPIRES_PARAM]: expiresText, [SIGNATURE_PARAM]: signature } = (query ?? {}) as Record<string, unknown>;
    if (expiresText === undefined && signature === undefined)
      throw new SwarmError('invalid_token', 'a bearer token or a presigned URL is required');
    if (typeof expiresText !== 'string' || !/^[0-9]{1,12}$/.test(expiresText) || typeof signature !== 'string' || signature.length !== 43)
      throw new SwarmError('invalid_token', 'the presigned URL is malformed');
    const expires = Number(expiresText);
    if (expires <= nowSeconds) throw new SwarmError('invalid_token', 'the presigned URL has expired');
    // A URL never outlives the cap, whatever its signature says: one signed under a longer cap is refused too.
    if (expires > nowSeconds + MAX_PRESIGN_SECONDS) throw new SwarmError('invalid_token', 'the presigned URL expires too late');
    if (!(PRESIGN_METHODS as readonly string[]).includes(method))
      throw new SwarmError('invalid_token', 'the presigned URL does not allow this method');
    const expected = this.#sign(method as PresignMethod, serviceId, key, expires);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new SwarmError('invalid_token', 'the presigned URL is not valid for this object and method');
  }
}
