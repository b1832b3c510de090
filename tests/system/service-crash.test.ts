// Issue "Fault tolerance" (b) a service killed with SIGKILL while usage is pending, and (c) the
// registry down while the service restarts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { provision, provisionAuth, usage, userToken } from '@swarm/client';
import { crash, freePort, freePortRun, type Part, spawnSwarm, stop, tempDir } from '@swarm/dev-env';
import type { CmsServiceConfig } from './fixtures/cms-service.js';
import {
  adminTokenOf,
  type Developer,
  errorCode,
  http,
  newDeveloper,
  provisionRequest,
  type RegistrySummary,
  startBackbone,
  startFixtureService,
  startRegistry,
  trustOf,
  writeProviderKey,
} from './swarm.js';

/**
 * Billing's count once the service's outbox is empty: unchanged over many flush intervals
 * (longer when it is still short of `expected`, in case a batch is on its way).
 */
async function settled(probe: () => Promise<number>, expected: number): Promise<number> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    const now = await probe();
    if (now !== last) [last, stableSince] = [now, Date.now()];
    const quietFor = Date.now() - stableSince;
    if (quietFor > (now >= expected ? 3000 : 8000)) break;
    await sleep(400);
  }
  return last;
}

describe('a service killed by SIGKILL with usage pending, then restarted while the registry is down', () => {
  const dir = tempDir('service-crash');
  let registry: Part<RegistrySummary> | undefined;
  let backbone: Part | undefined;
  let service: Part | undefined;
  let serviceConfig: CmsServiceConfig;
  let developer: Developer;
  let endpoint: string;
  let serviceId: string;
  let token: string;
  let answeredCalls = 0;
  let billed = 0;

  const client = () => ({ registry: registry!.ready.url });
  const call = async (method: 'GET' | 'POST') => {
    const body = method === 'POST' ? { title: `article ${answeredCalls}`, body: 'text' } : undefined;
    const answer = await http(method, `${endpoint}/articles`, body, { authorization: `Bearer ${token}` });
    assert.ok(answer.status === 200 || answer.status === 201, `${method} articles: ${answer.status} ${JSON.stringify(answer.body)}`);
    answeredCalls++;
    return answer;
  };
  const billedRequests = async () => {
    const answer = await usage(client(), { appId: developer.appId, master: developer.master, serviceId });
    return answer.app_totals.find((total) => total.metric === 'requests')?.value ?? 0;
  };

  before(async () => {
    const backbonePort = await freePortRun(3);
    registry = await startRegistry('registry', {
      dataDir: join(dir.path, 'registry'),
      billingUrl: `http://127.0.0.1:${backbonePort + 1}`,
      loggingUrl: `http://127.0.0.1:${backbonePort + 2}`,
    });
    serviceConfig = {
      port: await freePort(),
      dataDir: join(dir.path, 'cms'),
      providerKeyFile: writeProviderKey(dir.path).file,
      trusted: [trustOf(registry.ready)],
      adminToken: adminTokenOf(registry.ready),
      heartbeatIntervalSeconds: 2,
      // First life: nothing is flushed before the kill, so every counted request is still pending.
      reportFlushSeconds: 3600,
    };
    [backbone, service] = await Promise.all([
      startBackbone('backbone', { registry: registry.ready, port: backbonePort, dataDir: join(dir.path, 'backbone') }),
      startFixtureService('cms-article', serviceConfig),
    ]);
    developer = await newDeveloper(registry.ready.url);
    await provisionAuth(client(), { appId: developer.appId, master: developer.master });
    const instance = await provision(client(), {
      appId: developer.appId,
      serviceType: 'cms-article',
      master: developer.master,
      tier: 'free',
      region: 'local',
    });
    assert.ok(instance.endpoint_url, 'an active instance has an endpoint');
    endpoint = instance.endpoint_url;
    serviceId = instance.service_id;
    token = (await userToken(client(), { appId: developer.appId, sub: 'editor', master: developer.master })).access_token;
  });

  after(async () => {
    await Promise.all([stop(service), stop(backbone)]);
    await stop(registry);
    dir.remove();
  });

  it('survives two SIGKILLs: before any flush, and amid frequent flushes', async () => {
    for (let i = 0; i < 12; i++) await call(i % 3 === 0 ? 'POST' : 'GET');
    await crash(service);

    service = await startFixtureService('cms-article (2nd life)', { ...serviceConfig, reportFlushSeconds: 0.25 });
    for (let i = 0; i < 12; i++) {
      await call(i % 3 === 0 ? 'POST' : 'GET');
      await sleep(60);
    }
    // Right after the last answer: some usage pending, maybe a batch on the wire.
    await crash(service);

    service = await startFixtureService('cms-article (3rd life)', { ...serviceConfig, reportFlushSeconds: 0.25 });
    billed = await settled(billedRequests, answeredCalls);
    assert.equal(answeredCalls, 24);
  });

  it('counts no usage twice', () => {
    assert.ok(billed <= answeredCalls, `billing counted ${billed} requests, the service answered ${answeredCalls}`);
  });

  it('loses no usage', () => {
    assert.equal(billed, answeredCalls, `billing counted ${billed} requests, the service answered ${answeredCalls}`);
  });

  it('restarts while the registry is down and serves its bound instance from the persisted context', async () => {
    await crash(registry);
    await stop(service);
    const trustFile = join(dir.path, 'trust.json');
    writeFileSync(trustFile, JSON.stringify(serviceConfig.trusted));
    service = await spawnSwarm('cms-article (registry down)', [
      'service',
      'cms-article',
      ...['--trust', trustFile, '--port', String(serviceConfig.port), '--data', serviceConfig.dataDir],
      ...['--provider-key', serviceConfig.providerKeyFile],
    ]);
    const listed = await call('GET');
    assert.ok(listed.body.articles.length >= 8, 'the articles written before the restarts');
    await call('POST');
    // What needs the registry fails cleanly: a new provisioning cannot fetch the Master key.
    const fresh = await http('POST', `http://127.0.0.1:${serviceConfig.port}/v1/instances`, provisionRequest(developer));
    assert.ok(
      fresh.status === 202 || (fresh.status === 503 && errorCode(fresh) === 'registry_unavailable'),
      `provisioning without a registry: ${fresh.status} ${JSON.stringify(fresh.body)}`,
    );
  });
});
