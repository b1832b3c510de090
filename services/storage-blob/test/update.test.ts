import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance, type TestDeveloper } from '@swarm/dev-env';
import { generateSigningKey, newNonce, nowSeconds, type ProvisionedInstance, sign } from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { getJson, LOOPBACK_CIDRS, requestJson } from '@swarm/runtime';
import { type BlobSetup, startBlobSetup } from './helpers.js';

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// One "GB" is 1 MB here, so a free instance holds 1 MB.
const MB = 1_000_000;

describe('storage-blob: updating a running instance (tier, storage limit)', () => {
  let setup: BlobSetup;
  let developer: TestDeveloper;
  let instance: ProvisionedInstance;
  let token: string;

  const instanceUrl = () => `${setup.service.catalogEntry.provision_url}/${instance.service_id}`;
  const update = (fields: Record<string, unknown> = {}, dev: TestDeveloper = developer, key = dev.master) =>
    dev.masterSigned(
      'instance_update',
      {
        service_id: instance.service_id,
        target_provider: setup.service.provider,
        service_tier: 'pro_cluster',
        storage_limit_gb: 10,
        context: 'instance_update',
        ...fields,
      },
      key,
    );
  const patch = (body: unknown, url = instanceUrl()) => requestJson('PATCH', url, body);
  const listed = async () => {
    const answer = await getJson(`${setup.registry.url}/v1/apps/${developer.appId}/services`);
    const records = (answer.body as { records: Array<Record<string, unknown>> }).records;
    return records.find((r) => r.service_id === instance.service_id);
  };

  before(async () => {
    setup = await startBlobSetup('update', { bytesPerGb: MB, bindingRetry: { initialMs: 100, maxMs: 200 } });
    developer = setup.developer;
    instance = await provisionInstance(setup.service, developer, { service_tier: 'free', region: 'local' });
    token = await developer.token({ roles: ['editor'] });
    const put = await callApi(`${instance.endpoint_url}/objects/big`, token, { method: 'PUT', body: 'x'.repeat(0.6 * MB) });
    assert.equal(put.status, 201);
  });
  let restarted: RegistryHandle | undefined;
  after(async () => {
    await setup.close();
    await restarted?.close();
  });

  it('upgrades the tier: the provider, the registry (HTTP) and the quota all show it at once', async () => {
    const refused = await callApi(`${instance.endpoint_url}/objects/more`, token, { method: 'PUT', body: 'x'.repeat(0.6 * MB) });
    assert.equal(refused.status, 422, 'the free limit holds before the update');
    const answer = await patch(update());
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const body = answer.body as Record<string, unknown>;
    assert.equal(body.status, 'applied');
    assert.equal(body.service_tier, 'pro_cluster');
    assert.equal(body.storage_limit_gb, 10);
    const record = await listed();
    assert.equal(record?.service_tier, 'pro_cluster');
    assert.equal(record?.storage_limit_gb, 10);
    const status = await getJson(instanceUrl());
    assert.equal((status.body as Record<string, unknown>).service_tier, 'pro_cluster');
    const stored = await callApi(`${instance.endpoint_url}/objects/more`, token, { method: 'PUT', body: 'x'.repeat(0.6 * MB) });
    assert.equal(stored.status, 201, 'the new limit admits what the old one refused');
    const again = await getJson(`${instanceUrl()}/updates/${body.update_id}`);
    assert.equal((again.body as Record<string, unknown>).status, 'applied');
    const log = await getJson(`${setup.registry.url}/v1/apps/${developer.appId}/log`);
    const entries = (log.body as { entries: Array<Record<string, unknown>> }).entries;
    assert.ok(entries.some((e) => e.event === 'service_updated' && e.update_id === body.update_id));
  });

  it('refuses a downgrade the data no longer fits in (422 quota_exceeded) and changes nothing', async () => {
    const answer = await patch(update({ service_tier: 'free', storage_limit_gb: 1 }));
    assert.equal(answer.status, 422);
    assert.equal(code(answer.body), 'quota_exceeded');
    const record = await listed();
    assert.equal(record?.service_tier, 'pro_cluster');
    assert.equal(record?.storage_limit_gb, 10);
    assert.equal(
      (await getJson(instanceUrl())).body && ((await getJson(instanceUrl())).body as Record<string, unknown>).storage_limit_gb,
      10,
    );
  });

  it('checks the offer like provisioning: tier, storage maximum, region, provider', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ service_tier: 'platinum' }, 422, 'unsupported_tier'],
      [{ storage_limit_gb: 101 }, 422, 'storage_limit_exceeded'],
      [{ service_tier: 'free', storage_limit_gb: 2 }, 422, 'storage_limit_exceeded'],
      [{ region: 'mars-1' }, 422, 'unsupported_region'],
      [{ region: 'eu-central-1' }, 422, 'unsupported_region'],
      [{ target_provider: 'other.example' }, 403, 'wrong_provider'],
      [{ service_id: 'storage-blob-nothere000' }, 400, 'invalid_request'],
      [{ context: 'provision' }, 400, 'invalid_request'],
      [{ extra: 1 }, 400, 'invalid_request'],
    ];
    for (const [fields, status, expected] of cases) {
      const answer = await patch(update(fields));
      assert.equal(answer.status, status, `${JSON.stringify(fields)}: ${JSON.stringify(answer.body)}`);
      assert.equal(code(answer.body), expected, JSON.stringify(fields));
    }
  });

  it('takes only the owner’s fresh, unreplayed signature, for its own app', async () => {
    const forged = update({ storage_limit_gb: 11 }, developer, generateSigningKey());
    assert.equal(code((await patch(forged)).body), 'invalid_signature');
    const stale = update({ timestamp: nowSeconds() - 3600 });
    assert.equal(code((await patch(stale)).body), 'stale_timestamp');
    const asProvision = { ...update(), signature: sign('provision', update().data, developer.master.privateKey) };
    assert.equal(code((await patch(asProvision)).body), 'invalid_signature');
    const other = await createTestDeveloper(setup.registry.url);
    const otherApp = await patch(update({}, other));
    assert.equal(otherApp.status, 404, 'another app’s owner does not reach this instance');
    const once = update({ storage_limit_gb: 12 });
    assert.equal((await patch(once)).status, 200);
    assert.equal(code((await patch(once)).body), 'nonce_reused');
    assert.equal((await listed())?.storage_limit_gb, 12);
  });

  it('the registry takes an update only from the instance’s provider, with the owner’s signature', async () => {
    const url = `${setup.registry.url}/v1/apps/${developer.appId}/services/${instance.service_id}/update`;
    const proof = update({ storage_limit_gb: 20 });
    const notice = (signer = generateSigningKey(), payload = proof) => {
      const developer_proof = { payload: payload.data, signature: payload.signature };
      const service_update = { service_id: instance.service_id, timestamp: nowSeconds(), nonce: newNonce() };
      return {
        version: '1.0',
        developer_proof,
        service_update,
        update_signature: sign('update_binding', { developer_proof, service_update }, signer.privateKey),
      };
    };
    const byStranger = await requestJson('POST', url, notice());
    assert.equal(code(byStranger.body), 'invalid_signature', 'a key that is not the provider’s');
    const notOwner = update({ storage_limit_gb: 20 }, developer, generateSigningKey());
    assert.equal(code((await requestJson('POST', url, notice(undefined, notOwner))).body), 'invalid_signature');
    const elsewhere = await requestJson(
      'POST',
      `${setup.registry.url}/v1/apps/${developer.appId}/services/storage-blob-zzzz/update`,
      notice(),
    );
    assert.equal(code(elsewhere.body), 'invalid_request', 'the path and the signed ids must agree');
    assert.equal((await listed())?.storage_limit_gb, 12, 'nothing changed');
  });

  it('answers 202 with a status URL while the registry is down, and applies once it is back', async () => {
    const registryDir = join(setup.dir, 'registry');
    const port = Number(new URL(setup.registry.url).port);
    await setup.registry.close();
    const answer = await patch(update({ storage_limit_gb: 30 }));
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const body = answer.body as { status: string; status_url: string; update_id: string };
    assert.equal(body.status, 'pending');
    assert.equal(code((await patch(update({ storage_limit_gb: 40 }))).body), 'conflict', 'one pending update at a time');
    restarted = await startRegistry({
      port,
      dataDir: registryDir,
      dnsPort: false,
      logLevel: false,
      egress: { allow: LOOPBACK_CIDRS },
    });
    let status = '';
    for (let i = 0; i < 100 && status !== 'applied'; i++) {
      await sleep(100);
      status = ((await getJson(body.status_url)).body as { status: string }).status;
    }
    assert.equal(status, 'applied');
    assert.equal((await listed())?.storage_limit_gb, 30);
  });
});
