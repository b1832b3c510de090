import { randomUUID } from 'node:crypto';
import { parseMessage, SwarmError } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import { authorOf, type Domain, needs, requestInstance } from '@swarm/service-kit';
import { sql } from 'kysely';
import { z } from 'zod';

export const ContactInput = z.strictObject({
  name: z.string().min(1).max(200),
  email: z.email().max(254),
  company: z.string().max(200).optional(),
  notes: z.string().max(10_000).optional(),
});

const SearchQuery = z.strictObject({ q: z.string().max(200).optional() });

interface ContactRow {
  service_id: string;
  id: string;
  name: string;
  email: string;
  company: string | null;
  notes: string | null;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  updated_by: string | null;
}

interface Tables {
  crm_contacts: ContactRow;
}

const toContact = (row: ContactRow) => ({
  id: row.id,
  name: row.name,
  email: row.email,
  ...(row.company === null ? {} : { company: row.company }),
  ...(row.notes === null ? {} : { notes: row.notes }),
  created_at: Number(row.created_at),
  updated_at: Number(row.updated_at),
  created_by: row.created_by,
  updated_by: row.updated_by,
});

const now = () => Math.floor(Date.now() / 1000);
/** A LIKE pattern matching `text` anywhere, with the pattern characters escaped. */
const containing = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Contacts (SPEC §12), searchable by name, email and company; isolated per instance. */
export const contactsDomain: Domain<Tables> = {
  migrations: {
    '001_contacts': {
      up: async (db) => {
        await db.schema
          .createTable('crm_contacts')
          .ifNotExists()
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('company', 'text')
          .addColumn('notes', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('crm_contacts_pk', ['service_id', 'id'])
          .execute();
      },
    },
    // Who wrote what (docs/SERVICE-KIT.md, "Roles"): the token's sub; null for rows from before.
    '002_authors': {
      up: async (db) => {
        await db.schema.alterTable('crm_contacts').addColumn('created_by', 'text').execute();
        await db.schema.alterTable('crm_contacts').addColumn('updated_by', 'text').execute();
      },
    },
  },

  routes(scope, context) {
    const { db } = context;
    // The read every GET, PUT and DELETE by id starts with: compiled once.
    const selectContact = context.prepare<{ serviceId: string; id: string }, ContactRow>((value) =>
      db.selectFrom('crm_contacts').selectAll().where('service_id', '=', value('serviceId')).where('id', '=', value('id')),
    );
    const find = async (serviceId: string, id: string) => {
      const row = await selectContact.first({ serviceId, id });
      if (!row) throw new SwarmError('not_found', 'no such contact');
      return row;
    };
    const fields = (input: z.infer<typeof ContactInput>) => ({
      name: input.name,
      email: input.email,
      company: input.company ?? null,
      notes: input.notes ?? null,
    });

    scope.post('/contacts', needs('editor'), async (request, reply) => {
      const input = parseMessage(ContactInput, jsonBody(request));
      const at = now();
      const author = authorOf(request);
      const row = {
        service_id: requestInstance(request).serviceId,
        id: randomUUID(),
        ...fields(input),
        created_at: at,
        updated_at: at,
        created_by: author,
        updated_by: author,
      };
      await db.insertInto('crm_contacts').values(row).execute();
      reply.code(201).send(toContact(row));
    });
    scope.get('/contacts', needs('reader'), async (request) => {
      const { q } = parseMessage(SearchQuery, request.query);
      let query = db.selectFrom('crm_contacts').selectAll().where('service_id', '=', requestInstance(request).serviceId);
      if (q) {
        const pattern = containing(q);
        query = query.where((eb) =>
          eb.or([
            eb(sql`lower(name)`, 'like', sql`${pattern} escape '\\'`),
            eb(sql`lower(email)`, 'like', sql`${pattern} escape '\\'`),
            eb(sql`lower(coalesce(company, ''))`, 'like', sql`${pattern} escape '\\'`),
          ]),
        );
      }
      const rows = await query.orderBy('name').orderBy('id').limit(1000).execute();
      return { contacts: rows.map(toContact) };
    });
    scope.get('/contacts/:id', needs('reader'), async (request) =>
      toContact(await find(requestInstance(request).serviceId, (request.params as { id: string }).id)),
    );
    scope.put('/contacts/:id', needs('editor'), async (request) => {
      const input = parseMessage(ContactInput, jsonBody(request));
      const serviceId = requestInstance(request).serviceId;
      const { id } = request.params as { id: string };
      const existing = await find(serviceId, id);
      const changes = { ...fields(input), updated_at: now(), updated_by: authorOf(request) };
      await db.updateTable('crm_contacts').set(changes).where('service_id', '=', serviceId).where('id', '=', id).execute();
      return toContact({ ...existing, ...changes });
    });
    scope.delete('/contacts/:id', needs('editor'), async (request, reply) => {
      const { id } = request.params as { id: string };
      const result = await db
        .deleteFrom('crm_contacts')
        .where('service_id', '=', requestInstance(request).serviceId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new SwarmError('not_found', 'no such contact');
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
