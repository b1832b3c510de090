import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { appDnsZone, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
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
    assert.equal(srv[0]!.name, '127.0.0.1');
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
});
