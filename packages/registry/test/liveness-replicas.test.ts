import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@swarm/dev-env';
import { openDatabase, openRedisClient } from '@swarm/runtime';
import { sql } from 'kysely';
import type { RegistryHandle } from '../src/index.js';
import type { RegistryTables } from '../src/storage/schema.js';
import { boundInstance, developerWithApp, get, listedProvider, post, postgresBackend, serviceCall } from './helpers.js';

const redisUrl = process.env.SWARM_TEST_REDIS_URL;
const backend = postgresBackend();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('liveness shared by two replicas through Redis (PostgreSQL)', {
  skip: backend.skip || (redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set'),
}, () => {
  let a: RegistryHandle;
  let b: RegistryHandle;
  let rows: ReturnType<typeof openDatabase<RegistryTables>>;
  let appId: string;
  let instance: Awaited<ReturnType<typeof boundInstance>>;

  before(async () => {
    // The default for PostgreSQL with Redis: rows merely due are written every 6 intervals.
    a = await backend.start({ heartbeatIntervalSeconds: 1, redisUrl });
    b = await backend.start({ ...backend.shared(), heartbeatIntervalSeconds: 1, redisUrl });
    const shared = backend.shared();
    rows = openDatabase<RegistryTables>({ url: shared.databaseUrl ?? '', schema: shared.databaseSchema });
    const { dev, appId: id } = await developerWithApp(a);
    appId = id;
    instance = await boundInstance(a, dev, appId, await listedProvider(a));
  });
  after(async () => {
    await rows?.close();
    await a?.close();
    await b?.close();
    await backend.cleanup();
  });

  const beatAt = async (registry: RegistryHandle) => {
    const url = `${registry.url}/v1/apps/${appId}/services/${instance.serviceId}/heartbeat`;
    const answer = await post(url, serviceCall(appId, instance.serviceId, instance.instanceKey, { status: 'ok' }));
    assert.equal(answer.status, 200);
    return answer;
  };
  const record = async (registry: RegistryHandle) => (await get(`${registry.url}/v1/apps/${appId}/services`)).body.records[0];
  const rowBeat = async () =>
    Number(
      (
        await rows.db
          .selectFrom('bindings')
          .select('last_heartbeat_at')
          .where('service_id', '=', instance.serviceId)
          .executeTakeFirstOrThrow()
      ).last_heartbeat_at,
    );

  it('writes no row for beats that change no health, and a beat taken by either replica counts at both', async () => {
    const bound = await rowBeat();
    const writes = a.internals.liveness.writes + b.internals.liveness.writes;
    // Past three intervals after the binding: only beats keep it healthy, taken by one replica or the other.
    for (let i = 0; i < 8; i++) {
      await beatAt(i % 2 === 0 ? a : b);
      await sleep(500);
    }
    assert.equal(await rowBeat(), bound, 'the row was not written');
    assert.equal(a.internals.liveness.writes + b.internals.liveness.writes, writes);
    for (const registry of [a, b]) assert.equal((await record(registry)).health, 'healthy');
  });

  it('refuses at one replica a beat the other took (nonces in Redis)', async () => {
    const body = serviceCall(appId, instance.serviceId, instance.instanceKey, { status: 'ok' });
    const path = `/v1/apps/${appId}/services/${instance.serviceId}/heartbeat`;
    assert.equal((await post(`${a.url}${path}`, body)).status, 200);
    const replay = await post(`${b.url}${path}`, body);
    assert.deepEqual([replay.status, replay.body.error.code], [409, 'nonce_reused']);
    const same = (nonce: string) => serviceCall(appId, instance.serviceId, instance.instanceKey, { status: 'ok', nonce });
    const nonce = `n${Date.now()}`;
    const [one, two] = await Promise.all([post(`${a.url}${path}`, same(nonce)), post(`${b.url}${path}`, same(nonce))]);
    assert.deepEqual([one.status, two.status].sort(), [200, 409], 'one nonce at both at once: one wins');
    const table = await sql<{ name: string | null }>`select to_regclass('replay_nonces')::text as name`.execute(rows.db);
    assert.equal(table.rows[0]?.name, null, 'no nonce table in PostgreSQL: nonces live in Redis');
  });

  it('ignores what is not a batch of beats on its channel', async () => {
    const channel = `swarm:registry:${createHash('sha256').update(a.publicKey).digest('hex').slice(0, 16)}:beats:taken`;
    const client = await openRedisClient(redisUrl ?? '');
    try {
      for (const garbage of [
        'not json',
        '{"beats":5}',
        '{"beats":[["x"],[1,2,3,4],null]}',
        JSON.stringify({ beats: [['a', 'b', 1.5, 'ok']] }),
      ]) {
        await client.publish(channel, garbage);
      }
    } finally {
      await client.quit();
    }
    await beatAt(a);
    await eventually(
      'the beat at the other replica',
      async () => ((await record(b)).last_heartbeat_at === (await record(a)).last_heartbeat_at ? true : undefined),
      2000,
      20,
    );
    assert.equal((await record(b)).health, 'healthy');
  });
});
