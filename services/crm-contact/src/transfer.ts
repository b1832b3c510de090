import { parseMessage, SwarmError } from '@swarm/protocol';
import { isUniqueViolation } from '@swarm/runtime';
import { type DataTransfer, decodeCursor, pageOf } from '@swarm/service-kit';
import { z } from 'zod';
import { holderOf } from './fields.js';
import { CONTACT_COLUMNS, type ContactRow, normalizeEmail, type Tables } from './tables.js';

/**
 * A contact in the `swarm-data/1` format (docs/DATA-TRANSFER.md): every field as stored, with
 * `company` and `notes` null when empty, so the moved contact keeps its id, version and times.
 */
export const ContactItem = z.strictObject({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(200),
  email: z.string().min(1).max(254),
  company: z.string().max(200).nullable(),
  notes: z.string().max(10_000).nullable(),
  version: z.int().min(1),
  created_at: z.int().min(0),
  updated_at: z.int().min(0),
  created_by: z.string().max(512).nullable(),
  updated_by: z.string().max(512).nullable(),
});
type ContactItem = z.infer<typeof ContactItem>;

const itemOf = (row: ContactRow): ContactItem => ({
  id: row.id,
  name: row.name,
  email: row.email,
  company: row.company,
  notes: row.notes,
  version: Number(row.version),
  created_at: Number(row.created_at),
  updated_at: Number(row.updated_at),
  created_by: row.created_by,
  updated_by: row.updated_by,
});

const CURSOR_FILTER = ['swarm-data/1', 'crm-contact'];
const Position = z.tuple([z.string()]);
const Items = z.strictObject({ items: z.array(ContactItem) });

/** Contacts leave in id order and come in by id (a repeated page writes the same rows). */
export const contactTransfer: DataTransfer<Tables> = {
  async exportPage(instance, cursor, limits, { db }) {
    const after = decodeCursor(cursor ?? undefined, Position, CURSOR_FILTER);
    let query = db.selectFrom('crm_contacts').select(CONTACT_COLUMNS).where('service_id', '=', instance.serviceId);
    if (after) query = query.where('id', '>', after[0]);
    const rows = await query
      .orderBy('id')
      .limit(limits.maxItems + 1)
      .execute();
    const page = pageOf(rows, limits.maxItems, (row) => [row.id], CURSOR_FILTER);
    return { items: page.rows.map(itemOf), next: page.nextCursor };
  },

  async importPage(instance, items, { db }) {
    const { items: contacts } = parseMessage(Items, { items });
    const serviceId = instance.serviceId;
    try {
      await db.transaction().execute(async (trx) => {
        for (const item of contacts) {
          let normalized = normalizeEmail(item.email);
          // Two contacts of one address can only come from before addresses were unique: the
          // later keeps its address behind its id, as the migration that made them unique did.
          const holder = await holderOf(trx, serviceId, normalized);
          if (holder !== undefined && holder !== item.id) normalized = `${normalized} ${item.id}`;
          const row: ContactRow = { service_id: serviceId, ...item, email_normalized: normalized };
          const { service_id: _s, id: _i, ...changes } = row;
          await trx
            .insertInto('crm_contacts')
            .values(row)
            .onConflict((oc) => oc.columns(['service_id', 'id']).doUpdateSet(changes))
            .execute();
        }
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new SwarmError('conflict', 'a contact of the new instance already holds an address of the moved ones');
      throw error;
    }
  },
};
