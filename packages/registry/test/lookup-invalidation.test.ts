import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@swarm/dev-env';
import { appDnsZone } from '@swarm/protocol';
import { openDatabase } from '@swarm/runtime';
import dnsPacket from 'dns-packet';
import { sql } from 'kysely';
import type { RegistryHandle } from '../src/index.js';
import {
  appManifest,
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

/** Runs `steps` at the start of a fresh second, so answers kept for their second are all still kept. */
async function withinOneSecond(steps: () => Promise<void>): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
  const second = Math.floor(Date.now() / 1000);
  await steps();
  assert.equal(Math.floor(Date.now() / 1000), second, 'the steps fit in one second');
}

function dnsAsker(port: number) {
  const socket: Socket = createSocket('udp4');
  const ready = new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let id = 1;
  return {
    async srv(appId: string): Promise<number> {
      await ready;
      const name = `_cms-article._tcp.${appDnsZone(appId).slice(0, -1)}`;
      const answer = await new Promise<dnsPacket.Packet>((resolve) => {
        socket.once('message', (message) => resolve(dnsPacket.decode(message)));
        socket.send(dnsPacket.encode({ id: id++, type: 'query', questions: [{ type: 'SRV', name }] }), port, '127.0.0.1');
      });
      return answer.answers?.length ?? 0;
    },
    close: () => socket.close(),
  };
}

const countOf = async (registry: RegistryHandle, appId: string) =>
  (await get(`${registry.url}/v1/apps/${appId}/services`)).body.records.length;

/** Two apps with one instance each; `a` gets the writes, `b` must keep its kept answers. */
async function twoApps(registry: RegistryHandle, provider: Provider) {
  const { dev, appId: a } = await developerWithApp(registry);
  const b = (await post(`${registry.url}/v1/apps`, appManifest(dev, 'other_app'))).body.app_id as string;
  await boundInstance(registry, dev, a, provider);
  const bInstance = await boundInstance(registry, dev, b, provider);
  return { dev, a, b, bInstance };
}

describe('lookup answers survive writes to other apps (SQLite)', () => {
  const backend: Backend = sqliteBackend();
  let registry: RegistryHandle;
  let provider: Provider;
  before(async () => {
    registry = await backend.start({ dnsPort: 0 });
    provider = await listedProvider(registry);
  });
  after(async () => {
    await registry?.close();
    await backend.cleanup();
  });

  it("a write to app A keeps app B's HTTP answer and DNS reply, and A's change shows at once", async () => {
    const { dev, a, b } = await twoApps(registry, provider);
    const dns = dnsAsker(registry.dnsPort as number);
    const { http, dnsReplies } = registry.internals.lookups;
    try {
      await withinOneSecond(async () => {
        assert.equal(await countOf(registry, b), 1);
        assert.equal(await dns.srv(b), 1);
        assert.equal(await countOf(registry, a), 1);
        assert.equal(await dns.srv(a), 1);
        const [httpHits, dnsHits] = [http.hits, dnsReplies.hits];
        await boundInstance(registry, dev, a, provider);
        assert.equal(await countOf(registry, b), 1);
        assert.equal(await dns.srv(b), 1);
        assert.deepEqual([http.hits, dnsReplies.hits], [httpHits + 1, dnsHits + 1], "B's answers were kept");
        assert.equal(await countOf(registry, a), 2, "A's listing changed at once");
        assert.equal(await dns.srv(a), 2, "A's DNS answer changed at once");
        assert.deepEqual([http.hits, dnsReplies.hits], [httpHits + 1, dnsHits + 1], "A's answers were built anew");
      });
    } finally {
      dns.close();
    }
  });

  it("a beat that changes no health keeps the app's DNS reply and HTTP listing", async () => {
    const { b, bInstance } = await twoApps(registry, provider);
    const dns = dnsAsker(registry.dnsPort as number);
    const { http, dnsReplies } = registry.internals.lookups;
    try {
      await withinOneSecond(async () => {
        await countOf(registry, b);
        await dns.srv(b);
        const [httpHits, dnsHits] = [http.hits, dnsReplies.hits];
        const beat = `${registry.url}/v1/apps/${b}/services/${bInstance.serviceId}/heartbeat`;
        assert.equal((await post(beat, serviceCall(b, bInstance.serviceId, bInstance.instanceKey, { status: 'ok' }))).status, 200);
        assert.equal(await dns.srv(b), 1);
        assert.equal(await countOf(registry, b), 1);
        assert.deepEqual([http.hits, dnsReplies.hits], [httpHits + 1, dnsHits + 1]);
      });
    } finally {
      dns.close();
    }
  });

  it('a commit by another process to the same file empties everything', async () => {
    const { a, b } = await twoApps(registry, provider);
    const other = openDatabase<{ registry_settings: { name: string; value: string } }>({ file: `${backend.shared().dataDir}/registry.db` });
    const dns = dnsAsker(registry.dnsPort as number);
    const { http, dnsReplies } = registry.internals.lookups;
    try {
      await withinOneSecond(async () => {
        await countOf(registry, a);
        await countOf(registry, b);
        await dns.srv(b);
        assert.equal(await dns.srv(b), 1);
        const hits = [http.hits, dnsReplies.hits];
        await sql`insert into registry_settings (name, value) values ('another_process', 'was here')`.execute(other.db);
        await countOf(registry, b);
        // A kept UDP reply reads the stamp once per event-loop turn: the query is read in a later one.
        assert.equal(await dns.srv(b), 1);
        assert.deepEqual([http.hits, dnsReplies.hits], hits, 'built anew after a commit nobody announced');
      });
    } finally {
      dns.close();
      await other.close();
    }
  });
});

const pg = postgresBackend();

describe('lookup answers on two PostgreSQL replicas', { skip: pg.skip }, () => {
  let one: RegistryHandle;
  let two: RegistryHandle;
  let provider: Provider;
  let dev: Developer;
  before(async () => {
    one = await pg.start();
    two = await pg.start({ ...pg.shared(), dnsPort: false });
    provider = await listedProvider(one);
  });
  after(async () => {
    await one?.close();
    await two?.close();
    await pg.cleanup();
  });

  it("a write to app A through one replica drops A's answers at the other, and keeps B's", async () => {
    const apps = await twoApps(one, provider);
    dev = apps.dev;
    const { a, b } = apps;
    const { http } = two.internals.lookups;
    assert.ok(two.internals.changes?.listening, 'the change channel listens');
    await withinOneSecond(async () => {
      assert.equal(await countOf(two, a), 1);
      assert.equal(await countOf(two, b), 1);
      assert.equal(await countOf(two, b), 1);
      const hits = http.hits;
      assert.ok(hits > 0, 'kept on PostgreSQL');
      await boundInstance(one, dev, a, provider);
      // The notification arrives after the commit, within milliseconds (never later than the kept second).
      await eventually('the other replica to see the new instance', async () => ((await countOf(two, a)) === 2 ? true : undefined), 900, 5);
      const before = http.hits;
      assert.equal(await countOf(two, b), 1);
      assert.equal(http.hits, before + 1, "B's answer was kept");
    });
  });

  it('keeps nothing while its change channel is down, and keeps again once it is back', async () => {
    const { a } = await twoApps(one, provider);
    const channel = two.internals.changes;
    assert.ok(channel);
    channel.interrupt();
    assert.equal(channel.listening, false);
    const { http } = two.internals.lookups;
    const hits = http.hits;
    await countOf(two, a);
    await countOf(two, a);
    assert.equal(http.hits, hits, 'nothing kept without the channel');
    await eventually('the channel to listen again', async () => (channel.listening ? true : undefined), 10_000);
    await withinOneSecond(async () => {
      await countOf(two, a);
      await countOf(two, a);
      assert.equal(http.hits, hits + 1);
    });
  });
});
