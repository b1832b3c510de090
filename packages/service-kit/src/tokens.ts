import type { KeyObject } from 'node:crypto';
import { SwarmError } from '@swarm/protocol';
import { type CacheCounts, MAX_BEARER_TOKEN_LENGTH, type SubjectRevocations, subjectHash } from '@swarm/runtime';
import { decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { authKeyOf, type CachedContext } from './contexts.js';

/** The claims of a verified user token (SPEC §8). */
export interface UserClaims extends JWTPayload {
  sub?: string;
  roles?: string[];
}

export interface TokenVerifierOptions {
  /** The instance's current context, or undefined when it has none yet. */
  contextOf: (serviceId: string) => CachedContext | undefined;
  /** Called on an unknown `kid`; returns the refreshed context, or undefined if not refreshed. */
  onUnknownKid: (serviceId: string, appId: string) => Promise<CachedContext | undefined>;
  clockSkewSeconds?: number;
  cacheSize?: number;
  /** Users whose earlier tokens their Auth Provider voided; checked on every use, cached or not. */
  revocations?: SubjectRevocations;
  /** Where hits and misses of the verified-token cache are counted (metrics `cache="verified_token"`). */
  counts?: CacheCounts;
}

interface VerifiedToken {
  appId: string;
  issuer: string;
  kid: string;
  exp: number;
  claims: UserClaims;
  /** sha256 of `sub`, computed once, for the revocation check. */
  subHash: string | null;
}

type TokenAudience = { serviceId: string; appId: string };

/** Verifies a user token for an instance; `fromCache` answers without awaiting when it can. */
export type TokenVerifier = ((token: string, instance: TokenAudience) => Promise<UserClaims>) & {
  /** The claims of a token verified before and still valid for this instance, else null. */
  fromCache(token: string, instance: TokenAudience): UserClaims | null;
};

const invalid = (message: string) => new SwarmError('invalid_token', message);
const revoked = () => invalid('this token was voided by its Auth Provider: its user was removed or changed');

/**
 * Builds the user-token check: EdDSA only, `kid` from the cached context's JWKS, `iss` and
 * `aud` of the instance's app, `exp` with clock skew. Verified tokens are kept (the oldest
 * verified goes first when full) so a repeated token costs a map lookup, but still only opens
 * its own app while its key is listed.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const skew = options.clockSkewSeconds ?? 60;
  const cacheSize = options.cacheSize ?? 10_000;
  if (!(skew >= 0) || !(cacheSize > 0)) throw new Error('token verifier: skew must be ≥ 0 and cacheSize > 0');
  const cache = new Map<string, VerifiedToken>();
  const counts = options.counts ?? { hit: 0, miss: 0 };

  function fromCache(token: string, appId: string, context: CachedContext): UserClaims | null {
    const hit = cache.get(token);
    if (!hit) return null;
    const now = Date.now() / 1000;
    if (hit.exp + skew <= now) {
      cache.delete(token);
      return null;
    }
    if (hit.appId !== appId || hit.issuer !== context.context.auth?.issuer || !authKeyOf(context, hit.kid, now)) return null;
    if (options.revocations?.isRevoked(hit.issuer, hit.subHash, hit.claims.iat)) throw revoked();
    return hit.claims;
  }

  async function verifyToken(token: string, instance: TokenAudience): Promise<UserClaims> {
    let context = options.contextOf(instance.serviceId);
    const auth = context?.context.auth;
    if (!context || !auth) throw invalid('this instance has no auth configuration yet');
    const cached = fromCache(token, instance.appId, context);
    if (cached) {
      counts.hit++;
      return cached;
    }
    counts.miss++;
    if (token.length > MAX_BEARER_TOKEN_LENGTH) throw invalid('token is too long');
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid('token is not a JWS');
    }
    if (header.alg !== 'EdDSA') throw invalid('token alg must be EdDSA');
    if (typeof header.kid !== 'string') throw invalid('token has no kid');
    // A retired key (past its `exp`) counts as unknown: a newer context may say more.
    let key: KeyObject | undefined = authKeyOf(context, header.kid);
    if (!key) {
      context = (await options.onUnknownKid(instance.serviceId, instance.appId)) ?? context;
      key = authKeyOf(context, header.kid);
      if (!key) throw invalid('token kid is not a key of this app');
    }
    const issuer = context.context.auth?.issuer ?? auth.issuer;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ['EdDSA'],
        issuer,
        audience: instance.appId,
        clockTolerance: skew,
        requiredClaims: ['exp'],
      }));
    } catch {
      throw invalid('token does not verify for this app');
    }
    const subHash = typeof payload.sub === 'string' ? subjectHash(payload.sub) : null;
    if (options.revocations?.isRevoked(issuer, subHash, payload.iat)) throw revoked();
    const entry: VerifiedToken = { appId: instance.appId, issuer, kid: header.kid, exp: payload.exp as number, claims: payload, subHash };
    if (cache.size >= cacheSize) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(token, entry);
    return payload;
  }

  return Object.assign(verifyToken, {
    fromCache(token: string, instance: TokenAudience): UserClaims | null {
      const context = options.contextOf(instance.serviceId);
      const claims = context?.context.auth ? fromCache(token, instance.appId, context) : null;
      // A miss here goes on to the verifier, which counts it once.
      if (claims) counts.hit++;
      return claims;
    },
  });
}
