import { randomUUID } from 'node:crypto';
import { readJsonBody, SwarmError } from '@swarm/protocol';
import { isUniqueViolation } from '@swarm/runtime';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ContactInput, fieldsOf, holderOf } from './fields.js';
import type { ContactRow, Tables } from './tables.js';

export const MAX_IMPORT_ROWS = 10_000;
/** 10 000 contacts of ordinary size fit well within this; a body over it is `413 payload_too_large`. */
export const IMPORT_MAX_BYTES = 16 * 1024 * 1024;
/** Row errors listed in a refusal; `error_count` says how many there were. */
const MAX_LISTED_ERRORS = 100;
/** Rows per INSERT: well under SQLite's bound-parameter limit. */
const CHUNK = 500;

const ImportBody = z.strictObject({ contacts: z.array(z.unknown()).min(1).max(MAX_IMPORT_ROWS) });

interface RowError {
  index: number;
  code: 'invalid_request' | 'conflict';
  message: string;
  existing_id?: string;
}

/**
 * `POST /contacts/import`: up to 10 000 contacts, all or nothing. Every row is checked (shape,
 * an email twice in the batch, an email already in the instance) before anything is written;
 * one bad row refuses the whole batch with each bad row's index and reason. The rows then go in
 * one transaction, so a failure midway (a concurrent write of the same email) leaves nothing.
 */
export async function importContacts(
  db: Kysely<Tables>,
  serviceId: string,
  raw: unknown,
  author: string | null,
): Promise<{ status: number; body: unknown }> {
  if (!Buffer.isBuffer(raw)) throw new SwarmError('invalid_request', 'a JSON body is required');
  const parsed = ImportBody.safeParse(readJsonBody(raw, IMPORT_MAX_BYTES));
  if (!parsed.success) throw new SwarmError('invalid_request', `the body must be { contacts: [1…${MAX_IMPORT_ROWS} contacts] }`);

  const errors: RowError[] = [];
  const at = Math.floor(Date.now() / 1000);
  const rows: ContactRow[] = [];
  const firstIndex = new Map<string, number>();
  parsed.data.contacts.forEach((item, index) => {
    const input = ContactInput.safeParse(item);
    if (!input.success) {
      const issue = input.error.issues[0];
      errors.push({ index, code: 'invalid_request', message: `${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'}` });
      return;
    }
    const fields = fieldsOf(input.data);
    const earlier = firstIndex.get(fields.email_normalized);
    if (earlier !== undefined) {
      errors.push({ index, code: 'conflict', message: `the email is also at index ${earlier}` });
      return;
    }
    firstIndex.set(fields.email_normalized, index);
    rows.push({
      service_id: serviceId,
      id: randomUUID(),
      ...fields,
      created_at: at,
      updated_at: at,
      created_by: author,
      updated_by: author,
      version: 1,
    });
  });
  const indexOf = (row: ContactRow) => firstIndex.get(row.email_normalized) as number;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const existing = await db
      .selectFrom('crm_contacts')
      .select(['id', 'email_normalized'])
      .where('service_id', '=', serviceId)
      .where(
        'email_normalized',
        'in',
        chunk.map((row) => row.email_normalized),
      )
      .execute();
    const byEmail = new Map(existing.map((row) => [row.email_normalized, row.id]));
    for (const row of chunk) {
      const holder = byEmail.get(row.email_normalized);
      if (holder) errors.push({ index: indexOf(row), code: 'conflict', message: 'a contact with this email exists', existing_id: holder });
    }
  }
  if (errors.length > 0) {
    errors.sort((a, b) => a.index - b.index);
    return {
      status: 400,
      body: {
        error: {
          code: 'invalid_request',
          message: `${errors.length} of ${parsed.data.contacts.length} rows are refused; nothing was imported`,
          error_count: errors.length,
          rows: errors.slice(0, MAX_LISTED_ERRORS),
        },
      },
    };
  }
  try {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += CHUNK)
        await trx
          .insertInto('crm_contacts')
          .values(rows.slice(i, i + CHUNK))
          .execute();
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Another write took one of the addresses after the check: name it, nothing was imported.
    for (const row of rows) {
      const holder = await holderOf(db, serviceId, row.email_normalized);
      if (holder)
        return {
          status: 409,
          body: {
            error: {
              code: 'conflict',
              message: `row ${indexOf(row)}: a contact with this email exists; nothing was imported`,
              existing_id: holder,
            },
          },
        };
    }
    throw error;
  }
  return { status: 201, body: { imported: rows.length, ids: rows.map((row) => row.id) } };
}
