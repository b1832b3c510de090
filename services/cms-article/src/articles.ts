import { randomUUID } from 'node:crypto';
import { parseMessage, SwarmError } from '@swarm/protocol';
import { hasRole, isUniqueViolation, jsonBody } from '@swarm/runtime';
import {
  authorOf,
  type Domain,
  type DomainContext,
  ifNoneMatchPasses,
  needs,
  ReadCache,
  requestClaims,
  requestInstance,
  requireWritePreconditions,
} from '@swarm/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { listArticles } from './list.js';
import { articleMigrations } from './migrations.js';
import { articleOpenApi } from './openapi.js';
import { Slug, slugify } from './slug.js';
import { ARTICLE_COLUMNS, type ArticleRow, type Tables, toArticle } from './tables.js';
import { articleTransfer } from './transfer.js';

export const ArticleInput = z.strictObject({
  title: z.string().min(1).max(500),
  body: z.string().max(60_000),
  tags: z.array(z.string().min(1).max(64)).max(32).optional(),
  slug: Slug.optional(),
  status: z.enum(['draft', 'published']).optional(),
});

const now = () => Math.floor(Date.now() / 1000);
const etagOf = (version: number | string) => `"${version}"`;
const bareTag = (version: number | string) => String(version);

/** Drafts are for who may write them: a reader is told a draft does not exist. */
export const seesDrafts = (request: FastifyRequest) => hasRole(requestClaims(request).roles, 'editor');

/**
 * Articles are read far more than written: each service keeps recent published ones as sent
 * (ReadCache), the version first: `<version> <json>`. Drafts are never kept, so whatever the
 * cache answers is visible to every reader.
 */
const caches = new WeakMap<DomainContext<Tables>, ReadCache>();
function cacheOf(context: DomainContext<Tables>): ReadCache {
  let cache = caches.get(context);
  if (!cache) {
    cache = new ReadCache(context.dataVersion, { counts: context.readCacheCounts });
    caches.set(context, cache);
  }
  return cache;
}
const cacheKey = (serviceId: string, id: string) => `${serviceId}/${id}`;
const JSON_TYPE = 'application/json; charset=utf-8';

const slugTaken = async (db: Kysely<Tables>, serviceId: string, slug: string) =>
  db.selectFrom('cms_articles').select('id').where('service_id', '=', serviceId).where('slug', '=', slug).executeTakeFirst();

/** `409 conflict` naming the article that holds the slug, as a client needs to resolve it. */
function slugConflict(reply: FastifyReply, slug: string, existingId: string | undefined) {
  return reply.code(409).send({
    error: { code: 'conflict', message: `the slug ${slug} is taken in this instance`, ...(existingId ? { existing_id: existingId } : {}) },
  });
}

async function writeTags(trx: Kysely<Tables>, serviceId: string, id: string, tags: readonly string[]) {
  await trx.deleteFrom('cms_article_tags').where('service_id', '=', serviceId).where('article_id', '=', id).execute();
  const unique = [...new Set(tags)];
  if (unique.length > 0)
    await trx
      .insertInto('cms_article_tags')
      .values(unique.map((tag) => ({ service_id: serviceId, tag, article_id: id })))
      .execute();
}

/** Articles (SPEC §12, §15): drafts and published articles, slugs, tags, search and versions; each instance sees only its own rows. */
export const articlesDomain: Domain<Tables> = {
  openapi: articleOpenApi,
  migrations: articleMigrations,
  // A moved article comes in under its id; a copy kept by this service's cache must not outlive it.
  transfer: articleTransfer((context, serviceId, id) => cacheOf(context).forget(cacheKey(serviceId, id))),

  routes(scope, context) {
    const { db } = context;
    const cache = cacheOf(context);
    const selectArticle = context.prepare<{ serviceId: string; id: string }, ArticleRow>((value) =>
      db.selectFrom('cms_articles').select(ARTICLE_COLUMNS).where('service_id', '=', value('serviceId')).where('id', '=', value('id')),
    );
    /** The article, or 404 when there is none or it is a draft the caller may not see. */
    const find = async (request: FastifyRequest, serviceId: string, id: string) => {
      const row = await selectArticle.first({ serviceId, id });
      if (!row || (row.status === 'draft' && !seesDrafts(request))) throw new SwarmError('not_found', 'no such article');
      return row;
    };
    const sendArticle = (request: FastifyRequest, reply: FastifyReply, version: string, text: string) => {
      reply.header('etag', etagOf(version));
      if (!ifNoneMatchPasses(request.headers['if-none-match'], version)) return reply.code(304).send();
      return reply.type(JSON_TYPE).send(text);
    };

    scope.post('/articles', needs('editor'), async (request, reply) => {
      const input = parseMessage(ArticleInput, jsonBody(request));
      const serviceId = requestInstance(request).serviceId;
      const at = now();
      const id = randomUUID();
      const status = input.status ?? 'published';
      let slug = input.slug ?? slugify(input.title);
      // A slug made from a title gives way to an earlier one; a slug the client chose is its to resolve.
      if (input.slug === undefined && (await slugTaken(db, serviceId, slug))) slug = `${slug}-${id.slice(0, 8)}`;
      const row: ArticleRow = {
        service_id: serviceId,
        id,
        title: input.title,
        body: input.body,
        tags: JSON.stringify(input.tags ?? []),
        created_at: at,
        updated_at: at,
        created_by: authorOf(request),
        updated_by: authorOf(request),
        slug,
        status,
        version: 1,
        published_at: status === 'published' ? at : null,
      };
      try {
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('cms_articles').values(row).execute();
          await writeTags(trx, serviceId, id, input.tags ?? []);
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return slugConflict(reply, slug, (await slugTaken(db, serviceId, slug))?.id);
      }
      reply.code(201).header('etag', etagOf(1)).send(toArticle(row));
    });

    scope.get('/articles', needs('reader'), async (request) => {
      const page = await listArticles(db, requestInstance(request).serviceId, request.query, seesDrafts(request));
      return { articles: page.rows.map(toArticle), next_cursor: page.nextCursor };
    });

    scope.get('/articles/:id', needs('reader'), async (request, reply) => {
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const key = cacheKey(serviceId, id);
      const cached = cache.get(key);
      if (cached !== undefined) {
        const space = cached.indexOf(' ');
        return sendArticle(request, reply, cached.slice(0, space), cached.slice(space + 1));
      }
      const generation = cache.generation;
      const row = await find(request, serviceId, id);
      const text = JSON.stringify(toArticle(row));
      const version = bareTag(row.version);
      if (row.status === 'published') cache.set(key, `${version} ${text}`, generation);
      return sendArticle(request, reply, version, text);
    });

    scope.get('/articles/slug/:slug', needs('reader'), async (request, reply) => {
      const serviceId = requestInstance(request).serviceId;
      const { slug } = request.params as { slug: string };
      const row = await db
        .selectFrom('cms_articles')
        .select(ARTICLE_COLUMNS)
        .where('service_id', '=', serviceId)
        .where('slug', '=', slug)
        .executeTakeFirst();
      if (!row || (row.status === 'draft' && !seesDrafts(request))) throw new SwarmError('not_found', 'no such article');
      return sendArticle(request, reply, bareTag(row.version), JSON.stringify(toArticle(row)));
    });

    scope.put('/articles/:id', needs('editor'), async (request, reply) => {
      const input = parseMessage(ArticleInput, jsonBody(request));
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const conditional = request.headers['if-match'] !== undefined;
      // Each try writes only over the version it read. With If-Match a write that got in between
      // fails this one (412); without, the whole-record PUT simply tries again over the newer row.
      for (let attempt = 0; ; attempt++) {
        const existing = await find(request, serviceId, id);
        requireWritePreconditions(request.headers, bareTag(existing.version), 'the article');
        const at = now();
        const status = input.status ?? existing.status;
        const changes = {
          title: input.title,
          body: input.body,
          tags: JSON.stringify(input.tags ?? []),
          slug: input.slug ?? existing.slug,
          status,
          published_at: status === 'published' ? (existing.published_at ?? at) : null,
          version: Number(existing.version) + 1,
          updated_at: at,
          updated_by: authorOf(request),
        };
        let written: boolean;
        try {
          written = await db.transaction().execute(async (trx) => {
            const result = await trx
              .updateTable('cms_articles')
              .set(changes)
              .where('service_id', '=', serviceId)
              .where('id', '=', id)
              .where('version', '=', existing.version)
              .executeTakeFirst();
            if (Number(result.numUpdatedRows) === 0) return false;
            await writeTags(trx, serviceId, id, input.tags ?? []);
            return true;
          });
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          return slugConflict(reply, changes.slug, (await slugTaken(db, serviceId, changes.slug))?.id);
        } finally {
          cache.forget(cacheKey(serviceId, id));
        }
        if (written) return reply.header('etag', etagOf(changes.version)).send(toArticle({ ...existing, ...changes }));
        if (conditional || attempt >= 4) throw new SwarmError('precondition_failed', 'the article changed while it was written');
      }
    });

    scope.delete('/articles/:id', needs('editor'), async (request, reply) => {
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const existing = await find(request, serviceId, id);
      requireWritePreconditions({ 'if-match': request.headers['if-match'] }, bareTag(existing.version), 'the article');
      try {
        await db.transaction().execute(async (trx) => {
          let query = trx.deleteFrom('cms_articles').where('service_id', '=', serviceId).where('id', '=', id);
          // Conditional: only the version that was checked.
          if (request.headers['if-match'] !== undefined) query = query.where('version', '=', existing.version);
          const result = await query.executeTakeFirst();
          if (Number(result.numDeletedRows) === 0) {
            if (request.headers['if-match'] !== undefined)
              throw new SwarmError('precondition_failed', 'the article changed while it was deleted');
            throw new SwarmError('not_found', 'no such article');
          }
          await writeTags(trx, serviceId, id, []);
        });
      } finally {
        cache.forget(cacheKey(serviceId, id));
      }
      reply.code(204).send();
    });
  },

  async wipe(instance, context) {
    await context.db.deleteFrom('cms_articles').where('service_id', '=', instance.serviceId).execute();
    await context.db.deleteFrom('cms_article_tags').where('service_id', '=', instance.serviceId).execute();
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
