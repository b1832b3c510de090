import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@swarm/dev-env';
import { openRedisClient } from '@swarm/runtime';
import fc from 'fast-check';
import type { RedisClientType } from 'redis';
import { beatsMessage, hashBeat, type SharedBeat, SharedBeats } from '../src/shared-beats.js';

describe('shared beats: what a replica reads from Redis', () => {
  it('takes the well-formed beats of any message and never throws (property)', () => {
    const beat = fc.tuple(fc.string(), fc.string(), fc.integer(), fc.string());
    const entry = fc.oneof(beat, fc.anything(), fc.array(fc.anything(), { maxLength: 5 }));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.record({ from: fc.anything(), beats: fc.array(entry, { maxLength: 8 }) }).map((value) => JSON.stringify(value) ?? ''),
          fc.anything().map((value) => JSON.stringify(value) ?? ''),
        ),
        (message) => {
          for (const parsed of beatsMessage(message).beats) {
            assert.equal(typeof parsed.appId, 'string');
            assert.equal(typeof parsed.serviceId, 'string');
            assert.ok(Number.isSafeInteger(parsed.at));
            assert.equal(typeof parsed.status, 'string');
          }
        },
      ),
      { numRuns: 500 },
    );
    assert.deepEqual(beatsMessage('{"from":"x","beats":[["a","b",7,"ok"],["a","b",1.5,"ok"],"junk"]}'), {
      from: 'x',
      beats: [{ appId: 'a', serviceId: 'b', at: 7, status: 'ok' }],
    });
  });

  it('reads a hash field back as the beat it was written from, and nothing else (property)', () => {
    const id = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/);
    fc.assert(
      fc.property(id, id, fc.nat(), fc.constantFrom('ok', 'degraded'), (appId, serviceId, at, status) => {
        assert.deepEqual(hashBeat(`${appId} ${serviceId}`, `${at} ${status}`), { appId, serviceId, at, status });
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string(), fc.string(), (field, value) => {
        const parsed = hashBeat(field, value);
        if (parsed) assert.equal(`${parsed.appId} ${parsed.serviceId}`, field);
      }),
      { numRuns: 300 },
    );
    assert.equal(hashBeat('a b c', '1 ok'), null);
    assert.equal(hashBeat('a b', '-1 ok'), null);
    assert.equal(hashBeat('a b', '1'), null);
  });
});

const redisUrl = process.env.SWARM_TEST_REDIS_URL;

describe('shared beats between two replicas', { skip: redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set' }, () => {
  let client: RedisClientType;
  const prefix = `swarm:test:beats:${randomBytes(6).toString('hex')}`;
  const open = async (heard: SharedBeat[]) =>
    SharedBeats.open({ client, prefix, expireSeconds: 60, flushMs: 10, onBeats: (beats) => heard.push(...beats) });
  before(async () => {
    client = await openRedisClient(redisUrl ?? '');
  });
  after(async () => {
    await client?.del([`${prefix}:last`]);
    await client?.quit();
  });

  it('a replica hears the beats another took, catches up with those sent before it listened, and keeps the latest of each', async () => {
    const heardByA: SharedBeat[] = [];
    const a = await open(heardByA);
    const early = { appId: 'local.swarm.ns.app.abc', serviceId: 'cms-article-1', at: 1000, status: 'ok' };
    a.push(early);
    a.push({ ...early, serviceId: 'cms-article-2', at: 1001 });
    await a.flush();
    const heardByB: SharedBeat[] = [];
    const b = await open(heardByB);
    try {
      assert.deepEqual(heardByB.map((beat) => beat.at).sort(), [1000, 1001], 'read from the hash when it started listening');
      b.push({ ...early, at: 1005 });
      // A late, older beat of the same instance from A: the hash keeps the later one.
      a.push({ ...early, at: 1003 });
      await b.flush();
      await a.flush();
      await eventually('A to hear B', async () => (heardByA.some((beat) => beat.at === 1005) ? true : undefined), 2000, 10);
      await eventually('B to hear A', async () => (heardByB.some((beat) => beat.at === 1003) ? true : undefined), 2000, 10);
      assert.ok(!heardByA.some((beat) => beat.at === 1003), 'nobody hears its own beats back');
      assert.equal(await client.hGet(`${prefix}:last`, `${early.appId} ${early.serviceId}`), '1005 ok');
      // Forgetting the beat a sweep saw stop leaves a later one alone; forgetting without a time drops it.
      await a.forget(early.appId, early.serviceId, 1003);
      assert.equal(await client.hGet(`${prefix}:last`, `${early.appId} ${early.serviceId}`), '1005 ok');
      await a.forget(early.appId, early.serviceId);
      assert.equal(await client.hGet(`${prefix}:last`, `${early.appId} ${early.serviceId}`), null);
      // A sweep forgets its stopped instances in one call, each under the same rule.
      a.push({ ...early, serviceId: 'cms-article-3', at: 2000 });
      a.push({ ...early, serviceId: 'cms-article-4', at: 2000 });
      await a.flush();
      await a.forgetAll([
        { ...early, serviceId: 'cms-article-3', at: 2000 },
        { ...early, serviceId: 'cms-article-4', at: 1999 },
      ]);
      assert.equal(await client.hGet(`${prefix}:last`, `${early.appId} cms-article-3`), null);
      assert.equal(await client.hGet(`${prefix}:last`, `${early.appId} cms-article-4`), '2000 ok');
      assert.equal(a.failures + b.failures, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
