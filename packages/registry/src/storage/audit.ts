import { type AuditEntry, auditEntryHash, SwarmError } from '@swarm/protocol';
import { compileOnce, slotsOf } from '@swarm/runtime';
import type { AppRow } from './apps.js';
import type { AuditLogTable, Executor, RegistryTables } from './schema.js';

/**
 * The largest audit entry (its JSON, in UTF-16 code units): a change whose entry would be larger
 * is refused with `413 payload_too_large`, so one owner cannot make every read of the log heavy.
 */
export const MAX_AUDIT_ENTRY_CHARS = 16 * 1024;

/** Entries per log page: 100 by default, at most 1000 (S3's ListObjects page size), and at most 1 MiB of them. */
export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1000;
export const AUDIT_PAGE_MAX_CHARS = 1024 * 1024;

/** Every app change appends an entry: compiled once. */
const auditInsert = compileOnce<RegistryTables, AuditLogTable, unknown>((db, value) =>
  db.insertInto('audit_log').values(slotsOf(value, ['app_id', 'seq', 'at', 'event', 'entry', 'hash'])),
);

/**
 * Appends an entry to the app's hash chain and moves the chain head on `app` (the caller saves
 * the row in the same transaction, after reading it with lockApp).
 */
export async function appendAudit(
  db: Executor,
  app: AppRow,
  at: number,
  event: string,
  fields: Record<string, unknown>,
): Promise<AuditEntry> {
  const body = { ...fields, seq: app.logSeq + 1, at, event, prev_hash: app.logHash };
  const entry: AuditEntry = { ...body, hash: auditEntryHash(body) };
  const text = JSON.stringify(entry);
  if (text.length > MAX_AUDIT_ENTRY_CHARS) {
    throw new SwarmError(
      'payload_too_large',
      `the change's audit entry would be ${text.length} characters (at most ${MAX_AUDIT_ENTRY_CHARS})`,
    );
  }
  await auditInsert.run(db, { app_id: app.appId, seq: entry.seq, at, event, entry: text, hash: entry.hash });
  app.logSeq = entry.seq;
  app.logHash = entry.hash;
  return entry;
}

/**
 * A page of the app's log after `afterSeq`: up to `limit` entries as stored (JSON text, never
 * parsed here) and no more than `maxChars` of them (at least one entry), with the seq to ask
 * after next, or null at the head.
 */
export async function auditPage(
  db: Executor,
  appId: string,
  afterSeq: number,
  limit: number,
  maxChars: number,
): Promise<{ entries: string[]; next: number | null }> {
  const rows = await db
    .selectFrom('audit_log')
    .select(['seq', 'entry'])
    .where('app_id', '=', appId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit + 1)
    .execute();
  const entries: string[] = [];
  let chars = 0;
  for (const row of rows.slice(0, limit)) {
    if (entries.length > 0 && chars + row.entry.length > maxChars) break;
    entries.push(row.entry);
    chars += row.entry.length;
  }
  const more = rows.length > entries.length;
  return { entries, next: more ? Number(rows[entries.length - 1]?.seq) : null };
}

/** One entry as stored (JSON text), or null past the head. */
export async function auditEntryText(db: Executor, appId: string, seq: number): Promise<string | null> {
  const row = await db.selectFrom('audit_log').select('entry').where('app_id', '=', appId).where('seq', '=', seq).executeTakeFirst();
  return row?.entry ?? null;
}

/** The seq of the app's last entry of `event`, or null (a retried change answers with the first one's id). */
export async function lastEventSeq(db: Executor, appId: string, event: string): Promise<number | null> {
  const row = await db
    .selectFrom('audit_log')
    .select('seq')
    .where('app_id', '=', appId)
    .where('event', '=', event)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.seq) : null;
}
