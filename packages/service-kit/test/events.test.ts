import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, type ProvisionedInstance, provisionInstance, type TestDeveloper } from '@swarm/dev-env';
import { generateSigningKey, newNonce, nowSeconds, privateKeyToPem, signEnvelope } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { postJson } from '@swarm/runtime';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, startCountingProxy, startNotes, startTestRegistry, tempDir, waitFor } from './helpers.js';

describe('registry events (SPEC §9.4)', () => {
  const dir = tempDir('kit-events');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;
  let instance: ProvisionedInstance;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    service = await startNotes(registry, join(dir.path, 'notes'), { heartbeatIntervalSeconds: 60 });
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
    instance = await provisionInstance(service, developer);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  const revocation = (origin: string, appId = developer.appId) => ({
    origin,
    event: 'SERVICE_REVOKED' as const,
    app_id: appId,
    service_id: instance.service_id,
    timestamp: nowSeconds(),
    nonce: newNonce(),
  });

  it('ignores forged, foreign and malformed broadcasts', async () => {
    const events = service.catalogEntry.events_url;
    const forged = await postJson(events, signEnvelope('broadcast', revocation(registry.authority), generateSigningKey().privateKey));
    assert.equal(forged.status, 401);
    assert.equal(errorCode(forged.body), 'invalid_signature');
    const foreign = await postJson(events, signEnvelope('broadcast', revocation('evil.test'), generateSigningKey().privateKey));
    assert.equal(errorCode(foreign.body), 'unknown_registry');
    const malformed = await postJson(events, { version: '1.0', data: { event: 'SERVICE_REVOKED' }, signature: 'x' });
    assert.equal(malformed.status, 400);
    assert.equal((await callApi(`${instance.endpoint_url}/notes`, await developer.token())).status, 200, 'still serving');
  });

  it('keeps its instances healthy with heartbeats', async () => {
    const beating = await startNotes(registry, join(dir.path, 'beating'), { provider: 'beating.kit.local' });
    try {
      await beating.registerOffer(registry.url, registry.adminToken);
      const alive = await provisionInstance(beating, developer);
      // The registry beats every second here, so a silent instance is unhealthy after 3 s.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const health = async (id: string) => {
        const records = (await (await fetch(`${registry.url}/v1/apps/${developer.appId}/services`)).json()) as {
          records: Array<{ service_id: string; health?: string }>;
        };
        return records.records.find((r) => r.service_id === id)?.health;
      };
      assert.equal(await health(alive.service_id), 'healthy');
      // The instance beating every 60 s goes quiet within 3 s of its last beat.
      await waitFor('the instance beating every 60 s to go quiet', async () => (await health(instance.service_id)) === 'unhealthy', 8_000);
      assert.equal(await health(alive.service_id), 'healthy');
    } finally {
      await beating.close();
    }
  });

  it('notices a newer config_epoch through heartbeats when broadcasts cannot reach it', async () => {
    const providerKey = generateSigningKey();
    const quiet = await startNotes(registry, join(dir.path, 'quiet'), { provider: 'quiet.kit.local', providerKey });
    try {
      // Its catalog entry names an events URL where nobody listens.
      const offer = signEnvelope(
        'offer',
        { ...quiet.catalogEntry, events_url: 'http://127.0.0.1:9/v1/events', timestamp: nowSeconds(), nonce: newNonce() },
        providerKey.privateKey,
      );
      const put = await fetch(`${registry.url}/v1/catalog/quiet.kit.local`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${registry.adminToken}` },
        body: JSON.stringify(offer),
      });
      assert.ok(put.status === 200 || put.status === 201, await put.text());
      const owner = await createTestDeveloper(registry.url);
      const quietInstance = await provisionInstance(quiet, owner);
      const url = `${quietInstance.endpoint_url}/notes`;
      // Spend the unknown-kid refresh, so only a heartbeat can bring the new Auth key.
      assert.equal((await callApi(url, await owner.token({ key: generateSigningKey() }))).status, 401);
      await owner.rotateAuthKey();
      const token = await owner.token();
      assert.equal((await callApi(url, token)).status, 401, 'not yet known');
      // The heartbeat (every second) sees the new epoch and refreshes.
      await waitFor('the heartbeat-driven refresh', async () => (await callApi(url, token)).status === 200);
    } finally {
      await quiet.close();
    }
  });

  it('acts on a repeated broadcast once (SPEC §9.4)', async () => {
    // A registry whose key the test holds, so it can send one broadcast twice.
    const registryKey = generateSigningKey();
    const keyFile = join(dir.path, 'registry-key.pem');
    writeFileSync(keyFile, privateKeyToPem(registryKey.privateKey), { mode: 0o600 });
    const own = await startTestRegistry(join(dir.path, 'own-registry'), { registryKeyFile: keyFile });
    const proxy = await startCountingProxy(own.url);
    const proxied = await startNotes({ ...own, url: proxy.url }, join(dir.path, 'once'), {
      heartbeatIntervalSeconds: 60,
      provider: 'once.kit.local',
    });
    try {
      await proxied.registerOffer(own.url, own.adminToken);
      const owner = await createTestDeveloper(own.url);
      await provisionInstance(proxied, owner);
      const refreshes = () => proxy.hits(/\/context$/);
      // An epoch far ahead of the registry's: every time it is acted on, the instance refreshes.
      const update = () =>
        signEnvelope(
          'broadcast',
          {
            origin: own.authority,
            event: 'BACKBONE_UPDATE',
            app_id: owner.appId,
            config_epoch: 1000,
            timestamp: nowSeconds(),
            nonce: newNonce(),
          },
          registryKey.privateKey,
        );
      const events = proxied.catalogEntry.events_url;
      const first = update();
      const before = refreshes();
      assert.equal((await postJson(events, first)).status, 202);
      assert.equal(refreshes(), before + 1, 'acted on');
      assert.equal((await postJson(events, first)).status, 202, 'a repeat is acknowledged');
      assert.equal(refreshes(), before + 1, 'and not acted on again');
      assert.equal((await postJson(events, update())).status, 202);
      assert.equal(refreshes(), before + 2, 'a new broadcast is acted on');
    } finally {
      await proxied.close();
      await proxy.close();
      await own.close();
    }
  });

  it('answers an unknown status URL with not_found', async () => {
    const answer = await fetch(`${service.catalogEntry.provision_url}/notes-doesnotexist`);
    assert.equal(answer.status, 404);
    assert.equal(errorCode(await answer.json()), 'not_found');
  });
});
