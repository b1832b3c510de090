import { type BroadcastData, nowSeconds, type Purpose, type ReplayStore, requireAppId, type SigningKey, SwarmError } from '@swarm/protocol';
import { jsonBody, type OwnerEnvelopeSchema, type RegistryClient, verifyOwnerSigned } from '@swarm/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthStore } from './auth-store.js';
import type { LoginThrottle } from './login-throttle.js';
import type { HashQueue, RateLimits } from './rate-limits.js';
import { issueToken } from './tokens.js';

/** What the auth provider's routes share. */
export interface AuthContext {
  app: FastifyInstance;
  store: AuthStore;
  registry: RegistryClient;
  replay: ReplayStore;
  provider: string;
  providerKey: SigningKey;
  freshnessSeconds: number;
  overlapSeconds: number;
  tokenTtlSeconds: number;
  loginThrottle: LoginThrottle;
  /** Login and sign-up buckets per client address and per app. */
  rateLimits: RateLimits;
  /** Every password hash runs through it. */
  hashQueue: HashQueue;
  /** The provider's public URL (known once it listens). */
  baseUrl(): string;
}

/** The longest a token this provider issues lives (owner tokens, `ttl_seconds` ≤ 86400), plus clock skew. */
export function longestTokenSeconds(context: AuthContext): number {
  return Math.max(context.tokenTtlSeconds, 86_400) + 60;
}

/** The app's own issuer, like a realm: `<publicUrl>/apps/<app_id>` (SPEC §4.3). */
export function issuerOf(context: AuthContext, appId: string): string {
  return `${context.baseUrl()}/apps/${appId}`;
}

/** What a broadcast changes here: a replaced Master key must stop verifying at once. */
export async function actOnBroadcast(context: AuthContext, event: BroadcastData | null): Promise<void> {
  if (event && (event.event === 'MASTER_KEY_ROTATION' || event.event === 'MASTER_IDENTITY_RECOVERY')) {
    context.registry.dropMasterKeys(event.app_id);
  }
  // The app moved: owner requests are checked at its new registry from now on (issuer and keys stay).
  if (event?.event === 'APP_MIGRATED') await context.registry.follow(event.app_id, event.successor);
}

interface AppParams {
  appId: string;
}

/** The path's app, provisioned here; else `invalid_app_id` or `unknown_app`. */
export async function provisionedApp(context: AuthContext, params: unknown): Promise<string> {
  const appId = requireAppId((params as AppParams).appId);
  if (!(await context.store.hasApp(appId))) throw new SwarmError('unknown_app', `app ${appId} is not provisioned here`);
  return appId;
}

/** An owner request to an app's own path: Master-signed, for the app the path names. */
export function ownerSigned<S extends OwnerEnvelopeSchema>(context: AuthContext, schema: S, purpose: Purpose, request: FastifyRequest) {
  const appId = requireAppId((request.params as AppParams).appId);
  return verifyOwnerSigned(schema, jsonBody(request), {
    purpose,
    registry: context.registry,
    replay: context.replay,
    freshnessSeconds: context.freshnessSeconds,
    expect: async (data) => {
      if (data.app_id !== appId) throw new SwarmError('invalid_request', 'data.app_id must be the app in the path');
      await provisionedApp(context, request.params);
    },
  });
}

/**
 * A token for `sub`. Its `iat` is after the subject's last voiding (removal, reset, roles
 * change), even within the same second, so a re-added user's new tokens work.
 */
export async function signedToken(context: AuthContext, appId: string, sub: string, roles: string[], ttlSeconds: number) {
  const key = await context.store.signingKey(appId);
  if (!key) throw new SwarmError('unknown_app', `app ${appId} is not provisioned here`);
  const revokedAt = await context.store.revokedAt(appId, sub);
  const issuedAt = Math.max(nowSeconds(), revokedAt === null ? 0 : revokedAt + 1);
  return issueToken(key, { issuer: issuerOf(context, appId), appId, sub, roles, ttlSeconds }, issuedAt);
}
