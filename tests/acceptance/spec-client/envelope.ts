import { randomBytes } from 'node:crypto';
import { type SigningKey, signObject } from './keys.js';

export type Data = Record<string, unknown>;

export interface Envelope {
  version: string;
  data: Data;
  signature: string;
  [extra: string]: unknown;
}

export const now = (): number => Math.floor(Date.now() / 1000);

/** SPEC §2: `[A-Za-z0-9_-]{8,64}`. */
export const newNonce = (): string => randomBytes(12).toString('base64url');

/** Adds a current `timestamp` and a new `nonce`, unless `data` names its own. */
export function fresh<T extends Data>(data: T): T & { timestamp: number; nonce: string } {
  return { timestamp: now(), nonce: newNonce(), ...data };
}

export function envelope(purpose: string, data: Data, key: SigningKey): Envelope {
  return { version: '1.0', data, signature: signObject(purpose, data, key) };
}
