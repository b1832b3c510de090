import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { appDnsZone } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import type { RegistryHandle } from '../src/index.js';
import { type Backend, boundInstance, developerWithApp, listedProvider, sqliteBackend } from './helpers.js';

/** `labels → value` of one family in a /metrics text. */
async function family(registry: RegistryHandle, name: string): Promise<Map<string, number>> {
  const response = await fetch(`${registry.url}/metrics`, { headers: { authorization: `Bearer ${registry.adminToken}` } });
  assert.equal(response.status, 200);
  const values = new Map<string, number>();
  for (const match of (await response.text()).matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)$`, 'gm')))
    values.set(match[1] as string, Number(match[2]));
  return values;
}

/** Sends `count` SRV queries one after another over UDP, each waiting for its reply. */
async function ask(port: number, name: string, count: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    for (let id = 1; id <= count; id++) {
      await new Promise<void>((resolve) => {
        socket.once('message', () => resolve());
        socket.send(dnsPacket.encode({ id, type: 'query', questions: [{ type: 'SRV', name }] }), port, '127.0.0.1');
      });
    }
  } finally {
    socket.close();
  }
}

const SRV_UDP = 'type="SRV",rcode="NOERROR",transport="udp"';

describe('Service DNS metrics', () => {
  const backend: Backend = sqliteBackend();
  let registry: RegistryHandle;
  before(async () => {
    registry = await backend.start({ dnsPort: 0 });
  });
  after(async () => {
    await registry?.close();
    await backend.cleanup();
  });

  it('counts every query, kept replies too, exactly at each scrape', async () => {
    const provider = await listedProvider(registry);
    const { dev, appId } = await developerWithApp(registry);
    await boundInstance(registry, dev, appId, provider);
    const name = `_cms-article._tcp.${appDnsZone(appId).slice(0, -1)}`;
    const port = registry.dnsPort as number;
    const replies = (values: Map<string, number>) =>
      (values.get('cache="dns_replies",result="hit"') ?? 0) + (values.get('cache="dns_replies",result="miss"') ?? 0);

    const queriesBefore = (await family(registry, 'swarm_dns_queries_total')).get(SRV_UDP) ?? 0;
    const lookupsBefore = replies(await family(registry, 'swarm_cache_requests_total'));
    await ask(port, name, 25);
    assert.equal((await family(registry, 'swarm_dns_queries_total')).get(SRV_UDP), queriesBefore + 25);
    const caches = await family(registry, 'swarm_cache_requests_total');
    assert.equal(replies(caches), lookupsBefore + 25, 'each query looked its reply up once');
    assert.ok((caches.get('cache="dns_replies",result="hit"') ?? 0) > 0, 'most were kept replies');
    await ask(port, name, 7);
    assert.equal(
      (await family(registry, 'swarm_dns_queries_total')).get(SRV_UDP),
      queriesBefore + 32,
      'a second scrape adds what came since',
    );
  });
});
