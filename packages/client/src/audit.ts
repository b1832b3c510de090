import { AUDIT_GENESIS_HASH, type AuditChainResult, type AuditEntry, AuditLogAnswer, verifyAuditChain } from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';

/** One page of the app's audit log: `next` is the seq to ask after, null at the head. */
export interface AuditPage {
  entries: AuditEntry[];
  next: string | null;
}

export async function auditPage(options: ClientOptions, appId: string, after = 0, limit?: number): Promise<AuditPage> {
  const query = new URLSearchParams({ after: String(after), ...(limit ? { limit: String(limit) } : {}) });
  const body = (await call('GET', registryUrl(options, `${appPath(appId)}/log?${query}`), AuditLogAnswer)).body;
  return { entries: body.entries ?? [], next: body.next ?? null };
}

/** The app's audit log page by page, from the first entry to the head. */
export async function* auditPages(options: ClientOptions, appId: string, limit?: number): AsyncGenerator<AuditEntry[]> {
  let after = 0;
  for (;;) {
    const page = await auditPage(options, appId, after, limit);
    yield page.entries;
    const next = page.next === null ? Number.NaN : Number(page.next);
    // A cursor that does not move forward would loop forever: the log ends there.
    if (!Number.isSafeInteger(next) || next <= after || page.entries.length === 0) return;
    after = next;
  }
}

/** The app's whole audit log, as the registry keeps it (SPEC §6), read page by page. */
export async function auditLog(options: ClientOptions, appId: string): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for await (const page of auditPages(options, appId)) entries.push(...page);
  return entries;
}

export type AuditVerification = AuditChainResult & { app_id: string; entries: number; pages: number; head_hash: string | null };

/**
 * Streams the app's audit log and checks its hash chain across page boundaries, holding one
 * page at a time. Compare `head_hash` with one seen before to notice a log cut short at its end.
 */
export async function verifyAuditLog(options: ClientOptions, appId: string, limit?: number): Promise<AuditVerification> {
  let head = { seq: 0, hash: AUDIT_GENESIS_HASH };
  let pages = 0;
  for await (const entries of auditPages(options, appId, limit)) {
    pages += 1;
    const result = verifyAuditChain(entries, head);
    if (!result.ok) return { ...result, app_id: appId, entries: head.seq, pages, head_hash: head.seq > 0 ? head.hash : null };
    const last = entries.at(-1);
    if (last) head = { seq: last.seq, hash: last.hash };
  }
  return { ok: true, app_id: appId, entries: head.seq, pages, head_hash: head.seq > 0 ? head.hash : null };
}
