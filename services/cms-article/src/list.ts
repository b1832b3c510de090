import { parseMessage, SwarmError } from '@swarm/protocol';
import { decodeCursor, fts5Match, migrationDialect, pageLimit, pageOf, searchWords, tsQuery } from '@swarm/service-kit';
import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { ARTICLE_COLUMNS, type ArticleRow, type Tables } from './tables.js';

export const ARTICLE_PAGE_LIMITS = { default: 100, max: 1000 };

export const ArticleListQuery = z.strictObject({
  limit: z.string().optional(),
  cursor: z.string().optional(),
  status: z.enum(['draft', 'published']).optional(),
  tag: z.string().min(1).max(64).optional(),
  q: z.string().min(1).max(200).optional(),
});

/** A position in the list order: `created_at`, then `id`. */
const Position = z.tuple([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(64)]);

/**
 * One page of an instance's articles, oldest first (`created_at`, then `id`: an order no write
 * changes, so a walk never skips or repeats an article that stays), filtered by status, tag
 * (through `cms_article_tags`) and words of title and body (FTS5 / `tsvector`). A reader sees
 * only published articles and may not ask for drafts.
 */
export async function listArticles(db: Kysely<Tables>, serviceId: string, raw: unknown, seesDrafts: boolean) {
  const query = parseMessage(ArticleListQuery, raw);
  const limit = pageLimit(query.limit, ARTICLE_PAGE_LIMITS);
  if (query.status === 'draft' && !seesDrafts) throw new SwarmError('forbidden', 'drafts are listed for editors only');
  const status = seesDrafts ? (query.status ?? null) : 'published';
  const words = query.q === undefined ? null : searchWords(query.q);
  const filter = [status, query.tag ?? null, words];
  const after = decodeCursor(query.cursor, Position, filter);

  let select = db
    .selectFrom('cms_articles as a')
    .select(ARTICLE_COLUMNS.map((c) => `a.${c}` as const))
    .where('a.service_id', '=', serviceId);
  if (status !== null) select = select.where('a.status', '=', status);
  if (query.tag !== undefined) {
    const tag = query.tag;
    select = select.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('cms_article_tags as t')
          .select('t.article_id')
          .where('t.service_id', '=', serviceId)
          .where('t.tag', '=', tag)
          .whereRef('t.article_id', '=', 'a.id'),
      ),
    );
  }
  if (words !== null) {
    select =
      migrationDialect(db as Kysely<unknown>) === 'postgres'
        ? select.where(sql<boolean>`a.search @@ to_tsquery('simple'::regconfig, ${tsQuery(words, false)})`)
        : select.where(
            sql<boolean>`a.rowid in (select rowid from cms_articles_fts where cms_articles_fts match ${fts5Match(words, false)})`,
          );
  }
  // A search without words finds nothing (not everything).
  if (words !== null && words.length === 0) return { rows: [] as ArticleRow[], nextCursor: null };
  if (after) {
    const [createdAt, id] = after;
    select = select.where((eb) =>
      eb.or([eb('a.created_at', '>', createdAt), eb.and([eb('a.created_at', '=', createdAt), eb('a.id', '>', id)])]),
    );
  }
  const rows = (await select
    .orderBy('a.created_at')
    .orderBy('a.id')
    .limit(limit + 1)
    .execute()) as ArticleRow[];
  const page = pageOf(rows, limit, (row) => [Number(row.created_at), row.id], filter);
  return page;
}
