/** The OpenAPI description served at `GET /openapi.json` (paths relative to an instance's `endpoint_url`). */
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const key = {
  name: 'key',
  in: 'path',
  required: true,
  description: '1–1024 bytes of UTF-8; `/`-separated, each segment percent-encoded',
  schema: { type: 'string' },
};
const conditions = ['If-Match', 'If-None-Match', 'If-Modified-Since', 'If-Unmodified-Since'].map((name) => ({
  name,
  in: 'header',
  schema: { type: 'string' },
}));
const presigned = [
  { name: 'swarm-expires', in: 'query', schema: { type: 'integer' }, description: 'presigned URLs only' },
  { name: 'swarm-signature', in: 'query', schema: { type: 'string' }, description: 'presigned URLs only' },
];
const object = {
  type: 'object',
  required: ['key', 'size', 'content_type', 'etag', 'updated_at', 'metadata'],
  properties: {
    key: { type: 'string' },
    size: { type: 'integer' },
    content_type: { type: 'string' },
    etag: { type: 'string', description: 'sha256 of the bytes, hex' },
    updated_at: { type: 'integer' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

export const blobOpenApi = {
  openapi: '3.1.0',
  info: {
    title: 'storage-blob',
    version: '1.1.0',
    description: 'Objects under UTF-8 keys, per instance. Paths are relative to the instance endpoint_url.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: {
        type: 'object',
        properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
      },
      Object: object,
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/objects': {
      get: {
        summary: 'List objects (reader), ListObjectsV2 semantics',
        parameters: [
          { name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 1024 } },
          { name: 'delimiter', in: 'query', schema: { type: 'string', minLength: 1, maxLength: 64 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          200: {
            description: 'a page: objects and common prefixes in byte order of the key; next_cursor null at the end',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    objects: { type: 'array', items: { $ref: '#/components/schemas/Object' } },
                    common_prefixes: { type: 'array', items: { type: 'string' }, description: 'only with delimiter' },
                    next_cursor: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          400: error('invalid_request: bad limit, cursor or parameter'),
        },
      },
    },
    '/objects/{key}': {
      put: {
        summary: 'Store an object (editor, or a presigned PUT URL)',
        parameters: [key, ...conditions.slice(0, 2), ...presigned, { name: 'x-swarm-meta-*', in: 'header', schema: { type: 'string' } }],
        requestBody: { content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        responses: {
          201: { description: 'stored', content: { 'application/json': { schema: object } } },
          412: error('precondition_failed'),
          422: error('quota_exceeded'),
          429: error('rate_limited'),
        },
      },
      get: {
        summary: 'Read an object (reader, or a presigned GET URL); streamed',
        parameters: [
          key,
          ...conditions,
          { name: 'Range', in: 'header', schema: { type: 'string' } },
          { name: 'If-Range', in: 'header', schema: { type: 'string' } },
          ...presigned,
        ],
        responses: {
          200: { description: 'the bytes' },
          206: { description: 'one range' },
          304: { description: 'not modified' },
          404: error('not_found'),
          412: error('precondition_failed'),
          416: error('range_not_satisfiable'),
        },
      },
      head: {
        summary: 'The headers of GET, no body (reader, or a presigned HEAD URL)',
        parameters: [key, ...conditions, ...presigned],
        responses: { 200: { description: 'headers' }, 304: { description: 'not modified' } },
      },
      delete: {
        summary: 'Delete an object (editor)',
        parameters: [key, conditions[0]],
        responses: { 204: { description: 'deleted' }, 404: error('not_found'), 412: error('precondition_failed') },
      },
    },
    '/presign': {
      post: {
        summary: 'A presigned URL for one method on one object (reader for GET/HEAD, editor for PUT)',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['key', 'method'],
                additionalProperties: false,
                properties: {
                  key: { type: 'string' },
                  method: { enum: ['GET', 'HEAD', 'PUT'] },
                  expires_in: { type: 'integer', minimum: 1, maximum: 604800, default: 900 },
                },
              },
            },
          },
        },
        responses: { 200: { description: '{ url, method, expires_at }' }, 400: error('invalid_request'), 403: error('forbidden') },
      },
    },
  },
};
