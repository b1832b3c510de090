export interface ContactRow {
  service_id: string;
  id: string;
  name: string;
  email: string;
  /** The email as uniqueness compares it (`normalizeEmail`); unique per instance. */
  email_normalized: string;
  company: string | null;
  notes: string | null;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  updated_by: string | null;
  /** Raised by one on every write; the ETag, and what `If-Match` compares. */
  version: number;
}

export interface Tables {
  crm_contacts: ContactRow;
}

/** The columns an answer is made of (PostgreSQL's search vector stays in the database). */
export const CONTACT_COLUMNS = [
  'service_id',
  'id',
  'name',
  'email',
  'email_normalized',
  'company',
  'notes',
  'created_at',
  'updated_at',
  'created_by',
  'updated_by',
  'version',
] as const;

/** One address, one contact: case and surrounding space do not make another (the local part is compared case-blind too, as mail systems do in practice). */
export const normalizeEmail = (email: string) => email.trim().normalize('NFC').toLowerCase();
