/** The OpenAPI description served at `GET /openapi.json` (paths relative to an instance's `endpoint_url`). */
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const ifMatch = { name: 'If-Match', in: 'header', schema: { type: 'string' }, description: 'the ETag ("<version>") the write expects' };
const contact = { $ref: '#/components/schemas/Contact' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });

export const contactOpenApi = {
  openapi: '3.1.0',
  info: {
    title: 'crm-contact',
    version: '1.1.0',
    description:
      'Contacts with unique emails, search, versions and bulk import, per instance. Paths are relative to the instance endpoint_url.',
  },
  security: [{ bearer: [] }],
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: {
        type: 'object',
        properties: {
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, existing_id: { type: 'string' } } },
        },
      },
      ContactInput: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'email'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          email: { type: 'string', format: 'email', maxLength: 254 },
          company: { type: 'string', maxLength: 200 },
          notes: { type: 'string', maxLength: 10000 },
        },
      },
      Contact: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          email: { type: 'string' },
          company: { type: 'string' },
          notes: { type: 'string' },
          version: { type: 'integer' },
          created_at: { type: 'integer' },
          updated_at: { type: 'integer' },
          created_by: { type: ['string', 'null'] },
          updated_by: { type: ['string', 'null'] },
        },
      },
    },
  },
  paths: {
    '/contacts': {
      post: {
        summary: 'Create a contact (editor)',
        requestBody: json({ $ref: '#/components/schemas/ContactInput' }),
        responses: { 201: json(contact), 400: error('invalid_request'), 409: error('conflict: the email exists (existing_id)') },
      },
      get: {
        summary: 'List or search contacts by name, then id (reader)',
        parameters: [
          {
            name: 'q',
            in: 'query',
            schema: { type: 'string', maxLength: 200 },
            description: 'each word a prefix of a word of name, email or company',
          },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          200: {
            description: 'a page',
            ...json({
              type: 'object',
              properties: { contacts: { type: 'array', items: contact }, next_cursor: { type: ['string', 'null'] } },
            }),
          },
          400: error('invalid_request'),
        },
      },
    },
    '/contacts/import': {
      post: {
        summary: 'Import 1–10 000 contacts, all or nothing (editor); body up to 16 MiB',
        requestBody: json({
          type: 'object',
          required: ['contacts'],
          properties: { contacts: { type: 'array', maxItems: 10000, items: { $ref: '#/components/schemas/ContactInput' } } },
        }),
        responses: {
          201: { description: '{ imported, ids }' },
          400: error('invalid_request with error.rows [{ index, code, message, existing_id? }] and error.error_count; nothing imported'),
          409: error('conflict: a concurrent write took an email; nothing imported'),
          413: error('payload_too_large'),
        },
      },
    },
    '/contacts/{id}': {
      get: {
        summary: 'Read a contact (reader)',
        parameters: [id, { name: 'If-None-Match', in: 'header', schema: { type: 'string' } }],
        responses: { 200: json(contact), 304: { description: 'not modified' }, 404: error('not_found') },
      },
      put: {
        summary: 'Replace a contact (editor)',
        parameters: [id, ifMatch],
        requestBody: json({ $ref: '#/components/schemas/ContactInput' }),
        responses: {
          200: json(contact),
          404: error('not_found'),
          409: error('conflict: the email exists'),
          412: error('precondition_failed'),
        },
      },
      delete: {
        summary: 'Delete a contact (editor)',
        parameters: [id, ifMatch],
        responses: { 204: { description: 'deleted' }, 404: error('not_found'), 412: error('precondition_failed') },
      },
    },
  },
};
