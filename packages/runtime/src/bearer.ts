import { type ErrorCode, SwarmError } from '@swarm/protocol';

/** Longer tokens are refused before any parsing or signature work. */
export const MAX_BEARER_TOKEN_LENGTH = 8192;

// RFC 7235: the scheme is case-insensitive. The token is any run of visible ASCII: a JWT and a
// configured admin secret alike; whether it is valid is the verifier's question, not the parser's.
const BEARER = /^bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

/** The token of an `Authorization: Bearer <token>` header, or null when there is none. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const token = BEARER.exec(header)?.[1];
  return token !== undefined && token.length <= MAX_BEARER_TOKEN_LENGTH ? token : null;
}

/**
 * The bearer token, or a SwarmError with the caller's code: `invalid_token` where a token is the
 * credential (401), `forbidden` where it only unlocks more than the anonymous request (403).
 */
export function requireBearerToken(
  header: unknown,
  code: Extract<ErrorCode, 'invalid_token' | 'forbidden'> = 'invalid_token',
  message = 'Authorization: Bearer <token> is required',
): string {
  const token = bearerToken(header);
  if (token === null) throw new SwarmError(code, message);
  return token;
}
