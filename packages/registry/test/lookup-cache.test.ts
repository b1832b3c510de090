import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LookupCache } from '../src/lookup-cache.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('LookupCache', () => {
  it('builds every time without a change stamp (PostgreSQL)', async () => {
    const cache = new LookupCache<number>(null);
    let builds = 0;
    for (let i = 0; i < 3; i++) await cache.get('a', 100, async () => ++builds);
    assert.equal(builds, 3);
  });

  it('keeps an answer within its second while nothing was committed', async () => {
    const cache = new LookupCache<number>(() => 'v1:0');
    let builds = 0;
    const build = async () => ++builds;
    assert.equal(await cache.get('a', 100, build), 1);
    await nextTurn();
    assert.equal(await cache.get('a', 100, build), 1);
    assert.equal(await cache.get('a', 101, build), 2, 'a new second builds anew');
    assert.equal(await cache.get('b', 101, build), 3, 'another key');
  });

  it('builds anew from the first turn after a commit', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<number>(() => stamp);
    let builds = 0;
    const build = async () => ++builds;
    await cache.get('a', 100, build);
    stamp = 'v1:1';
    await nextTurn();
    assert.equal(await cache.get('a', 100, build), 2);
  });

  it('does not keep an answer built while a commit landed', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<number>(() => stamp);
    let builds = 0;
    await cache.get('a', 100, async () => {
      stamp = 'v1:1';
      return ++builds;
    });
    assert.equal(await cache.get('a', 100, async () => ++builds), 2);
  });

  it('keeps nothing of a build that failed', async () => {
    const cache = new LookupCache<number>(() => 'v1:0');
    await assert.rejects(cache.get('a', 100, async () => Promise.reject(new Error('unknown app'))));
    assert.equal(await cache.get('a', 100, async () => 7), 7);
  });
});
