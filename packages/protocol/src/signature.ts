import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { PROTOCOL_VERSION, type Purpose, signedBytes } from './canonical.js';
import { SwarmError } from './errors.js';
import { cachedPublicKeyObject } from './keys.js';
import { protocolObserver } from './observe.js';

const SIGNATURE_HEX = /^[0-9a-f]{128}$/;

export function isSignatureHex(value: unknown): value is string {
  return typeof value === 'string' && SIGNATURE_HEX.test(value);
}

/** Signs `object` for `purpose`; the signature is 128 lowercase hex characters. */
export function sign(purpose: Purpose, object: unknown, privateKey: KeyObject): string {
  return cryptoSign(null, signedBytes(purpose, object), privateKey).toString('hex');
}

/**
 * Whether `signature` is `publicKey`'s signature over `object` for `purpose`. Malformed keys and
 * signatures verify as false rather than throwing, so callers map every failure to one code.
 */
export function verify(purpose: Purpose, object: unknown, signature: string, publicKey: string | KeyObject): boolean {
  const ok = verifyBytes(purpose, object, signature, publicKey);
  protocolObserver()?.verified(purpose, ok);
  return ok;
}

function verifyBytes(purpose: Purpose, object: unknown, signature: string, publicKey: string | KeyObject): boolean {
  if (!isSignatureHex(signature)) return false;
  const key = typeof publicKey === 'string' ? cachedPublicKeyObject(publicKey) : publicKey;
  if (!key) return false;
  let bytes: Buffer;
  try {
    bytes = signedBytes(purpose, object);
  } catch {
    // No canonical form (a lone surrogate…): nothing could have been signed over it.
    return false;
  }
  return cryptoVerify(null, bytes, key, Buffer.from(signature, 'hex'));
}

export interface Envelope<T> {
  version: '1.0';
  data: T;
  signature: string;
}

/** `{ version, data, signature }` with `data` signed for `purpose`. */
export function signEnvelope<T>(purpose: Purpose, data: T, privateKey: KeyObject): Envelope<T> {
  return { version: PROTOCOL_VERSION, data, signature: sign(purpose, data, privateKey) };
}

/** Throws `invalid_signature` unless `signature` verifies; the cheap form for request handlers. */
export function requireSignature(purpose: Purpose, object: unknown, signature: string, publicKey: string | KeyObject): void {
  if (!verify(purpose, object, signature, publicKey)) {
    throw new SwarmError('invalid_signature', `signature does not verify for purpose ${purpose}`);
  }
}
