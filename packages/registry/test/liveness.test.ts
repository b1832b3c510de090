import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '@swarm/protocol';
import { openDatabase } from '@swarm/runtime';
import fc from 'fast-check';
import type { RegistryHandle } from '../src/index.js';
import { Liveness } from '../src/liveness.js';
import { type BindingRow, prepareBeatRows } from '../src/storage/bindings.js';
import type { RegistryTables } from '../src/storage/schema.js';
import { boundInstance, developerWithApp, get, listedProvider, post, serviceCall, sqliteBackend } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('liveness: last beats in memory, health transitions written', () => {
  const backend = sqliteBackend();
  let registry: RegistryHandle;
  // A second connection to the registry's file: what a restarted registry would read.
  let rows: ReturnType<typeof openDatabase<RegistryTables>>;
  let appId: string;
  let instance: Awaited<ReturnType<typeof boundInstance>>;

  before(async () => {
    // Rows merely due are written every 100 intervals here: every write seen is a transition.
    registry = await backend.start({ heartbeatIntervalSeconds: 1, persistBeatsEveryIntervals: 100 });
    rows = openDatabase<RegistryTables>({ file: `${backend.shared().dataDir}/registry.db` });
    const { dev, appId: id } = await developerWithApp(registry);
    appId = id;
    instance = await boundInstance(registry, dev, appId, await listedProvider(registry));
  });
  after(async () => {
    await rows?.close();
    await registry?.close();
    await backend.cleanup();
  });

  const row = async () =>
    rows.db
      .selectFrom('bindings')
      .select(['last_heartbeat_at', 'heartbeat_status'])
      .where('service_id', '=', instance.serviceId)
      .executeTakeFirstOrThrow();
  const beat = async (status: 'ok' | 'degraded' = 'ok') => {
    const answer = await post(
      `${registry.url}/v1/apps/${appId}/services/${instance.serviceId}/heartbeat`,
      serviceCall(appId, instance.serviceId, instance.instanceKey, { status }),
    );
    assert.equal(answer.status, 200);
    return nowSeconds();
  };
  const listed = async () => (await get(`${registry.url}/v1/apps/${appId}/services`)).body.records[0];

  it('writes nothing for beats that change no health, and ok ↔ degraded at once', async () => {
    const boundAt = Number((await row()).last_heartbeat_at);
    const writes = registry.internals.liveness.writes;
    let last = 0;
    for (let i = 0; i < 3; i++) {
      last = await beat();
      await sleep(400);
    }
    assert.equal(Number((await row()).last_heartbeat_at), boundAt, 'the row was not written');
    assert.equal(registry.internals.liveness.writes, writes);
    assert.equal((await listed()).last_heartbeat_at, last, 'the listing shows the beat from memory');
    await beat('degraded');
    assert.equal((await row()).heartbeat_status, 'degraded');
    await beat('ok');
    assert.equal((await row()).heartbeat_status, 'ok');
    assert.equal(registry.internals.liveness.writes, writes + 2);
  });

  it('writes the exact last beat when beats stop, and the return at once', async () => {
    const last = await beat();
    await sleep(4100);
    assert.equal((await listed()).health, 'unhealthy');
    // The sweep (every quarter interval) writes the stopped instance's exact last beat and forgets it.
    await sleep(600);
    assert.equal(Number((await row()).last_heartbeat_at), last);
    assert.equal(registry.internals.liveness.size, 0);
    const back = await beat();
    assert.equal(Number((await row()).last_heartbeat_at), back, 'came back: written with the beat');
    assert.equal((await listed()).health, 'healthy');
  });

  it('writes what memory holds when it closes, so a restart starts from the last beat', async () => {
    await sleep(1100);
    const last = await beat();
    assert.notEqual(Number((await row()).last_heartbeat_at), last);
    await registry.close();
    assert.equal(Number((await row()).last_heartbeat_at), last);
    registry = await backend.start({ heartbeatIntervalSeconds: 1, persistBeatsEveryIntervals: 100 });
    assert.equal((await listed()).last_heartbeat_at, last);
  });
});

describe('liveness after a restart (warm-up)', () => {
  const database = openDatabase<RegistryTables>({ file: ':memory:' });
  after(() => database.close());
  const interval = 10;
  const persist = 60;
  const startedAt = 100_000;
  const rowOf = (lastHeartbeatAt: number): BindingRow => ({
    appId: 'local.swarm.ns.app.abc123',
    serviceId: 'cms-article-aaaaaaaaaa',
    provider: 'p.cms.test',
    serviceType: 'cms-article',
    endpointUrl: 'http://127.0.0.1:9/i/x/api/v1',
    publicKey: 'ed25519:x',
    previousPublicKey: null,
    previousKeyExpiresAt: null,
    serviceTier: null,
    region: null,
    storageLimitGb: null,
    boundAt: 0,
    status: 'active',
    proofHash: 'h',
    lastHeartbeatAt,
    heartbeatStatus: 'ok',
    revokedAt: null,
    changedAt: null,
  });
  const liveness = () =>
    new Liveness(prepareBeatRows(database.db, database.prepare, database.runInTransaction), {
      intervalSeconds: interval,
      persistSeconds: persist,
      startedAt,
    });

  it('never drops a live instance whose row lagged its last beat, and gives the doubt only until every live one beat', () => {
    const table = liveness();
    // Last beat 99 995, written at 99 950: the crash lost 45 s of beats.
    assert.equal(table.isHealthy(rowOf(99_950), startedAt + 5), true, 'during warm-up');
    assert.equal(table.isHealthy(rowOf(99_950), startedAt + 2 * interval), false, 'after it, the row alone');
    assert.equal(table.isHealthy(rowOf(99_900), startedAt + 5), false, 'a row too old even with the doubt');
  });

  it('for any lag within the persist interval, a live instance stays healthy through the warm-up (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: persist - 1 }),
        fc.integer({ min: 0, max: 3 * interval }),
        fc.integer({ min: 0, max: 2 * interval - 1 }),
        (lag, beforeStart, sinceStart) => {
          const lastBeat = startedAt - beforeStart;
          const now = startedAt + sinceStart;
          const truth = lastBeat >= now - 3 * interval;
          if (truth) assert.equal(liveness().isHealthy(rowOf(lastBeat - lag), now), true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('names the first second an instance turns unhealthy without a beat, warm-up or not (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 99_000, max: 100_200 }), fc.integer({ min: 0, max: 200 }), (lastBeat, sinceStart) => {
        const table = liveness();
        const row = rowOf(lastBeat);
        const now = startedAt + sinceStart;
        const until = table.healthyUntil(row, now);
        if (!table.isHealthy(row, now)) {
          assert.equal(until, Number.POSITIVE_INFINITY);
          // Time alone never brings it back.
          for (let s = now; s < now + 5 * interval; s++) assert.equal(table.isHealthy(row, s), false);
          return;
        }
        assert.ok(until > now);
        for (let s = now; s < until; s++) assert.equal(table.isHealthy(row, s), true, `healthy at ${s}`);
        // At the deadline it is unhealthy, or the warm-up's doubt ends there (a rebuild decides again).
        assert.ok(!table.isHealthy(row, until) || until === startedAt + 2 * interval);
      }),
      { numRuns: 500 },
    );
  });

  it("takes another replica's later beats, leaves stale ones, and says when an app's answers may have left an instance out", async () => {
    const table = liveness();
    const revived: string[] = [];
    table.share({ push() {}, flush: async () => {}, forget: async () => {}, forgetAll: async () => {} } as never, (appId) =>
      revived.push(appId),
    );
    const row = rowOf(99_000);
    const now = startedAt + 5 * interval;
    const beat = { appId: row.appId, serviceId: row.serviceId, status: 'ok' };
    table.merge([{ ...beat, at: now - 4 * interval }], now);
    assert.equal(table.isHealthy(row, now), false, 'a beat older than 3 intervals changes nothing');
    assert.deepEqual(revived, []);
    table.merge([{ ...beat, at: now - 1 }], now);
    assert.equal(table.isHealthy(row, now), true);
    assert.deepEqual(revived, [row.appId], 'unknown here before: its answers are dropped');
    table.merge([{ ...beat, at: now }], now);
    table.merge([{ ...beat, at: now - 2 }], now);
    assert.equal(table.lastBeat(row), now, 'an earlier beat arriving late does not go back in time');
    assert.deepEqual(revived, [row.appId], 'a fresh beat of a healthy instance drops nothing');
    table.merge([{ ...beat, at: now + 4 * interval }], now + 4 * interval);
    assert.deepEqual(revived, [row.appId, row.appId], 'it had stopped here: dropped again');
  });

  it('decides from memory exactly once an instance beat', async () => {
    const table = liveness();
    const row = rowOf(99_000);
    const now = startedAt + 5 * interval;
    const taken = await table.beat(row, 'ok', now, async () => true);
    assert.deepEqual(taken, { cameBack: true });
    assert.equal(table.isHealthy(row, now + 3 * interval), true);
    assert.equal(table.isHealthy(row, now + 3 * interval + 1), false);
  });
});
