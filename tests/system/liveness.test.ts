import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { provision } from '@swarm/client';
import { crash, eventually, freePort, type Part, stop, tempDir } from '@swarm/dev-env';
import { startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import { dnsView } from './dns.js';
import { newDeveloper, serviceRecords, spawnFixture, writeProviderKey } from './swarm.js';

/** Every part of this test runs on loopback, which a part refuses to send to by default. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

/*
 * SPEC §9.2 liveness, black-box: a provider killed with SIGKILL stops beating, goes
 * `unhealthy` over HTTP and drops out of DNS answers after three missed intervals, and comes
 * back in both once it is restarted and beats again.
 */
describe('a killed provider leaves Service DNS and returns when restarted', () => {
  const registryDir = tempDir('liveness-registry');
  const serviceDir = tempDir('liveness-cms');
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let service: Part<{ url: string }> | undefined;
  let config: object;

  before(async () => {
    registry = await startRegistry({ dataDir: registryDir.path, heartbeatIntervalSeconds: 1, logLevel: false, egress: LOCAL_EGRESS });
    const providerKey = writeProviderKey(serviceDir.path);
    config = {
      port: await freePort(),
      dataDir: serviceDir.path,
      providerKeyFile: providerKey.file,
      trusted: [{ authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey }],
      adminToken: registry.adminToken,
      heartbeatIntervalSeconds: 1,
    };
    service = await spawnFixture<{ url: string }>('cms', 'cms-service.ts', config);
  });
  after(async () => {
    await stop(service);
    await registry.close();
    registryDir.remove();
    serviceDir.remove();
  });

  it('drops out after 3 missed heartbeats and is back after a restart', async () => {
    const developer = await newDeveloper(registry.url, 'liveness');
    const instance = await provision(
      { registry: registry.url },
      { appId: developer.appId, serviceType: 'cms-article', master: developer.master, tier: 'free', region: 'local' },
    );
    const dnsPort = registry.dnsPort as number;
    const listed = async (transport: 'udp' | 'tcp') => (await dnsView(dnsPort, developer.appId, 'cms-article', transport)).serviceIds;
    assert.deepEqual(await listed('udp'), [instance.service_id]);

    await crash(service);
    await eventually(
      'the instance to turn unhealthy',
      async () => ((await serviceRecords(registry.url, developer.appId))[0]?.health === 'unhealthy' ? true : undefined),
      15_000,
    );
    assert.deepEqual(await listed('udp'), []);
    assert.deepEqual(await listed('tcp'), []);
    // Still listed over HTTP, flagged: an operator can see what is missing.
    assert.equal((await serviceRecords(registry.url, developer.appId)).length, 1);

    service = await spawnFixture<{ url: string }>('cms', 'cms-service.ts', config);
    await eventually('the instance to be listed again', async () => ((await listed('udp')).length === 1 ? true : undefined), 15_000);
    assert.deepEqual(await listed('tcp'), [instance.service_id]);
    assert.equal((await serviceRecords(registry.url, developer.appId))[0]?.health, 'healthy');
  });
});
