import type { Kysely } from 'kysely';
import { z } from 'zod';
import { normalizeEmail, type Tables } from './tables.js';

export const ContactInput = z.strictObject({
  name: z.string().min(1).max(200),
  email: z.email().max(254),
  company: z.string().max(200).optional(),
  notes: z.string().max(10_000).optional(),
});

export const fieldsOf = (input: z.infer<typeof ContactInput>) => ({
  name: input.name,
  email: input.email,
  email_normalized: normalizeEmail(input.email),
  company: input.company ?? null,
  notes: input.notes ?? null,
});

export const holderOf = async (db: Kysely<Tables>, serviceId: string, normalized: string) =>
  (
    await db
      .selectFrom('crm_contacts')
      .select('id')
      .where('service_id', '=', serviceId)
      .where('email_normalized', '=', normalized)
      .executeTakeFirst()
  )?.id;
