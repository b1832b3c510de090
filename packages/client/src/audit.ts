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

/** A chain verified across a registry migration: the source's part, then the target's. */
export type ChainVerification = AuditVerification & {
  /** Set when the log continues another registry's chain: what was walked there. */
  previous?: AuditVerification & { registry: string; linked_seq: number };
};

/**
 * Verifies the app's chain at its registry and, where the first entry there links to another
 * registry's chain (an app that moved: its first entry's `prev_hash` is the source's last hash),
 * the source's chain too, read from `previous` (the source registry's URL): the source's chain
 * must verify from its start and hold the linked hash, then the target's must verify from it.
 * A log that links elsewhere without `previous` is not called verified.
 */
export async function verifyAuditAcross(
  options: ClientOptions,
  appId: string,
  previous: ClientOptions | undefined,
  limit?: number,
): Promise<ChainVerification> {
  const first = (await auditPage(options, appId, 0, 1)).entries[0];
  const linked = first !== undefined && !(first.seq === 1 && first.prev_hash === AUDIT_GENESIS_HASH);
  if (!linked) return verifyAuditLog(options, appId, limit);
  if (!previous) {
    return {
      ok: false,
      seq: first.seq,
      reason: `the log continues another registry's chain (prev_hash ${first.prev_hash}); give that registry's URL to walk it`,
      app_id: appId,
      entries: 0,
      pages: 0,
      head_hash: null,
    };
  }
  const before = await verifyUpTo(previous, appId, first.prev_hash, limit);
  const source = { ...before.result, registry: previous.registry, linked_seq: before.linkedSeq };
  if (!before.result.ok) return { ...before.result, previous: source };
  if (before.linkedSeq < 0) {
    return {
      ok: false,
      seq: first.seq,
      reason: `no entry of ${previous.registry} has the hash the first entry links to`,
      app_id: appId,
      entries: 0,
      pages: 0,
      head_hash: null,
      previous: source,
    };
  }
  let head = { seq: first.seq - 1, hash: first.prev_hash };
  let pages = 0;
  for await (const entries of auditPages(options, appId, limit)) {
    pages += 1;
    const result = verifyAuditChain(entries, head);
    if (!result.ok) return { ...result, app_id: appId, entries: head.seq, pages, head_hash: head.hash, previous: source };
    const last = entries.at(-1);
    if (last) head = { seq: last.seq, hash: last.hash };
  }
  return { ok: true, app_id: appId, entries: head.seq, pages, head_hash: head.hash, previous: source };
}

/** Verifies a chain from its start and finds the seq of the entry whose hash is `hash` (-1: none). */
async function verifyUpTo(
  options: ClientOptions,
  appId: string,
  hash: string,
  limit?: number,
): Promise<{ result: AuditVerification; linkedSeq: number }> {
  let head = { seq: 0, hash: AUDIT_GENESIS_HASH };
  let pages = 0;
  let linkedSeq = -1;
  for await (const entries of auditPages(options, appId, limit)) {
    pages += 1;
    const result = verifyAuditChain(entries, head);
    if (!result.ok) return { result: { ...result, app_id: appId, entries: head.seq, pages, head_hash: head.hash }, linkedSeq };
    for (const entry of entries) if (entry.hash === hash) linkedSeq = entry.seq;
    const last = entries.at(-1);
    if (last) head = { seq: last.seq, hash: last.hash };
  }
  return { result: { ok: true, app_id: appId, entries: head.seq, pages, head_hash: head.seq > 0 ? head.hash : null }, linkedSeq };
}
