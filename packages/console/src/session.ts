import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SwarmError } from '@swarm/protocol';

export const SESSION_COOKIE = 'swarm_console';
/** A session outlives a working day, not a week: the console is started for a sitting. */
export const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;

const secret = () => randomBytes(32).toString('base64url');
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
/** Equal lengths always (both are digests), so the comparison takes the same time for every guess. */
const same = (given: string, expected: Buffer) => timingSafeEqual(digest(given), expected);

export interface Session {
  csrf: string;
  expiresAt: number;
}

/**
 * The console's one login: a token printed once, exchanged once for one session. A second
 * exchange is refused even with the right token, so a URL copied from a terminal's scroll-back
 * or a shell history after the owner opened it opens nothing.
 */
export class Login {
  readonly token = secret();
  readonly #tokenDigest = digest(this.token);
  #session: { idDigest: Buffer; session: Session } | undefined;
  #used = false;

  /** The session id for the cookie; throws `invalid_token` for a wrong or used token. */
  exchange(token: unknown, now = Date.now()): { id: string; session: Session } {
    if (typeof token !== 'string' || token.length > 256 || !same(token, this.#tokenDigest)) {
      throw new SwarmError('invalid_token', 'this login link is not valid; open the URL `swarm console` printed');
    }
    if (this.#used) throw new SwarmError('invalid_token', 'this login link was used already; restart `swarm console` for a new one');
    this.#used = true;
    const id = secret();
    const session = { csrf: secret(), expiresAt: now + SESSION_MAX_AGE_SECONDS * 1000 };
    this.#session = { idDigest: digest(id), session };
    return { id, session };
  }

  /** The session a cookie header names, or null. */
  session(cookieHeader: string | undefined, now = Date.now()): Session | null {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    const held = this.#session;
    if (id === null || !held || !same(id, held.idDigest) || held.session.expiresAt <= now) return null;
    return held.session;
  }

  /** Whether a request's CSRF header is the session's. */
  csrfMatches(session: Session, header: unknown): boolean {
    return typeof header === 'string' && header.length <= 256 && same(header, digest(session.csrf));
  }
}

/** One cookie's value from a Cookie header; null when absent, repeated or malformed. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (typeof header !== 'string' || header.length > 8192) return null;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
  // Two cookies of one name mean one was planted (by a sibling origin); trust neither.
  if (values.length !== 1) return null;
  const value = values[0] ?? '';
  return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : null;
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MAX_AGE_SECONDS}`;
}
