import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, type TestDeveloper } from '@swarm/dev-env';
import { newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { getJson, postJson } from '@swarm/runtime';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, PROVIDER, startNotes, startTestRegistry, tempDir } from './helpers.js';

describe('instance quotas per app and per namespace', () => {
  const dir = tempDir('kit-quotas');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'), {
      instanceQuotas: { free: { perApp: 2, perNamespace: 3 } },
    });
    service = await startNotes(registry, join(dir.path, 'notes'));
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  const activeAtRegistry = async (appId: string) =>
    ((await getJson(`${registry.url}/v1/apps/${appId}/services`)).body as { records: unknown[] }).records.length;

  it('refuses the N+1st free instance of an app with 422 quota_exceeded and creates nothing', async () => {
    for (let i = 0; i < 2; i++) {
      const ok = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER, { service_tier: 'free' }));
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
    }
    const refused = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER, { service_tier: 'free' }));
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(errorCode(refused.body), 'quota_exceeded');
    assert.equal(await activeAtRegistry(developer.appId), 2, 'the registry bound nothing more');
    // Another tier has its own quota.
    const pro = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER, { service_tier: 'pro_cluster' }));
    assert.equal(pro.status, 201, JSON.stringify(pro.body));
  });

  it('counts every app of the namespace against the namespace quota', async () => {
    const manifest = signEnvelope(
      'app',
      {
        owner_namespace: developer.namespace,
        project_slug: 'second_app',
        display_name: 'Second',
        timestamp: nowSeconds(),
        nonce: newNonce(),
      },
      developer.master.privateKey,
    );
    const registered = await postJson(`${registry.url}/v1/apps`, manifest);
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const appId = (registered.body as { app_id: string }).app_id;
    const provision = () =>
      postJson(
        service.catalogEntry.provision_url,
        signEnvelope(
          'provision',
          { app_id: appId, target_provider: PROVIDER, service_tier: 'free', region: 'local', timestamp: nowSeconds(), nonce: newNonce() },
          developer.master.privateKey,
        ),
      );
    assert.equal((await provision()).status, 201, 'the third free instance of the namespace');
    const refused = await provision();
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(errorCode(refused.body), 'quota_exceeded');
    assert.equal(await activeAtRegistry(appId), 1);
  });
});

describe('the * quota stands for every tier not named', () => {
  const dir = tempDir('kit-quotas-star');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'), {
      instanceQuotas: { free: { perApp: 3, perNamespace: 3 }, '*': { perApp: 1, perNamespace: 10 } },
    });
    service = await startNotes(registry, join(dir.path, 'notes'));
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('applies * to an unnamed tier and the named quota to its own tier, each counted apart', async () => {
    const provision = (service_tier: string) =>
      postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER, { service_tier }));
    assert.equal((await provision('pro_cluster')).status, 201);
    const refused = await provision('pro_cluster');
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(errorCode(refused.body), 'quota_exceeded');
    // The named tier is not held to `*`'s one instance.
    for (let i = 0; i < 3; i++) assert.equal((await provision('free')).status, 201, `free instance ${i + 1}`);
    assert.equal(errorCode((await provision('free')).body), 'quota_exceeded');
  });
});
