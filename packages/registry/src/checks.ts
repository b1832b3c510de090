import { createHash, timingSafeEqual } from 'node:crypto';
import { checkFreshness, consumeNonce as consumeSignerNonce, nonceExpiresAt, nonceScopes, requireAppId, SwarmError } from '@swarm/protocol';
import { bearerToken } from '@swarm/runtime';
import type { FastifyRequest } from 'fastify';
import type { RegistryContext } from './context.js';

/** A path app_id: well-formed (`invalid_app_id`); one of ours or unknown (`unknown_app`) comes later. */
export function pathAppId(value: unknown): string {
  return requireAppId(typeof value === 'string' ? value : '');
}

/** Signed data must name the resource the path names. */
export function requireSame(what: string, signed: string, path: string): void {
  if (signed !== path) throw new SwarmError('invalid_request', `data.${what} does not match the path`);
}

export function requireFresh(ctx: RegistryContext, timestamp: number): void {
  checkFreshness(timestamp, { windowSeconds: ctx.freshnessSeconds });
}

/**
 * Consumes a signed message's nonce in its signer's scope (the one rule of every part, SPEC §3);
 * call only after the signature verified, so a forger cannot burn someone else's nonces.
 */
export async function consumeNonce(ctx: RegistryContext, signerKey: string, signed: { nonce: string; timestamp: number }): Promise<void> {
  const expiresAt = nonceExpiresAt(signed.timestamp, ctx.freshnessSeconds);
  await consumeSignerNonce(ctx.replay, nonceScopes.signer(signerKey), signed.nonce, expiresAt);
}

function sameSecret(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

export function hasBearer(request: FastifyRequest, token: string): boolean {
  const presented = bearerToken(request.headers.authorization);
  return presented !== null && sameSecret(presented, token);
}

export function requireAdmin(ctx: RegistryContext, request: FastifyRequest): void {
  if (!hasBearer(request, ctx.adminToken)) throw new SwarmError('forbidden', 'the admin token is required');
}
