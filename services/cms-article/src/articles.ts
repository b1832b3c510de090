import { randomUUID } from 'node:crypto';
import { parseMessage, SwarmError } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import { authorOf, type Domain, type DomainContext, needs, ReadCache, requestInstance } from '@swarm/service-kit';
import { z } from 'zod';

export const ArticleInput = z.strictObject({
  title: z.string().min(1).max(500),
  body: z.string().max(60_000),
  tags: z.array(z.string().min(1).max(64)).max(32).optional(),
});

interface ArticleRow {
  service_id: string;
  id: string;
  title: string;
  body: string;
  tags: string;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  updated_by: string | null;
}

interface Tables {
  cms_articles: ArticleRow;
}

const toArticle = (row: ArticleRow) => ({
  id: row.id,
  title: row.title,
  body: row.body,
  tags: JSON.parse(row.tags) as string[],
  created_at: Number(row.created_at),
  updated_at: Number(row.updated_at),
  created_by: row.created_by,
  updated_by: row.updated_by,
});

const now = () => Math.floor(Date.now() / 1000);

/** Articles are read far more than written: each service keeps recent ones as sent (ReadCache). */
const caches = new WeakMap<DomainContext<Tables>, ReadCache>();
function cacheOf(context: DomainContext<Tables>): ReadCache {
  let cache = caches.get(context);
  if (!cache) {
    cache = new ReadCache(context.dataVersion);
    caches.set(context, cache);
  }
  return cache;
}
const cacheKey = (serviceId: string, id: string) => `${serviceId}/${id}`;
const JSON_TYPE = 'application/json; charset=utf-8';

/** Articles (SPEC §12): each instance sees only rows with its own service_id. */
export const articlesDomain: Domain<Tables> = {
  migrations: {
    '001_articles': {
      up: async (db) => {
        await db.schema
          .createTable('cms_articles')
          .ifNotExists()
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('body', 'text', (c) => c.notNull())
          .addColumn('tags', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('cms_articles_pk', ['service_id', 'id'])
          .execute();
      },
    },
    // Who wrote what (docs/SERVICE-KIT.md, "Roles"): the token's sub; null for rows from before.
    '002_authors': {
      up: async (db) => {
        await db.schema.alterTable('cms_articles').addColumn('created_by', 'text').execute();
        await db.schema.alterTable('cms_articles').addColumn('updated_by', 'text').execute();
      },
    },
  },

  routes(scope, context) {
    const { db } = context;
    const cache = cacheOf(context);
    const selectArticle = context.prepare<{ serviceId: string; id: string }, ArticleRow>((value) =>
      db.selectFrom('cms_articles').selectAll().where('service_id', '=', value('serviceId')).where('id', '=', value('id')),
    );
    const find = async (serviceId: string, id: string) => {
      const row = await selectArticle.first({ serviceId, id });
      if (!row) throw new SwarmError('not_found', 'no such article');
      return row;
    };

    scope.post('/articles', needs('editor'), async (request, reply) => {
      const input = parseMessage(ArticleInput, jsonBody(request));
      const at = now();
      const row = {
        service_id: requestInstance(request).serviceId,
        id: randomUUID(),
        ...input,
        tags: JSON.stringify(input.tags ?? []),
        created_at: at,
        updated_at: at,
        created_by: authorOf(request),
        updated_by: authorOf(request),
      };
      await db.insertInto('cms_articles').values(row).execute();
      reply.code(201).send(toArticle(row));
    });
    scope.get('/articles', needs('reader'), async (request) => {
      const rows = await db
        .selectFrom('cms_articles')
        .selectAll()
        .where('service_id', '=', requestInstance(request).serviceId)
        .orderBy('created_at')
        .orderBy('id')
        .limit(1000)
        .execute();
      return { articles: rows.map(toArticle) };
    });
    scope.get('/articles/:id', needs('reader'), async (request, reply) => {
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const key = cacheKey(serviceId, id);
      let text = cache.get(key);
      if (text === undefined) {
        const generation = cache.generation;
        text = JSON.stringify(toArticle(await find(serviceId, id)));
        cache.set(key, text, generation);
      }
      return reply.type(JSON_TYPE).send(text);
    });
    scope.put('/articles/:id', needs('editor'), async (request) => {
      const input = parseMessage(ArticleInput, jsonBody(request));
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const existing = await find(serviceId, id);
      const changes = {
        title: input.title,
        body: input.body,
        tags: JSON.stringify(input.tags ?? []),
        updated_at: now(),
        updated_by: authorOf(request),
      };
      await db.updateTable('cms_articles').set(changes).where('service_id', '=', serviceId).where('id', '=', id).execute();
      cache.forget(cacheKey(serviceId, id));
      return toArticle({ ...existing, ...changes });
    });
    scope.delete('/articles/:id', needs('editor'), async (request, reply) => {
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const result = await db.deleteFrom('cms_articles').where('service_id', '=', serviceId).where('id', '=', id).executeTakeFirst();
      cache.forget(cacheKey(serviceId, id));
      if (Number(result.numDeletedRows) === 0) throw new SwarmError('not_found', 'no such article');
      reply.code(204).send();
    });
  },

  async wipe(instance, context) {
    await context.db.deleteFrom('cms_articles').where('service_id', '=', instance.serviceId).execute();
    cacheOf(context).clear();
  },

  async usage(instance, context) {
    const row = await context.db
      .selectFrom('cms_articles')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('service_id', '=', instance.serviceId)
      .executeTakeFirst();
    return { articles: Number(row?.count ?? 0) };
  },
};
