import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUDIT_GENESIS_HASH, type AuditEntry, auditEntryHash, verifyAuditChain } from '@swarm/protocol';
import fc from 'fast-check';

function chain(events: Array<Record<string, unknown>>): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prev = AUDIT_GENESIS_HASH;
  events.forEach((fields, i) => {
    const body = { ...fields, seq: i + 1, at: 1_700_000_000 + i, event: `event_${i}`, prev_hash: prev };
    const entry = { ...body, hash: auditEntryHash(body) };
    entries.push(entry);
    prev = entry.hash;
  });
  return entries;
}

const fields = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !['seq', 'at', 'event', 'prev_hash', 'hash'].includes(k)),
  fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 4 },
);

describe('audit chain (protocol auditEntryHash / verifyAuditChain)', () => {
  it('accepts an intact chain, including the empty one', () => {
    assert.deepEqual(verifyAuditChain([]), { ok: true });
    assert.deepEqual(verifyAuditChain(chain([{ a: 1 }, { b: 'é' }, {}])), { ok: true });
  });

  it('catches an edited field, a re-hashed edit, reordering and a removed entry', () => {
    const entries = chain([{ service_id: 'cms-article-1' }, { service_id: 'cms-article-2' }, { service_id: 'cms-article-3' }]);
    const edited = structuredClone(entries);
    edited[1]!.service_id = 'cms-article-9';
    assert.deepEqual(verifyAuditChain(edited), { ok: false, seq: 2, reason: 'hash does not match the entry' });
    const rehashed = structuredClone(edited);
    rehashed[1]!.hash = auditEntryHash(rehashed[1]!);
    assert.equal((verifyAuditChain(rehashed) as { seq: number }).seq, 3);
    const reordered = [entries[0], entries[2], entries[1]];
    assert.equal(verifyAuditChain(reordered).ok, false);
    const removed = [entries[0], entries[2]];
    assert.deepEqual(verifyAuditChain(removed), { ok: false, seq: 2, reason: 'expected seq 2, found 3' });
    const renumbered = structuredClone(removed);
    renumbered[1]!.seq = 2;
    renumbered[1]!.hash = auditEntryHash(renumbered[1]!);
    assert.equal(verifyAuditChain(renumbered).ok, false);
    assert.equal(verifyAuditChain([entries[1]]).ok, false);
    assert.equal(verifyAuditChain([null, 'x']).ok, false);
  });

  it('finds any single change anywhere (property)', () => {
    fc.assert(
      fc.property(fc.array(fields, { minLength: 1, maxLength: 8 }), fc.nat(), fc.string({ minLength: 1 }), (events, at, value) => {
        const entries = chain(events);
        assert.deepEqual(verifyAuditChain(entries), { ok: true });
        const index = at % entries.length;
        const tampered = structuredClone(entries);
        tampered[index]!.event = `${tampered[index]!.event}${value}`;
        const result = verifyAuditChain(tampered);
        return !result.ok && result.seq === index + 1;
      }),
      { numRuns: 200 },
    );
  });
});
