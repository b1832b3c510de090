import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SwarmError } from '@swarm/protocol';

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
 * Signs and verifies presigned object URLs. The service keeps one 32-byte secret in its data
 * folder (created once, 0600, shared by replicas as the object files are); each instance signs
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

  /** The secret in `file`, created the first time (a replica that loses the race reads the winner's). */
  static fromFile(file: string): Presigner {
    try {
      return new Presigner(readFileSync(file));
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
    mkdirSync(dirname(file), { recursive: true });
    try {
      writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
    return new Presigner(readFileSync(file));
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
    if (!(PRESIGN_METHODS as readonly string[]).includes(method)) throw new SwarmError('invalid_token', 'the presigned URL does not allow this method');
    const expected = this.#sign(method as PresignMethod, serviceId, key, expires);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new SwarmError('invalid_token', 'the presigned URL is not valid for this object and method');
  }
}
