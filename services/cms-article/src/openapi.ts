/** The OpenAPI description served at `GET /openapi.json` (paths relative to an instance's `endpoint_url`). */
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const ifMatch = { name: 'If-Match', in: 'header', schema: { type: 'string' }, description: 'the ETag ("<version>") the write expects' };
const ifNoneMatch = { name: 'If-None-Match', in: 'header', schema: { type: 'string' } };
const article = { $ref: '#/components/schemas/Article' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });

export const articleOpenApi = {
  openapi: '3.1.0',
  info: {
    title: 'cms-article',
    version: '1.1.0',
    description: 'Articles with drafts, slugs, tags, search and versions, per instance. Paths are relative to the instance endpoint_url.',
  },
  security: [{ bearer: [] }],
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: {
        type: 'object',
        properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
      },
      ArticleInput: {
        type: 'object',
        additionalProperties: false,
        required: ['title', 'body'],
        properties: {
          title: { type: 'string', minLength: 1, maxLength: 500 },
          body: { type: 'string', maxLength: 60000 },
          tags: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 64 } },
          slug: { type: 'string', maxLength: 120, pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$' },
          status: { enum: ['draft', 'published'], description: 'default published on create; kept on PUT when absent' },
        },
      },
      Article: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          slug: { type: 'string' },
          status: { enum: ['draft', 'published'] },
          title: { type: 'string' },
          body: { type: 'string' },
          tags: { type: 'array', items: { type: 'string' } },
          version: { type: 'integer' },
          created_at: { type: 'integer' },
          updated_at: { type: 'integer' },
          published_at: { type: ['integer', 'null'] },
          created_by: { type: ['string', 'null'] },
          updated_by: { type: ['string', 'null'] },
        },
      },
    },
  },
  paths: {
    '/articles': {
      post: {
        summary: 'Create an article (editor)',
        requestBody: json({ $ref: '#/components/schemas/ArticleInput' }),
        responses: {
          201: { description: 'created', ...json(article) },
          400: error('invalid_request'),
          409: error('conflict: slug taken (existing_id)'),
        },
      },
      get: {
        summary: 'List articles, oldest first (reader; readers see published only)',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
          { name: 'status', in: 'query', schema: { enum: ['draft', 'published'] }, description: 'draft: editors only' },
          { name: 'tag', in: 'query', schema: { type: 'string', maxLength: 64 } },
          { name: 'q', in: 'query', schema: { type: 'string', maxLength: 200 }, description: 'every word must be a word of title or body' },
        ],
        responses: {
          200: {
            description: 'a page',
            ...json({
              type: 'object',
              properties: { articles: { type: 'array', items: article }, next_cursor: { type: ['string', 'null'] } },
            }),
          },
          400: error('invalid_request'),
          403: error('forbidden: a reader asked for drafts'),
        },
      },
    },
    '/articles/{id}': {
      get: {
        summary: 'Read an article (reader; a draft is 404 to readers)',
        parameters: [id, ifNoneMatch],
        responses: { 200: json(article), 304: { description: 'not modified' }, 404: error('not_found') },
      },
      put: {
        summary: 'Replace an article (editor)',
        parameters: [id, ifMatch],
        requestBody: json({ $ref: '#/components/schemas/ArticleInput' }),
        responses: { 200: json(article), 404: error('not_found'), 409: error('conflict: slug taken'), 412: error('precondition_failed') },
      },
      delete: {
        summary: 'Delete an article (editor)',
        parameters: [id, ifMatch],
        responses: { 204: { description: 'deleted' }, 404: error('not_found'), 412: error('precondition_failed') },
      },
    },
    '/articles/slug/{slug}': {
      get: {
        summary: 'Read an article by slug (reader)',
        parameters: [{ name: 'slug', in: 'path', required: true, schema: { type: 'string' } }, ifNoneMatch],
        responses: { 200: json(article), 304: { description: 'not modified' }, 404: error('not_found') },
      },
    },
  },
};
