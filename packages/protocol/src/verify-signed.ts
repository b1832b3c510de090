import type { z } from 'zod';
import type { Purpose } from './canonical.js';
import { checkFreshness } from './freshness.js';
import { consumeNonce, nonceExpiresAt, nonceScopes, type ReplayStore } from './replay.js';
import { parseMessage } from './schemas.js';

/** What every signed request carries in its `data`. */
export interface SignedData {
  timestamp: number;
  nonce: string;
}

/** The schema of a signed envelope whose data is at least `D`. */
export type SignedEnvelopeSchema<D extends SignedData = SignedData> = z.ZodType<{ version: string; data: D; signature: string }>;
/** The `data` type of a signed envelope schema. */
export type DataOf<S extends SignedEnvelopeSchema> = z.infer<S>['data'];

/** The key a message verified under, and whatever the resolver knows of its owner. */
export interface VerifiedSigner {
  publicKey: string;
}

export interface SignedCheck<S extends SignedEnvelopeSchema, K extends VerifiedSigner, E = void> {
  /** The purpose the signature must be for. */
  purpose: Purpose;
  /** |now − timestamp| must be within this many seconds (SPEC §3). */
  freshnessSeconds: number;
  /** Where nonces are consumed, once per signing key. */
  replay: ReplayStore;
  /**
   * Checks of the data that come before the timestamp in SPEC's order: it names the right
   * resource, provider, tier… (cheap, local; may read the receiver's own database). What it
   * returns (the tier, the instance…) comes back as `expected`.
   */
  expect?: (data: DataOf<S>) => E | Promise<E>;
  /**
   * Finds the expected signer and verifies the signature under it (`unknown_registry`,
   * `unknown_app`, `invalid_signature`…). Returns the key that verified.
   */
  signer: (data: DataOf<S>, signature: string, purpose: Purpose) => Promise<K>;
  /** For tests: the clock. */
  now?: number;
}

export interface VerifiedMessage<D, K, E> {
  data: D;
  signature: string;
  signer: K;
  expected: E;
}

/**
 * Checks a signed request the way jose's `jwtVerify` checks a token: body rules and version →
 * `expect` → timestamp → signer and signature → nonce (consumed only after the signature
 * verified, in the signer's scope). Returns the verified data and signer, or throws the
 * SwarmError of the first check that failed. Every owner-signed route uses this.
 */
export async function verifySigned<S extends SignedEnvelopeSchema, K extends VerifiedSigner, E = void>(
  schema: S,
  body: unknown,
  check: SignedCheck<S, K, E>,
): Promise<VerifiedMessage<DataOf<S>, K, E>> {
  const envelope = parseMessage(schema, body);
  const data = envelope.data as DataOf<S>;
  const expected = (await check.expect?.(data)) as E;
  checkFreshness(data.timestamp, { windowSeconds: check.freshnessSeconds, now: check.now });
  const signer = await check.signer(data, envelope.signature, check.purpose);
  const expiresAt = nonceExpiresAt(data.timestamp, check.freshnessSeconds);
  await consumeNonce(check.replay, nonceScopes.signer(signer.publicKey), data.nonce, expiresAt);
  return { data, signature: envelope.signature, signer, expected };
}
