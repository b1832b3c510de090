import { SwarmError, type TokenAnswer } from '@swarm/protocol';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { SigningAuthKey, VerificationAuthKey } from './auth-store.js';

export interface TokenClaims {
  issuer: string;
  appId: string;
  sub: string;
  roles: string[];
  ttlSeconds: number;
}

/** A user JWT (SPEC §8): `alg: EdDSA`, `kid`; `iss`, `aud` = app_id, `sub`, `iat`, `exp`, `roles`. */
export async function issueToken(key: SigningAuthKey, claims: TokenClaims, now: number): Promise<TokenAnswer> {
  const token = await new SignJWT({ roles: claims.roles })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
    .setIssuer(claims.issuer)
    .setAudience(claims.appId)
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds)
    .sign(key.privateKey);
  return { access_token: token, token_type: 'Bearer', expires_in: claims.ttlSeconds };
}

/** What a verified token says about its holder. */
export interface OwnTokenClaims {
  sub: string;
  roles: string[];
  /** Unix seconds; compared with the subject's last voiding. */
  iat: number;
}

/** The claims of a token this provider issued for the app; `invalid_token` otherwise. */
export async function verifyOwnToken(token: string, keys: VerificationAuthKey[], issuer: string, appId: string): Promise<OwnTokenClaims> {
  try {
    const { kid } = decodeProtectedHeader(token);
    const key = keys.find((candidate) => candidate.kid === kid);
    if (!key) throw new Error('unknown kid');
    const { payload } = await jwtVerify(token, key.key, {
      issuer,
      audience: appId,
      algorithms: ['EdDSA'],
      clockTolerance: 60,
      requiredClaims: ['exp', 'sub', 'iat'],
    });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((role): role is string => typeof role === 'string') : [];
    return { sub: payload.sub as string, roles, iat: payload.iat as number };
  } catch {
    throw new SwarmError('invalid_token', 'token is not valid for this app');
  }
}
