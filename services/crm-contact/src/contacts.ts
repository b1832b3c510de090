import { randomUUID } from 'node:crypto';
import { parseMessage, SwarmError } from '@swarm/protocol';
import { isUniqueViolation, jsonBody } from '@swarm/runtime';
import { authorOf, type Domain, ifNoneMatchPasses, needs, requestInstance, requireWritePreconditions } from '@swarm/service-kit';
import type { FastifyReply } from 'fastify';
import { ContactInput, fieldsOf, holderOf } from './fields.js';
import { IMPORT_MAX_BYTES, importContacts } from './import.js';
import { listContacts } from './list.js';
import { contactMigrations } from './migrations.js';
import { contactOpenApi } from './openapi.js';
import { CONTACT_COLUMNS, type ContactRow, type Tables } from './tables.js';
import { contactTransfer } from './transfer.js';

export const toContact = (row: ContactRow) => ({
  id: row.id,
  name: row.name,
  email: row.email,
  ...(row.company === null ? {} : { company: row.company }),
  ...(row.notes === null ? {} : { notes: row.notes }),
  version: Number(row.version),
  created_at: Number(row.created_at),
  updated_at: Number(row.updated_at),
  created_by: row.created_by,
  updated_by: row.updated_by,
});

const now = () => Math.floor(Date.now() / 1000);
const etagOf = (version: number | string) => `"${version}"`;

/** `409 conflict` naming the contact that has the address, so a client can merge instead. */
function emailConflict(reply: FastifyReply, email: string, existingId: string | undefined) {
  return reply.code(409).send({
    error: {
      code: 'conflict',
      message: `a contact with ${email} exists in this instance`,
      ...(existingId ? { existing_id: existingId } : {}),
    },
  });
}

/** Contacts (SPEC §12, §15): unique emails, indexed search, versions and bulk import; isolated per instance. */
export const contactsDomain: Domain<Tables> = {
  openapi: contactOpenApi,
  migrations: contactMigrations,
  transfer: contactTransfer,

  routes(scope, context) {
    const { db } = context;
    // The read every GET, PUT and DELETE by id starts with: compiled once.
    const selectContact = context.prepare<{ serviceId: string; id: string }, ContactRow>((value) =>
      db.selectFrom('crm_contacts').select(CONTACT_COLUMNS).where('service_id', '=', value('serviceId')).where('id', '=', value('id')),
    );
    const find = async (serviceId: string, id: string) => {
      const row = await selectContact.first({ serviceId, id });
      if (!row) throw new SwarmError('not_found', 'no such contact');
      return row;
    };

    scope.post('/contacts', needs('editor'), async (request, reply) => {
      const input = parseMessage(ContactInput, jsonBody(request));
      const serviceId = requestInstance(request).serviceId;
      const at = now();
      const author = authorOf(request);
      const row: ContactRow = {
        service_id: serviceId,
        id: randomUUID(),
        ...fieldsOf(input),
        created_at: at,
        updated_at: at,
        created_by: author,
        updated_by: author,
        version: 1,
      };
      try {
        await db.insertInto('crm_contacts').values(row).execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return emailConflict(reply, input.email, await holderOf(db, serviceId, row.email_normalized));
      }
      reply.code(201).header('etag', etagOf(1)).send(toContact(row));
    });
    scope.post('/contacts/import', { ...needs('editor'), bodyLimit: IMPORT_MAX_BYTES }, async (request, reply) => {
      const answer = await importContacts(db, requestInstance(request).serviceId, request.body, authorOf(request));
      reply.code(answer.status).send(answer.body);
    });
    scope.get('/contacts', needs('reader'), async (request) => {
      const page = await listContacts(db, requestInstance(request).serviceId, request.query);
      return { contacts: page.rows.map(toContact), next_cursor: page.nextCursor };
    });
    scope.get('/contacts/:id', needs('reader'), async (request, reply) => {
      const row = await find(requestInstance(request).serviceId, (request.params as { id: string }).id);
      reply.header('etag', etagOf(row.version));
      if (!ifNoneMatchPasses(request.headers['if-none-match'], String(row.version))) return reply.code(304).send();
      return toContact(row);
    });
    scope.put('/contacts/:id', needs('editor'), async (request, reply) => {
      const input = parseMessage(ContactInput, jsonBody(request));
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const conditional = request.headers['if-match'] !== undefined;
      // Each try writes only over the version it read: with If-Match a write in between is a 412,
      // without it the whole-record PUT tries again over the newer row.
      for (let attempt = 0; ; attempt++) {
        const existing = await find(serviceId, id);
        requireWritePreconditions(request.headers, String(existing.version), 'the contact');
        const changes = { ...fieldsOf(input), version: Number(existing.version) + 1, updated_at: now(), updated_by: authorOf(request) };
        let updated: number;
        try {
          const result = await db
            .updateTable('crm_contacts')
            .set(changes)
            .where('service_id', '=', serviceId)
            .where('id', '=', id)
            .where('version', '=', existing.version)
            .executeTakeFirst();
          updated = Number(result.numUpdatedRows);
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          return emailConflict(reply, input.email, await holderOf(db, serviceId, changes.email_normalized));
        }
        if (updated === 1) return reply.header('etag', etagOf(changes.version)).send(toContact({ ...existing, ...changes }));
        if (conditional || attempt >= 4) throw new SwarmError('precondition_failed', 'the contact changed while it was written');
      }
    });
    scope.delete('/contacts/:id', needs('editor'), async (request, reply) => {
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      let query = db.deleteFrom('crm_contacts').where('service_id', '=', serviceId).where('id', '=', id);
      if (request.headers['if-match'] !== undefined) {
        const existing = await find(serviceId, id);
        requireWritePreconditions({ 'if-match': request.headers['if-match'] }, String(existing.version), 'the contact');
        query = query.where('version', '=', existing.version);
      }
      const result = await query.executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) {
        if (request.headers['if-match'] !== undefined)
          throw new SwarmError('precondition_failed', 'the contact changed while it was deleted');
        throw new SwarmError('not_found', 'no such contact');
      }
      reply.code(204).send();
    });
  },

  async wipe(instance, context) {
    await context.db.deleteFrom('crm_contacts').where('service_id', '=', instance.serviceId).execute();
  },

  async usage(instance, context) {
    const row = await context.db
      .selectFrom('crm_contacts')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('service_id', '=', instance.serviceId)
      .executeTakeFirst();
    return { contacts: Number(row?.count ?? 0) };
  },
};
