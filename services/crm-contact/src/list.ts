import { parseMessage } from '@swarm/protocol';
import { decodeCursor, fts5Match, migrationDialect, pageLimit, pageOf, searchWords, tsQuery } from '@swarm/service-kit';
import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { CONTACT_COLUMNS, type ContactRow, type Tables } from './tables.js';

export const CONTACT_PAGE_LIMITS = { default: 100, max: 1000 };

export const ContactListQuery = z.strictObject({
  q: z.string().max(200).optional(),
  limit: z.string().optional(),
  cursor: z.string().optional(),
});

/** A position in the list order: `name` (byte order), then `id`. */
const Position = z.tuple([z.string().min(1).max(200), z.string().min(1).max(64)]);

/**
 * One page of an instance's contacts by name, then id (keyset paging over the
 * `(service_id, name, id)` index). `q` finds contacts whose name, email or company has words
 * starting with every word of `q`, through the full-text index (FTS5 / `tsvector`), never a
 * scan of the table.
 */
export async function listContacts(db: Kysely<Tables>, serviceId: string, raw: unknown) {
  const query = parseMessage(ContactListQuery, raw);
  const limit = pageLimit(query.limit, CONTACT_PAGE_LIMITS);
  // An empty q lists everything, as before search had words.
  const words = query.q === undefined || query.q.trim() === '' ? null : searchWords(query.q);
  const filter = [words];
  const after = decodeCursor(query.cursor, Position, filter);

  let select = db
    .selectFrom('crm_contacts as c')
    .select(CONTACT_COLUMNS.map((c) => `c.${c}` as const))
    .where('c.service_id', '=', serviceId);
  if (words !== null) {
    select =
      migrationDialect(db as Kysely<unknown>) === 'postgres'
        ? select.where(sql<boolean>`c.search @@ to_tsquery('simple'::regconfig, ${tsQuery(words, true)})`)
        : select.where(
            sql<boolean>`c.rowid in (select rowid from crm_contacts_fts where crm_contacts_fts match ${fts5Match(words, true)})`,
          );
  }
  // A search without words finds nothing (not everything).
  if (words !== null && words.length === 0) return { rows: [] as ContactRow[], nextCursor: null };
  if (after) {
    const [name, id] = after;
    select = select.where((eb) => eb.or([eb('c.name', '>', name), eb.and([eb('c.name', '=', name), eb('c.id', '>', id)])]));
  }
  const rows = (await select
    .orderBy('c.name')
    .orderBy('c.id')
    .limit(limit + 1)
    .execute()) as ContactRow[];
  return pageOf(rows, limit, (row) => [row.name, row.id], filter);
}
