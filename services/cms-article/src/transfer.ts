import { parseMessage, SwarmError } from '@swarm/protocol';
import { isUniqueViolation } from '@swarm/runtime';
import { type DataTransfer, type DomainContext, decodeCursor, pageOf } from '@swarm/service-kit';
import { z } from 'zod';
import { Slug } from './slug.js';
import { ARTICLE_COLUMNS, type ArticleRow, type Tables, toArticle } from './tables.js';

/**
 * An article in the `swarm-data/1` format (docs/DATA-TRANSFER.md): the API's representation,
 * every field kept as it was (id, slug, status, version, times and authors), so readers see the
 * same article and the same ETag at the new instance.
 */
export const ArticleItem = z.strictObject({
  id: z.string().min(1).max(128),
  slug: Slug,
  status: z.enum(['draft', 'published']),
  title: z.string().min(1).max(500),
  body: z.string().max(60_000),
  tags: z.array(z.string().min(1).max(64)).max(32),
  version: z.int().min(1),
  created_at: z.int().min(0),
  updated_at: z.int().min(0),
  published_at: z.int().min(0).nullable(),
  created_by: z.string().max(512).nullable(),
  updated_by: z.string().max(512).nullable(),
});
type ArticleItem = z.infer<typeof ArticleItem>;

/** The API's form of an article is the transfer's item. */
const itemOf: (row: ArticleRow) => ArticleItem = toArticle;

const CURSOR_FILTER = ['swarm-data/1', 'cms-article'];
const Position = z.tuple([z.string()]);
const Items = z.strictObject({ items: z.array(ArticleItem) });

/** Articles leave in id order, drafts included, and come in by id (a repeated page writes the same rows). */
export function articleTransfer(forget: (context: DomainContext<Tables>, serviceId: string, id: string) => void): DataTransfer<Tables> {
  return {
    async exportPage(instance, cursor, limits, { db }) {
      const after = decodeCursor(cursor ?? undefined, Position, CURSOR_FILTER);
      let query = db.selectFrom('cms_articles').select(ARTICLE_COLUMNS).where('service_id', '=', instance.serviceId);
      if (after) query = query.where('id', '>', after[0]);
      const rows = await query
        .orderBy('id')
        .limit(limits.maxItems + 1)
        .execute();
      const page = pageOf(rows, limits.maxItems, (row) => [row.id], CURSOR_FILTER);
      return { items: page.rows.map(itemOf), next: page.nextCursor };
    },

    async importPage(instance, items, context) {
      const { db } = context;
      const { items: articles } = parseMessage(Items, { items });
      const serviceId = instance.serviceId;
      try {
        await db.transaction().execute(async (trx) => {
          for (const item of articles) {
            const row: ArticleRow = { service_id: serviceId, ...item, tags: JSON.stringify(item.tags) };
            const { service_id: _s, id: _i, ...changes } = row;
            await trx
              .insertInto('cms_articles')
              .values(row)
              .onConflict((oc) => oc.columns(['service_id', 'id']).doUpdateSet(changes))
              .execute();
            await trx.deleteFrom('cms_article_tags').where('service_id', '=', serviceId).where('article_id', '=', item.id).execute();
            const tags = [...new Set(item.tags)];
            if (tags.length > 0) {
              await trx
                .insertInto('cms_article_tags')
                .values(tags.map((tag) => ({ service_id: serviceId, tag, article_id: item.id })))
                .execute();
            }
          }
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw new SwarmError('conflict', 'an article of the new instance already holds a slug of the moved ones');
        throw error;
      }
      for (const item of articles) forget(context, serviceId, item.id);
    },
  };
}
