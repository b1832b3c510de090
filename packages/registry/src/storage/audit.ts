import { type AuditEntry, auditEntryHash } from '@swarm/protocol';
import type { AppRow } from './apps.js';
import type { Executor } from './schema.js';

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
  await db
    .insertInto('audit_log')
    .values({ app_id: app.appId, seq: entry.seq, at, event, entry: JSON.stringify(entry), hash: entry.hash })
    .execute();
  app.logSeq = entry.seq;
  app.logHash = entry.hash;
  return entry;
}

export async function listAudit(db: Executor, appId: string): Promise<AuditEntry[]> {
  const rows = await db.selectFrom('audit_log').select('entry').where('app_id', '=', appId).orderBy('seq').execute();
  return rows.map((row) => JSON.parse(row.entry) as AuditEntry);
}
