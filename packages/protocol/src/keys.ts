import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SwarmError } from './errors.js';

const KEY_PREFIX = 'ed25519:';
const WIRE_KEY = /^ed25519:[A-Za-z0-9_-]{43}$/;

export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

export interface SigningKey {
  privateKey: KeyObject;
  /** The public half in wire form, `ed25519:<base64url>`. */
  publicKey: string;
}

/** 2^255 − 19, the field prime: an encoded y must be below it. */
const FIELD_PRIME = (1n << 255n) - 19n;

/**
 * The y coordinates of the points of small order (1, 2, 4 and 8), sign bit cleared. A signature
 * under such a key can verify for many messages (under the identity, one constant signature
 * verifies every message), so no such key is ever taken (the same list libsodium refuses).
 */
const SMALL_ORDER_Y = new Set([
  0n,
  1n,
  FIELD_PRIME - 1n,
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n,
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n,
]);

/** Whether a 32-byte key is a canonical encoding of a point that is not of small order. */
function isStrongPoint(raw: Buffer): boolean {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? (raw[i] as number) & 0x7f : (raw[i] as number));
  return y < FIELD_PRIME && !SMALL_ORDER_Y.has(y);
}

/**
 * `ed25519:<43 base64url characters>`, canonically encoded, naming a point a signature can bind
 * to: non-canonical and small-order keys are refused wherever a key enters (docs/PROTOCOL.md).
 */
export function isWirePublicKey(value: string): boolean {
  // A key imported before passed this very check.
  if (keyCache.has(value)) return true;
  if (!WIRE_KEY.test(value)) return false;
  // 43 base64url characters carry 258 bits; the last two must be zero for a canonical encoding.
  const raw = Buffer.from(value.slice(KEY_PREFIX.length), 'base64url');
  return raw.length === 32 && raw.toString('base64url') === value.slice(KEY_PREFIX.length) && isStrongPoint(raw);
}

export function encodePublicKey(raw: Uint8Array): string {
  if (raw.byteLength !== 32) throw new SwarmError('invalid_request', 'an Ed25519 public key has 32 bytes');
  return KEY_PREFIX + Buffer.from(raw).toString('base64url');
}

export function decodePublicKey(wire: string): Buffer {
  if (!isWirePublicKey(wire)) throw new SwarmError('invalid_request', 'public key must be ed25519:<43 base64url characters>');
  return Buffer.from(wire.slice(KEY_PREFIX.length), 'base64url');
}

export function jwkFromPublicKey(wire: string): Ed25519Jwk {
  return { kty: 'OKP', crv: 'Ed25519', x: decodePublicKey(wire).toString('base64url') };
}

export function publicKeyFromJwk(jwk: { x: string }): string {
  return encodePublicKey(Buffer.from(jwk.x, 'base64url'));
}

/** RFC 7638 thumbprint of an Ed25519 key: SHA-256 over its required members in lexical order. */
export function jwkThumbprint(wire: string): string {
  const { x } = jwkFromPublicKey(wire);
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

const KEY_CACHE_LIMIT = 10_000;
const keyCache = new Map<string, KeyObject>();

/**
 * The KeyObject for a wire public key, imported once and kept: importing per verify halves the
 * verify rate. The cache is bounded; the oldest entry leaves first.
 */
export function publicKeyObject(wire: string): KeyObject {
  const key = cachedPublicKeyObject(wire);
  if (!key) throw new SwarmError('invalid_request', 'public key must be ed25519:<43 base64url characters>');
  return key;
}

/** As publicKeyObject, but null for a malformed key; the cache is consulted before any parsing. */
export function cachedPublicKeyObject(wire: string): KeyObject | null {
  let key = keyCache.get(wire);
  if (key) return key;
  if (!isWirePublicKey(wire)) return null;
  key = createPublicKey({ key: jwkFromPublicKey(wire) as unknown as JsonWebKey, format: 'jwk' });
  if (keyCache.size >= KEY_CACHE_LIMIT) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  keyCache.set(wire, key);
  return key;
}

export function wirePublicKeyOf(privateKey: KeyObject): string {
  // A private Ed25519 key's JWK carries its public half: no point multiplication, no second key object.
  const jwk = (privateKey.type === 'private' ? privateKey : createPublicKey(privateKey)).export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new SwarmError('invalid_request', 'not an Ed25519 key');
  return encodePublicKey(Buffer.from(jwk.x, 'base64url'));
}

export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: wirePublicKeyOf(privateKey) };
}

/** A key from a 32-byte seed (RFC 8032 private key), for test vectors and fixtures. */
export function signingKeyFromSeed(seed: Uint8Array): SigningKey {
  if (seed.byteLength !== 32) throw new SwarmError('invalid_request', 'an Ed25519 seed has 32 bytes');
  const der = Buffer.concat([PKCS8_ED25519_HEADER, seed]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: wirePublicKeyOf(privateKey) };
}

/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): a fixed 16-byte header, then the seed. */
const PKCS8_ED25519_HEADER = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The key as PKCS#8 PEM. An Ed25519 key's PEM is the fixed header and its seed, which its JWK
 * gives at once: OpenSSL's PEM encoder takes about 60 times as long (0.1 ms, every provisioning
 * stores a new instance key). The text is the one OpenSSL writes (a test compares them).
 */
export function privateKeyToPem(privateKey: KeyObject): string {
  if (privateKey.type === 'private' && privateKey.asymmetricKeyType === 'ed25519') {
    const { d } = privateKey.export({ format: 'jwk' });
    const seed = d === undefined ? null : Buffer.from(d, 'base64url');
    if (seed?.length === 32) {
      return `-----BEGIN PRIVATE KEY-----\n${Buffer.concat([PKCS8_ED25519_HEADER, seed]).toString('base64')}\n-----END PRIVATE KEY-----\n`;
    }
  }
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function signingKeyFromPem(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new SwarmError('invalid_request', 'not a PKCS#8 PEM private key', { cause });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new SwarmError('invalid_request', 'key is not Ed25519');
  return { privateKey, publicKey: wirePublicKeyOf(privateKey) };
}
