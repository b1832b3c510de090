import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { appDnsZone, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import { type RegistryHandle, startRegistry } from '../src/index.js';
import { boundInstance, developerWithApp, get, listedProvider, post } from './helpers.js';

describe('Service DNS wired to storage', () => {
  let registry: RegistryHandle;
  let resolver: Resolver;
  before(async () => {
    registry = await startRegistry({ logLevel: false, dnsPort: 0 });
    resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${registry.dnsPort}`]);
  });
  after(() => registry.close());

  it('announces the DNS port and answers SRV/TXT for bound instances, and drops revoked ones', async () => {
    assert.equal((await get(`${registry.url}/.well-known/swarm-registry`)).body.dns_port, registry.dnsPort);
    const { dev, appId } = await developerWithApp(registry);
    const provider = await listedProvider(registry);
    const bound = await boundInstance(registry, dev, appId, provider);
    const zone = appDnsZone(appId).slice(0, -1);
    const srv = await resolver.resolveSrv(`_cms-article._tcp.${zone}`);
    assert.equal(srv.length, 1);
    assert.equal(srv[0]!.name, `${bound.serviceId}.${zone}`);
    assert.deepEqual(await resolver.resolve4(srv[0]!.name), ['127.0.0.1']);
    const txt = (await resolver.resolveTxt(`_cms-article._tcp.${zone}`)).flat();
    assert.ok(txt.includes(`service_id=${bound.serviceId}`));
    assert.ok(txt.includes(`public_key=${bound.instanceKey.publicKey}`));
    await assert.rejects(resolver.resolveSrv(`_cms-article._tcp.nohash1234.business_app.${dev.namespace}.swarm.local`), {
      code: 'ENOTFOUND',
    });

    const kill = signEnvelope(
      'decommission',
      { app_id: appId, service_id: bound.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
      dev.master.privateKey,
    );
    assert.equal((await post(`${registry.url}/v1/apps/${appId}/services/${bound.serviceId}/decommission`, kill)).status, 200);
    await assert.rejects(resolver.resolveSrv(`_cms-article._tcp.${zone}`));
  });

  it('answers a repeated question with its own ID, and a new binding at once', async () => {
    const { dev, appId } = await developerWithApp(registry);
    const provider = await listedProvider(registry);
    await boundInstance(registry, dev, appId, provider);
    const name = `_cms-article._tcp.${appDnsZone(appId).slice(0, -1)}`;
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const ask = (id: number) =>
      new Promise<dnsPacket.Packet>((resolve) => {
        socket.once('message', (message) => resolve(dnsPacket.decode(message)));
        socket.send(dnsPacket.encode({ id, type: 'query', questions: [{ type: 'SRV', name }] }), registry.dnsPort as number, '127.0.0.1');
      });
    try {
      const first = await ask(101);
      const second = await ask(202);
      assert.deepEqual([first.id, second.id], [101, 202]);
      assert.equal(second.answers?.length, 1);
      assert.deepEqual(second.answers, first.answers);
      // Within the same second: the kept reply must not hide the binding just made.
      await boundInstance(registry, dev, appId, provider);
      assert.equal((await ask(303)).answers?.length, 2);
    } finally {
      socket.close();
    }
  });
});
