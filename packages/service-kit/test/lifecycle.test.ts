import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance } from '@swarm/dev-env';
import { generateSigningKey, newNonce, nowSeconds, signEnvelope, verify } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { getJson, postJson, requestJson } from '@swarm/runtime';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, PROVIDER, startNotes, startTestRegistry, tempDir, waitFor } from './helpers.js';

interface ServiceRecord {
  service_id: string;
  public_key: string;
}

describe('instance lifecycle (SPEC §5.1–5.3, §9.2, §10.1, §11)', () => {
  const dir = tempDir('kit-lifecycle');
  const running: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const part of running.reverse()) await part.close().catch(() => {});
    dir.remove();
  });
  const keep = <T extends { close(): Promise<void> }>(part: T): T => {
    running.push(part);
    return part;
  };
  const records = async (registry: { url: string }, appId: string) =>
    ((await getJson(`${registry.url}/v1/apps/${appId}/services`)).body as { records: ServiceRecord[] }).records;

  it('answers 202 while the registry is down and becomes active once it is back', async () => {
    const registryDir = join(dir.path, 'registry-down');
    let registry: RegistryHandle = await startTestRegistry(registryDir);
    const port = Number(new URL(registry.url).port);
    const service = keep(await startNotes(registry, join(dir.path, 'notes-down')));
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    await provisionInstance(service, developer); // caches the Master key (≤ 60 s)
    await registry.close();

    const answer = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER));
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const pending = answer.body as { service_id: string; status: string; status_url: string };
    assert.equal(pending.status, 'binding');
    assert.equal(pending.status_url, `${service.url}/v1/instances/${pending.service_id}`);
    assert.equal(((await getJson(pending.status_url)).body as { status: string }).status, 'binding');
    await new Promise((resolve) => setTimeout(resolve, 300));

    registry = keep(await startTestRegistry(registryDir, { port }));
    await waitFor('the binding to land', async () => ((await getJson(pending.status_url)).body as { status: string }).status === 'active');
    const token = await developer.token();
    assert.equal((await callApi(`${service.url}/i/${pending.service_id}/api/v1/notes`, token)).status, 200);
    assert.ok((await records(registry, developer.appId)).some((r) => r.service_id === pending.service_id));
  });

  it('resumes a pending binding after its own restart', async () => {
    const registryDir = join(dir.path, 'registry-resume');
    const registry = await startTestRegistry(registryDir);
    const registryPort = Number(new URL(registry.url).port);
    const dataDir = join(dir.path, 'notes-resume');
    const service = await startNotes(registry, dataDir);
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    await provisionInstance(service, developer);
    await registry.close();
    const answer = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER));
    assert.equal(answer.status, 202);
    const { service_id: serviceId } = answer.body as { service_id: string };
    await service.close();

    const back = keep(await startTestRegistry(registryDir, { port: registryPort }));
    const restarted = keep(await startNotes(back, dataDir, { port: Number(new URL(service.url).port) }));
    await waitFor(
      'the resumed binding to land',
      async () => ((await getJson(`${restarted.catalogEntry.provision_url}/${serviceId}`)).body as { status: string }).status === 'active',
    );
    assert.ok((await records(back, developer.appId)).some((r) => r.service_id === serviceId));
  });

  it('removes the instance and ends failed when the registry refuses the binding', async () => {
    const registry = keep(await startTestRegistry(join(dir.path, 'registry-refuse')));
    // This provider never put its offer in the catalog, so the registry refuses its bindings.
    const service = keep(await startNotes(registry, join(dir.path, 'notes-refuse'), { provider: 'unlisted.kit.local' }));
    const developer = await createTestDeveloper(registry.url);
    const answer = await postJson(service.catalogEntry.provision_url, developer.provisionRequest('unlisted.kit.local'));
    assert.equal(answer.status, 404, JSON.stringify(answer.body));
    assert.equal(errorCode(answer.body), 'unknown_provider');
    assert.deepEqual(await records(registry, developer.appId), []);
    // The failed instance is visible on its status URL and serves nothing.
    const sqlite = await import('better-sqlite3');
    const db = new sqlite.default(join(dir.path, 'notes-refuse', 'notes.db'), { readonly: true });
    const rows = db.prepare('select service_id, status, error_code, instance_key from kit_instances').all() as Array<
      Record<string, unknown>
    >;
    db.close();
    assert.equal(rows.length, 1);
    assert.deepEqual(
      { ...rows[0], service_id: undefined },
      { service_id: undefined, status: 'failed', error_code: 'unknown_provider', instance_key: null },
    );
    const status = (await getJson(`${service.url}/v1/instances/${rows[0]?.service_id}`)).body as {
      status: string;
      error: { code: string };
    };
    assert.equal(status.status, 'failed');
    assert.equal(status.error.code, 'unknown_provider');
    assert.equal((await callApi(`${service.url}/i/${rows[0]?.service_id}/api/v1/notes`, await developer.token())).status, 404);
  });

  it('serves bound instances from the persisted context after a restart with the registry down', async () => {
    const registry = await startTestRegistry(join(dir.path, 'registry-restart'));
    const dataDir = join(dir.path, 'notes-restart');
    let service = await startNotes(registry, dataDir);
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const token = await developer.token();
    assert.equal((await callApi(`${instance.endpoint_url}/notes`, token, { method: 'POST', json: { text: 'kept' } })).status, 201);
    const publicKey = service.publicKey;
    await service.close();
    await registry.close();

    service = keep(await startNotes(registry, dataDir, { port: Number(new URL(service.url).port) }));
    assert.equal(service.publicKey, publicKey, 'the provider key is kept in the data dir');
    const list = await waitFor('the restarted service to answer', () => callApi(`${instance.endpoint_url}/notes`, token));
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body as { notes: Array<{ text: string }> }).notes.map((n) => n.text),
      ['kept'],
    );
  });

  it('terminates with a signed receipt: retain answers 410, wipe answers 404', async () => {
    const registry = keep(await startTestRegistry(join(dir.path, 'registry-exit')));
    const service = keep(await startNotes(registry, join(dir.path, 'notes-exit')));
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const other = await createTestDeveloper(registry.url);
    const token = await developer.token();
    for (const handling of ['retain', 'wipe'] as const) {
      const instance = await provisionInstance(service, developer);
      const url = `${service.catalogEntry.provision_url}/${instance.service_id}`;
      assert.equal((await callApi(`${instance.endpoint_url}/notes`, token, { method: 'POST', json: { text: 'x' } })).status, 201);

      const forged = { ...developer.terminationRequest(instance.service_id, handling) };
      forged.signature = signEnvelope('permanent_termination', forged.data, other.master.privateKey).signature;
      const refused = await requestJson('DELETE', url, forged);
      assert.equal(refused.status, 401);
      assert.equal(errorCode(refused.body), 'invalid_signature');
      const wrongApp = await requestJson('DELETE', url, { ...other.terminationRequest(instance.service_id, handling) });
      assert.equal(wrongApp.status, 404);
      assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200, 'refused terminations change nothing');

      const request = developer.terminationRequest(instance.service_id, handling);
      const answer = await requestJson('DELETE', url, request);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const receipt = answer.body as { version: string; data: Record<string, unknown>; signature: string };
      assert.equal(receipt.data.status, 'success');
      assert.equal(receipt.data.service_id, instance.service_id);
      const record = (await records(registry, developer.appId)).find((r) => r.service_id === instance.service_id);
      assert.ok(
        record && verify('termination_receipt', receipt.data, receipt.signature, record.public_key),
        'receipt signed by the instance key',
      );
      assert.equal(errorCode((await requestJson('DELETE', url, request)).body), 'nonce_reused');

      const after = await callApi(`${instance.endpoint_url}/notes`, token);
      assert.equal(after.status, handling === 'wipe' ? 404 : 410);
      assert.equal(errorCode(after.body), handling === 'wipe' ? 'not_found' : 'gone');
      assert.equal(((await getJson(url)).body as { status: string }).status, 'revoked');

      // Revocation with the receipt (SPEC §11 step 2) is accepted by the registry.
      const decommission = signEnvelope(
        'decommission',
        {
          app_id: developer.appId,
          service_id: instance.service_id,
          timestamp: nowSeconds(),
          nonce: newNonce(),
          context: 'decommission',
          provider_receipt: receipt,
        },
        developer.master.privateKey,
      );
      const revoked = await postJson(
        `${registry.url}/v1/apps/${developer.appId}/services/${instance.service_id}/decommission`,
        decommission,
      );
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    }
  });

  it('stops serving at once when the registry broadcasts SERVICE_REVOKED', async () => {
    const registry = keep(await startTestRegistry(join(dir.path, 'registry-revoke')));
    const service = keep(await startNotes(registry, join(dir.path, 'notes-revoke'), { heartbeatIntervalSeconds: 60 }));
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const token = await developer.token();
    assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    const decommission = signEnvelope(
      'decommission',
      { app_id: developer.appId, service_id: instance.service_id, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
      developer.master.privateKey,
    );
    assert.equal(
      (await postJson(`${registry.url}/v1/apps/${developer.appId}/services/${instance.service_id}/decommission`, decommission)).status,
      200,
    );
    await waitFor('the instance to answer 410', async () => (await callApi(`${instance.endpoint_url}/notes`, token)).status === 410);
    assert.equal(
      ((await getJson(`${service.catalogEntry.provision_url}/${instance.service_id}`)).body as { status: string }).status,
      'revoked',
    );
  });

  it('drops a cached Master key when the registry broadcasts MASTER_KEY_ROTATION', async () => {
    const registry = keep(await startTestRegistry(join(dir.path, 'registry-master')));
    const service = keep(await startNotes(registry, join(dir.path, 'notes-master')));
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    await provisionInstance(service, developer); // the old Master key is now cached
    const oldMaster = developer.master;
    const newMaster = generateSigningKey();
    const data = {
      namespace: developer.namespace,
      new_master_public_key: newMaster.publicKey,
      timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'master_key_rotation' as const,
    };
    const rotation = {
      ...signEnvelope('master_key_rotation', data, oldMaster.privateKey),
      new_key_signature: signEnvelope('master_key_rotation', data, newMaster.privateKey).signature,
    };
    const rotated = await postJson(`${registry.url}/v1/namespaces/${developer.namespace}/master-key`, rotation);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    await waitFor(
      'the old Master key to be refused',
      async () =>
        errorCode((await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER))).body) === 'invalid_signature',
    );
    developer.master = newMaster;
    assert.equal((await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER))).status, 201);
  });

  it('rotates its instance key and keeps working with the new one', async () => {
    const registry = keep(await startTestRegistry(join(dir.path, 'registry-rotate')));
    const service: ServiceHandle = keep(await startNotes(registry, join(dir.path, 'notes-rotate')));
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const before = (await records(registry, developer.appId))[0]?.public_key;
    await service.rotateInstanceKey(instance.service_id);
    const afterKey = (await records(registry, developer.appId))[0]?.public_key;
    assert.ok(before && afterKey && before !== afterKey);
    // A termination receipt now verifies under the new key.
    const answer = await requestJson(
      'DELETE',
      `${service.catalogEntry.provision_url}/${instance.service_id}`,
      developer.terminationRequest(instance.service_id, 'retain'),
    );
    const receipt = answer.body as { data: unknown; signature: string };
    assert.ok(verify('termination_receipt', receipt.data, receipt.signature, afterKey));
  });
});
