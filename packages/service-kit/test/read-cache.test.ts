import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReadCache } from '../src/read-cache.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('ReadCache', () => {
  it('keeps nothing without a data version (PostgreSQL)', () => {
    const cache = new ReadCache(null);
    cache.set('a', 'text', cache.generation);
    assert.equal(cache.enabled, false);
    assert.equal(cache.get('a'), undefined);
  });

  it('empties itself when another connection committed, seen from the next turn on', async () => {
    let version = 1;
    const cache = new ReadCache(() => version);
    assert.equal(cache.get('a'), undefined);
    cache.set('a', 'one', cache.generation);
    assert.equal(cache.get('a'), 'one');
    version = 2;
    await nextTurn();
    assert.equal(cache.get('a'), undefined);
  });

  it('does not keep what a read found if a write to the same data was forgotten meanwhile', () => {
    const cache = new ReadCache(() => 1);
    cache.get('a');
    const generation = cache.generation;
    cache.forget('a');
    cache.set('a', 'stale', generation);
    assert.equal(cache.get('a'), undefined);
  });

  it('stays within its size, dropping the oldest first (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.string({ maxLength: 30 })), { maxLength: 200 }), (writes) => {
        const cache = new ReadCache(() => 1, { maxBytes: 100 });
        const kept = new Map<string, string>();
        for (const [key, text] of writes) {
          cache.set(String(key), text, cache.generation);
          kept.delete(String(key));
          kept.set(String(key), text);
          let total = [...kept.values()].reduce((sum, value) => sum + value.length, 0);
          for (const [oldest, value] of kept) {
            if (total <= 100) break;
            kept.delete(oldest);
            total -= value.length;
          }
        }
        for (let key = 0; key <= 20; key++) assert.equal(cache.get(String(key)), kept.get(String(key)));
      }),
    );
  });
});
