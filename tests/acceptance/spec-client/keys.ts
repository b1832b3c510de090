import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import canonicalize from 'canonicalize';

/** An Ed25519 key pair, its public half in SPEC §3 wire form `ed25519:<base64url>`. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return fromPrivateKey(privateKey);
}

export function keyFromSeed(seedHex: string): SigningKey {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, 'hex')]);
  return fromPrivateKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

function fromPrivateKey(privateKey: KeyObject): SigningKey {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { privateKey, publicKey: `ed25519:${jwk.x}` };
}

export function decodePublicKey(wire: string): KeyObject {
  if (!/^ed25519:[A-Za-z0-9_-]{43}$/.test(wire)) throw new Error(`not a wire key: ${wire}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: wire.slice('ed25519:'.length) }, format: 'jwk' });
}

/** The raw 32 bytes of a wire key. */
export function rawPublicKey(wire: string): Buffer {
  return Buffer.from(wire.slice('ed25519:'.length), 'base64url');
}

export function jcs(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('not canonicalizable');
  return text;
}

/** SPEC §3: UTF-8 of `swarm/1.0/<purpose>\n` + JCS(object). */
export function signedBytes(purpose: string, object: unknown): Buffer {
  return Buffer.from(`swarm/1.0/${purpose}\n${jcs(object)}`, 'utf8');
}

export function signObject(purpose: string, object: unknown, key: SigningKey): string {
  return sign(null, signedBytes(purpose, object), key.privateKey).toString('hex');
}

export function verifyObject(purpose: string, object: unknown, signature: string, publicKey: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(signature)) return false;
  return verify(null, signedBytes(purpose, object), decodePublicKey(publicKey), Buffer.from(signature, 'hex'));
}
