import { decodeCursor, encodeCursor, pageLimit } from '@swarm/service-kit';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { ObjectRow, Tables } from './tables.js';

export const LIST_LIMITS = { default: 1000, max: 1000 };
const MAX_DELIMITER_CHARS = 64;

export const ListQuery = z.strictObject({
  prefix: z.string().max(1024).optional(),
  delimiter: z.string().min(1).max(MAX_DELIMITER_CHARS).optional(),
  limit: z.string().optional(),
  cursor: z.string().optional(),
});

/** A cursor's position: the last key or common prefix answered, and which of the two it was. */
const Position = z.tuple([z.string().min(1).max(4096), z.union([z.literal(0), z.literal(1)])]);

/**
 * The smallest string above every string that starts with `prefix`, in code point order (the
 * order of UTF-8 bytes, which SQLite's BINARY and PostgreSQL's "C" collation compare): the
 * prefix with its last code point raised by one. Null when no string is above (all U+10FFFF).
 */
export function prefixEnd(prefix: string): string | null {
  const points = [...prefix];
  while (points.length > 0) {
    let next = (points.pop() as string).codePointAt(0) as number;
    next += 1;
    if (next === 0xd800) next = 0xe000; // surrogates are not characters
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return null;
}

export interface ObjectPage {
  rows: ObjectRow[];
  commonPrefixes: string[];
  nextCursor: string | null;
}

/**
 * One page of ListObjectsV2 (S3's semantics): keys under `prefix` in byte order; with a
 * `delimiter`, keys holding it after the prefix roll up into one common prefix each, which
 * counts as one entry. Every step is an indexed range read of the primary key: a common prefix
 * is skipped whole (the next read starts at its `prefixEnd`), so a page costs at most one
 * read per entry whatever the number of objects, and nothing is filtered in memory.
 */
export async function listObjects(db: Kysely<Tables>, serviceId: string, query: z.infer<typeof ListQuery>): Promise<ObjectPage> {
  const prefix = query.prefix ?? '';
  const delimiter = query.delimiter;
  const limit = pageLimit(query.limit, LIST_LIMITS);
  const filter = [prefix, delimiter ?? null];
  const after = decodeCursor(query.cursor, Position, filter);
  const end = prefix === '' ? null : prefixEnd(prefix);

  let lower: { key: string; inclusive: boolean } | null = { key: prefix, inclusive: true };
  if (after)
    lower = after[1] === 1 ? mapNull(prefixEnd(after[0]), (key) => ({ key, inclusive: true })) : { key: after[0], inclusive: false };

  const rows: ObjectRow[] = [];
  const commonPrefixes: string[] = [];
  let last: [string, 0 | 1] | null = null;
  let more = false;
  outer: while (lower) {
    const want = limit - rows.length - commonPrefixes.length + 1;
    let select = db.selectFrom('blob_objects').selectAll().where('service_id', '=', serviceId);
    select = select.where('key', lower.inclusive ? '>=' : '>', lower.key);
    if (end !== null) select = select.where('key', '<', end);
    const batch = await select.orderBy('key').limit(want).execute();
    let jumped = false;
    for (const row of batch) {
      if (rows.length + commonPrefixes.length === limit) {
        more = true;
        break outer;
      }
      const at = delimiter === undefined ? -1 : row.key.indexOf(delimiter, prefix.length);
      if (at < 0) {
        rows.push(row);
        last = [row.key, 0];
        continue;
      }
      const common = row.key.slice(0, at + (delimiter as string).length);
      commonPrefixes.push(common);
      last = [common, 1];
      lower = mapNull(prefixEnd(common), (key) => ({ key, inclusive: true }));
      jumped = true;
      break;
    }
    if (!jumped) break;
  }
  return { rows, commonPrefixes, nextCursor: more && last ? encodeCursor(last, filter) : null };
}

const mapNull = <T, U>(value: T | null, f: (value: T) => U): U | null => (value === null ? null : f(value));
