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

/** Each way a provider beats goes through the same health transitions. */
const observed = new Map<string, string[]>();

/*
 * SPEC §9.2 liveness, black-box: a provider killed with SIGKILL stops beating, goes
 * `unhealthy` over HTTP and drops out of DNS answers after three missed intervals, and comes
 * back in both once it is restarted and beats again; with provider heartbeats (one signed batch
 * per interval) and with one signed beat per instance alike.
 */
for (const heartbeats of ['batch', 'instance'] as const) {
  describe(`a killed provider leaves Service DNS and returns when restarted (${heartbeats} heartbeats)`, () => {
    const registryDir = tempDir('liveness-registry');
    const serviceDir = tempDir('liveness-cms');
    let registry: Awaited<ReturnType<typeof startRegistry>>;
    let service: Part<{ url: string }> | undefined;
    let config: object;
    const beatRequests = { batch: 0, instance: 0 };

    before(async () => {
      registry = await startRegistry({ dataDir: registryDir.path, heartbeatIntervalSeconds: 1, logLevel: false, egress: LOCAL_EGRESS });
      registry.app.server.on('request', (request) => {
        if (request.url?.endsWith('/heartbeats')) beatRequests.batch++;
        else if (request.url?.endsWith('/heartbeat')) beatRequests.instance++;
      });
      const providerKey = writeProviderKey(serviceDir.path);
      config = {
        port: await freePort(),
        dataDir: serviceDir.path,
        providerKeyFile: providerKey.file,
        trusted: [{ authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey }],
        adminToken: registry.adminToken,
        heartbeatIntervalSeconds: 1,
        heartbeats,
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
      const transitions: string[] = [];
      observed.set(heartbeats, transitions);
      const developer = await newDeveloper(registry.url, `liveness-${heartbeats}`);
      const instance = await provision(
        { registry: registry.url },
        { appId: developer.appId, serviceType: 'cms-article', master: developer.master, tier: 'free', region: 'local' },
      );
      const dnsPort = registry.dnsPort as number;
      const listed = async (transport: 'udp' | 'tcp') => (await dnsView(dnsPort, developer.appId, 'cms-article', transport)).serviceIds;
      const health = async () => (await serviceRecords(registry.url, developer.appId))[0]?.health;
      assert.deepEqual(await listed('udp'), [instance.service_id]);
      transitions.push(`${await health()} listed`);
      // Beating for two intervals keeps it listed, beats of the chosen kind only.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await health(), 'healthy');
      assert.ok(beatRequests[heartbeats] > 0, `${heartbeats} beats arrived`);
      assert.equal(beatRequests[heartbeats === 'batch' ? 'instance' : 'batch'], 0, 'none of the other kind');

      await crash(service);
      await eventually('the instance to turn unhealthy', async () => ((await health()) === 'unhealthy' ? true : undefined), 15_000);
      assert.deepEqual(await listed('udp'), []);
      assert.deepEqual(await listed('tcp'), []);
      // Still listed over HTTP, flagged: an operator can see what is missing.
      assert.equal((await serviceRecords(registry.url, developer.appId)).length, 1);
      transitions.push('unhealthy unlisted');

      service = await spawnFixture<{ url: string }>('cms', 'cms-service.ts', config);
      await eventually('the instance to be listed again', async () => ((await listed('udp')).length === 1 ? true : undefined), 15_000);
      assert.deepEqual(await listed('tcp'), [instance.service_id]);
      assert.equal(await health(), 'healthy');
      transitions.push('healthy listed');
      // The registry wrote the transitions, not every beat: far fewer rows than beats.
      assert.ok(registry.internals.liveness.writes <= 4, `${registry.internals.liveness.writes} rows written`);
    });
  });
}

describe('batched and per-instance beats', () => {
  it('went through the same health transitions', () => {
    assert.deepEqual(observed.get('batch'), ['healthy listed', 'unhealthy unlisted', 'healthy listed']);
    assert.deepEqual(observed.get('instance'), observed.get('batch'));
  });
});
