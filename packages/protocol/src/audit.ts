import { createHash } from 'node:crypto';
import type { AuditEntry } from './answers.js';
import { canonicalJson } from './canonical.js';

/** The `prev_hash` of an app's first audit entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/**
 * An audit entry's hash: SHA-256 (lowercase hex) of `swarm/1.0/audit` + "\n" + the JCS form of
 * the entry without its `hash` member. `prev_hash` is inside, so each entry seals the chain
 * before it.
 */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _hash, ...rest } = entry as AuditEntry;
  return createHash('sha256')
    .update(`swarm/1.0/audit\n${canonicalJson(rest)}`, 'utf8')
    .digest('hex');
}

export type AuditChainResult = { ok: true } | { ok: false; seq: number; reason: string };

/**
 * Checks an app's whole log: seq runs 1, 2, 3… without gaps, every `prev_hash` is the hash of
 * the entry before (the genesis hash for the first), and every `hash` matches its entry.
 * A log cut short at its end still verifies: compare the head hash with one seen before.
 * `after` continues a check across pages: the seq and hash of the last entry already verified.
 */
export function verifyAuditChain(
  entries: readonly unknown[],
  after: { seq: number; hash: string } = { seq: 0, hash: AUDIT_GENESIS_HASH },
): AuditChainResult {
  let prev = after.hash;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Partial<AuditEntry> | null;
    const expectedSeq = after.seq + i + 1;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      return { ok: false, seq: expectedSeq, reason: 'entry is not an object' };
    }
    if (entry.seq !== expectedSeq)
      return { ok: false, seq: expectedSeq, reason: `expected seq ${expectedSeq}, found ${String(entry.seq)}` };
    if (entry.prev_hash !== prev) return { ok: false, seq: expectedSeq, reason: 'prev_hash does not match the entry before' };
    let hash: string;
    try {
      hash = auditEntryHash(entry as AuditEntry);
    } catch {
      return { ok: false, seq: expectedSeq, reason: 'entry has no canonical form' };
    }
    if (entry.hash !== hash) return { ok: false, seq: expectedSeq, reason: 'hash does not match the entry' };
    prev = hash;
  }
  return { ok: true };
}
