import { createPublicKey, verify } from 'node:crypto';

/*
 * A second implementation of SPEC §3, written from the text alone and sharing no code with
 * src/: its own RFC 8785 serialisation (enough for JSON from JSON.parse) and its own key import
 * (raw key in an SPKI DER wrapper, not JWK). Test vectors must verify under it.
 */

function jcs(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('not representable');
    return Object.is(value, -0) ? '0' : JSON.stringify(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  // RFC 8785 §3.2.3: sort by UTF-16 code units, which is JavaScript's default string order.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jcs(v)}`).join(',')}}`;
}

export function independentSignedBytes(purpose: string, object: unknown): Buffer {
  return Buffer.from(`swarm/1.0/${purpose}\n${jcs(object)}`, 'utf8');
}

export function independentVerify(purpose: string, object: unknown, signatureHex: string, wireKey: string): boolean {
  if (!wireKey.startsWith('ed25519:') || !/^[0-9a-f]{128}$/.test(signatureHex)) return false;
  const raw = Buffer.from(wireKey.slice('ed25519:'.length), 'base64url');
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return verify(null, independentSignedBytes(purpose, object), key, Buffer.from(signatureHex, 'hex'));
}
