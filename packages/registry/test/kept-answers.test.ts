import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@swarm/dev-env';
import { appDnsZone, generateSigningKey, newNonce, nowSeconds, type SigningKey, sign, signEnvelope } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import type { RegistryHandle } from '../src/index.js';
import {
  type Backend,
  boundInstance,
  type Developer,
  developerWithApp,
  get,
  listedProvider,
  type Provider,
  post,
  postgresBackend,
  serviceCall,
  sqliteBackend,
} from './helpers.js';

/**
 * Service DNS answers kept across seconds (until an instance would turn unhealthy, or the app
 * changes): kept while nothing changes, and every transition seen at once — on one registry,
 * and at a second replica told by the change channel (and by Redis for beats).
 */

const INTERVAL = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Sleeps to `ms` past the start of second `second`. */
const untilSecond = (second: number, ms = 100) => sleep(Math.max(0, second * 1000 + ms - Date.now()));

function dnsAsker(port: number) {
  const socket: Socket = createSocket('udp4');
  const ready = new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let id = 1;
  return {
    /** The instances' public keys in the SRV reply's TXT records (one per instance listed). */
    async keys(appId: string): Promise<string[]> {
      await ready;
      const name = `_cms-article._tcp.${appDnsZone(appId).slice(0, -1)}`;
      const answer = await new Promise<dnsPacket.Packet>((resolve) => {
        socket.once('message', (message) => resolve(dnsPacket.decode(message)));
        socket.send(dnsPacket.encode({ id: id++, type: 'query', questions: [{ type: 'SRV', name }] }), port, '127.0.0.1');
      });
      const records = [...(answer.answers ?? []), ...(answer.additionals ?? [])];
      const srv = records.filter((record) => record.type === 'SRV').length;
      const keys = records
        .filter((record) => record.type === 'TXT')
        .flatMap((record) => (record.data as Buffer[]).map(String))
        .filter((text) => text.startsWith('public_key='))
        .map((text) => text.slice('public_key='.length));
      assert.equal(keys.length, srv, 'one TXT per SRV');
      return keys;
    },
    close: () => socket.close(),
  };
}

interface Replicas {
  /** Takes the writes and the beats. */
  write: () => RegistryHandle;
  /** Answers the questions (the same registry, or another replica). */
  read: () => RegistryHandle;
}

function transitions(replicas: Replicas) {
  let dev: Developer;
  let appId: string;
  let provider: Provider;
  let instance: Awaited<ReturnType<typeof boundInstance>>;
  let dns: ReturnType<typeof dnsAsker>;
  const same = () => replicas.read() === replicas.write();
  const listing = async () => (await get(`${replicas.read().url}/v1/apps/${appId}/services`)).body.records as Record<string, unknown>[];
  const beat = async () => {
    const url = `${replicas.write().url}/v1/apps/${appId}/services/${instance.serviceId}/heartbeat`;
    assert.equal((await post(url, serviceCall(appId, instance.serviceId, instance.instanceKey, { status: 'ok' }))).status, 200);
    return nowSeconds();
  };
  /** What the reading registry answers now: on one registry at once; at a replica once it heard (the change channel: milliseconds). */
  const seen = async (what: string, check: () => Promise<boolean>) => {
    if (same()) return assert.ok(await check(), what);
    await eventually(what, async () => ((await check()) ? true : undefined), 2000, 20);
  };

  before(async () => {
    ({ dev, appId } = await developerWithApp(replicas.write()));
    provider = await listedProvider(replicas.write());
    instance = await boundInstance(replicas.write(), dev, appId, provider);
    dns = dnsAsker(replicas.read().dnsPort as number);
  });
  after(() => dns?.close());

  it('keeps the HTTP listing and the DNS reply across seconds, also through a beat that changes no health', async () => {
    const { http, dnsReplies } = replicas.read().internals.lookups;
    await beat();
    // A replica hears of an instance's first beat once (it drops that app's answers then): let it.
    if (!same())
      await eventually(
        'the beat to reach the other replica',
        async () => (replicas.read().internals.liveness.size > 0 ? true : undefined),
        2000,
        20,
      );
    const first = nowSeconds() + 1;
    await untilSecond(first);
    assert.equal((await listing())[0]?.health, 'healthy');
    assert.equal((await dns.keys(appId)).length, 1);
    const hits = [http.hits, dnsReplies.hits];
    await beat();
    await sleep(300);
    await untilSecond(first + 1);
    assert.equal((await listing())[0]?.health, 'healthy');
    assert.equal((await dns.keys(appId)).length, 1);
    assert.deepEqual(
      [http.hits, dnsReplies.hits],
      [(hits[0] ?? 0) + 1, (hits[1] ?? 0) + 1],
      'both answered from what was kept a second before',
    );
  });

  it('drops the instance in the first second it has missed 3 intervals', async () => {
    const last = await beat();
    // The last healthy second: still listed.
    await untilSecond(last + 3 * INTERVAL, 200);
    assert.equal((await dns.keys(appId)).length, 1, 'healthy while within 3 intervals');
    await untilSecond(last + 3 * INTERVAL + 1, 50);
    assert.equal((await dns.keys(appId)).length, 0, 'gone from DNS the first second it is due');
    assert.equal((await listing())[0]?.health, 'unhealthy');
  });

  it('lists it again with its next beat', async () => {
    await beat();
    await seen('back in DNS', async () => (await dns.keys(appId)).length === 1);
    await seen('healthy over HTTP', async () => (await listing())[0]?.health === 'healthy');
  });

  it('shows a rotated key at once, and the old one in its grace period', async () => {
    await dns.keys(appId);
    await listing();
    const next = generateSigningKey();
    const answer = await post(
      `${replicas.write().url}/v1/apps/${appId}/services/${instance.serviceId}/key`,
      rotation(instance.instanceKey, next),
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await seen('the new key in DNS', async () => (await dns.keys(appId))[0] === next.publicKey);
    await seen('the new key over HTTP', async () => {
      const record = (await listing())[0];
      return record?.public_key === next.publicKey && record.previous_public_key === instance.instanceKey.publicKey;
    });
    instance = { ...instance, instanceKey: next };
  });

  it('drops a decommissioned instance at once', async () => {
    await dns.keys(appId);
    await listing();
    const kill = signEnvelope(
      'decommission',
      { app_id: appId, service_id: instance.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
      dev.master.privateKey,
    );
    assert.equal((await post(`${replicas.write().url}/v1/apps/${appId}/services/${instance.serviceId}/decommission`, kill)).status, 200);
    await seen('gone from DNS', async () => (await dns.keys(appId)).length === 0);
    await seen('gone from the listing', async () => (await listing()).length === 0);
  });

  function rotation(current: SigningKey, next: SigningKey) {
    const data = {
      app_id: appId,
      service_id: instance.serviceId,
      new_public_key: next.publicKey,
      rotation_timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'key_rotation',
    };
    return {
      version: '1.0',
      data,
      signature: sign('key_rotation', data, current.privateKey),
      new_key_signature: sign('key_rotation', data, next.privateKey),
    };
  }
}

// Rows merely due are written every 100 intervals: every answer that changes is a transition's.
const options = { heartbeatIntervalSeconds: INTERVAL, persistBeatsEveryIntervals: 100, dnsPort: 0 };

describe('kept Service DNS answers and their transitions (SQLite)', () => {
  const backend: Backend = sqliteBackend();
  let registry: RegistryHandle;
  before(async () => {
    registry = await backend.start(options);
  });
  after(async () => {
    await registry?.close();
    await backend.cleanup();
  });
  transitions({ write: () => registry, read: () => registry });
});

const pg = postgresBackend();

describe('kept Service DNS answers and their transitions (PostgreSQL)', { skip: pg.skip }, () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await pg.start(options);
  });
  after(async () => {
    await registry?.close();
    await pg.cleanup();
  });
  transitions({ write: () => registry, read: () => registry });
});

const redisUrl = process.env.SWARM_TEST_REDIS_URL;
const pgShared = postgresBackend();

describe('two replicas on one PostgreSQL and Redis: beats and writes at one, answers at the other', {
  skip: pgShared.skip || (redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set'),
}, () => {
  let a: RegistryHandle;
  let b: RegistryHandle;
  before(async () => {
    a = await pgShared.start({ ...options, redisUrl, dnsPort: false });
    b = await pgShared.start({ ...pgShared.shared(), ...options, redisUrl });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pgShared.cleanup();
  });
  transitions({ write: () => a, read: () => b });
});
