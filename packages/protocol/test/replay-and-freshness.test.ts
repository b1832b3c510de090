import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkFreshness, MemoryReplayStore, Nonce, newNonce, SwarmError } from '../src/index.js';

describe('freshness', () => {
  it('accepts ±300 s and refuses beyond with stale_timestamp', () => {
    const now = 1_705_412_600;
    checkFreshness(now - 300, { now });
    checkFreshness(now + 300, { now });
    for (const ts of [now - 301, now + 301, 0, Number.MAX_SAFE_INTEGER]) {
      assert.throws(
        () => checkFreshness(ts, { now }),
        (e: unknown) => e instanceof SwarmError && e.code === 'stale_timestamp',
      );
    }
    checkFreshness(now - 900, { now, windowSeconds: 900 });
  });

  it('makes nonces the schema accepts', () => {
    const nonce = newNonce();
    assert.ok(Nonce.safeParse(nonce).success);
    assert.notEqual(newNonce(), nonce);
  });
});

describe('MemoryReplayStore', () => {
  it('accepts a nonce once per namespace until it expires', async () => {
    let now = 1000;
    const store = new MemoryReplayStore({ now: () => now });
    assert.equal(await store.unique('key-a', 'n1', 1300), true);
    assert.equal(await store.unique('key-a', 'n1', 1300), false);
    assert.equal(await store.unique('key-b', 'n1', 1300), true);
    now = 1301;
    assert.equal(await store.unique('key-a', 'n1', 1600), true);
  });

  it('stays bounded under a flood', async () => {
    const store = new MemoryReplayStore({ maxEntries: 1000, now: () => 0 });
    for (let i = 0; i < 5000; i++) await store.unique('k', `nonce-${i}`, 300 + i);
    assert.ok(store.size <= 1000);
    assert.equal(await store.unique('k', 'nonce-4999', 9999), false);
  });
});
