import { randomBytes } from 'node:crypto';
import { SwarmError } from './errors.js';

/** SPEC §3 default: a signed message is fresh while |now − timestamp| ≤ 300 s. */
export const DEFAULT_FRESHNESS_SECONDS = 300;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function checkFreshness(timestamp: number, options: { now?: number; windowSeconds?: number } = {}): void {
  const now = options.now ?? nowSeconds();
  const window = options.windowSeconds ?? DEFAULT_FRESHNESS_SECONDS;
  if (!Number.isSafeInteger(timestamp) || Math.abs(now - timestamp) > window) {
    throw new SwarmError('stale_timestamp', `timestamp is more than ${window} s away from now`);
  }
}

/** A fresh nonce: 16 random bytes, base64url (22 characters, inside `[A-Za-z0-9_-]{8,64}`). */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}
