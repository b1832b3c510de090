import { createHash } from 'node:crypto';
import { SwarmError } from '@swarm/protocol';
import { z } from 'zod';

/** The one page size rule of every domain list (SPEC §15 "Lists"): absent → `default`, above `max` → 400. */
export interface PageLimits {
  default: number;
  max: number;
}

export const DEFAULT_PAGE_LIMITS: PageLimits = { default: 100, max: 1000 };

/** A cursor longer than this is refused unread: positions are at most a 1 KiB key and an id. */
export const MAX_CURSOR_CHARS = 4096;

const invalidCursor = (why: string) => new SwarmError('invalid_request', `cursor is not valid: ${why}`);

/** `limit` from a query string: digits only, 1…max; absent → the default. */
export function pageLimit(raw: unknown, limits: PageLimits = DEFAULT_PAGE_LIMITS): number {
  if (raw === undefined) return limits.default;
  if (typeof raw !== 'string' || !/^[0-9]{1,7}$/.test(raw)) throw new SwarmError('invalid_request', 'limit must be a positive integer');
  const limit = Number(raw);
  if (limit < 1 || limit > limits.max) throw new SwarmError('invalid_request', `limit must be between 1 and ${limits.max}`);
  return limit;
}

/**
 * What a list's filters are, in few bytes: a cursor carries it, so a cursor taken under one
 * filter cannot resume another listing (its position would mean something else there).
 */
function fingerprint(filter: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(filter)).digest('base64url').slice(0, 11);
}

/**
 * An opaque page position: base64url of `{ v, f, p }` (version, filter fingerprint, position).
 * It is not secret and need not be: every list query is confined to the caller's instance, so
 * a hand-made cursor can only move within what the caller may list anyway. It is validated
 * (shape, length, filter) so that a wrong one is `400 invalid_request`, never a failed query.
 */
export function encodeCursor(position: readonly unknown[], filter: readonly unknown[]): string {
  return Buffer.from(JSON.stringify({ v: 1, f: fingerprint(filter), p: position }), 'utf8').toString('base64url');
}

const CursorEnvelope = z.strictObject({ v: z.literal(1), f: z.string(), p: z.array(z.unknown()) });

/** The position of a cursor from `encodeCursor`, checked against `schema` and the filter; absent → null. */
export function decodeCursor<T>(raw: unknown, schema: z.ZodType<T>, filter: readonly unknown[]): T | null {
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(raw))
    throw invalidCursor('not a cursor from this list');
  let envelope: unknown;
  try {
    envelope = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('not a cursor from this list');
  }
  const parsed = CursorEnvelope.safeParse(envelope);
  if (!parsed.success) throw invalidCursor('not a cursor from this list');
  if (parsed.data.f !== fingerprint(filter)) throw invalidCursor('it was made for other filters');
  const position = schema.safeParse(parsed.data.p);
  if (!position.success) throw invalidCursor('not a cursor from this list');
  return position.data;
}

/**
 * A page from rows read with `limit + 1`: the extra row only says that there is more, and the
 * cursor points after the last row kept (keyset paging: inserts and deletes elsewhere in the
 * order never make a walk skip or repeat a row that stays).
 */
export function pageOf<Row>(
  rows: Row[],
  limit: number,
  positionOf: (row: Row) => readonly unknown[],
  filter: readonly unknown[],
): { rows: Row[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const kept = rows.slice(0, limit);
  return { rows: kept, nextCursor: encodeCursor(positionOf(kept[kept.length - 1] as Row), filter) };
}
