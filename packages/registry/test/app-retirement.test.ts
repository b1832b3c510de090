import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, type SigningKey, signEnvelope } from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import {
  appManifest,
  type Backend,
  bindingRequest,
  boundInstance,
  call,
  type Developer,
  developerProof,
  developerWithApp,
  get,
  listedProvider,
  makeDeveloper,
  type Provider,
  post,
  postgresBackend,
  sqliteBackend,
} from './helpers.js';

for (const backend of [sqliteBackend(), postgresBackend()] satisfies Backend[]) {
  describe(`retiring an app (${backend.name})`, { skip: backend.skip }, () => {
    let registry: RegistryHandle;
    let dev: Developer;
    let appId: string;
    let provider: Provider;

    const retirement = (key: SigningKey = dev.master, fields: Record<string, unknown> = {}, id = appId) =>
      signEnvelope(
        'app_retirement',
        { app_id: id, timestamp: nowSeconds(), nonce: newNonce(), context: 'app_retirement', ...fields },
        key.privateKey,
      );
    const retire = (body: unknown, id = appId) => post(`${registry.url}/v1/apps/${id}/retire`, body);

    before(async () => {
      registry = await backend.start();
      ({ dev, appId } = await developerWithApp(registry, makeDeveloper(), 'shop'));
      provider = await listedProvider(registry);
    });
    after(async () => {
      await registry.close();
      await backend.cleanup();
    });

    it('is refused while an instance is bound (409 conflict), and to anyone but the owner', async () => {
      const bound = await boundInstance(registry, dev, appId, provider);
      const refused = await retire(retirement());
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, 'conflict');
      assert.match(refused.body.error.message, /decommission/);
      assert.equal((await retire(retirement(generateSigningKey()))).body.error.code, 'invalid_signature');
      const other = await developerWithApp(registry, makeDeveloper(), 'other');
      assert.equal((await retire(retirement(other.dev.master))).body.error.code, 'invalid_signature');
      assert.equal((await retire(retirement(dev.master, {}, other.appId))).body.error.code, 'invalid_request', 'path and data disagree');
      assert.equal((await retire(retirement(dev.master, { context: 'decommission' }))).body.error.code, 'invalid_request');
      assert.equal((await retire(retirement(dev.master, { timestamp: nowSeconds() - 3600 }))).body.error.code, 'stale_timestamp');
      assert.equal((await retire(retirement(dev.master, { extra: true }))).body.error.code, 'invalid_request');
      const asDecommission = {
        ...retirement(),
        signature: signEnvelope('decommission', retirement().data, dev.master.privateKey).signature,
      };
      assert.equal((await retire(asDecommission)).body.error.code, 'invalid_signature');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}`)).body.status, 'active');

      const decommission = signEnvelope(
        'decommission',
        { app_id: appId, service_id: bound.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
        dev.master.privateKey,
      );
      assert.equal((await post(`${registry.url}/v1/apps/${appId}/services/${bound.serviceId}/decommission`, decommission)).status, 200);
    });

    it('retires once nothing is bound: logged, the record and log still readable, retries answer the same', async () => {
      const request = retirement();
      const done = await retire(request);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.status, 'retired');
      assert.equal((await retire(request)).body.error.code, 'nonce_reused');
      const again = await retire(retirement());
      assert.equal(again.status, 200);
      assert.equal(again.body.retired_at, done.body.retired_at);
      assert.equal(again.body.audit_seq, done.body.audit_seq, 'a retry names the same operation');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}/log/${done.body.audit_seq}`)).body.event, 'app_retired');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}`)).body.status, 'retired');
      const log = await get(`${registry.url}/v1/apps/${appId}/log`);
      assert.equal(log.status, 200);
      assert.ok(log.body.entries.some((e: { event: string }) => e.event === 'app_retired'));
    });

    it('takes no write for a retired app (410 gone) and hands its slug out no more', async () => {
      const masterKey = await get(`${registry.url}/v1/apps/${appId}/master-key`);
      assert.equal(masterKey.status, 410, 'providers refuse every owner request for it');
      assert.equal(masterKey.body.error.code, 'gone');
      const binding = await post(`${registry.url}/v1/bindings`, bindingRequest(provider, developerProof(dev, appId, provider.name)).body);
      assert.equal(binding.body.error.code, 'gone');
      const backbone = signEnvelope(
        'backbone_update',
        {
          app_id: appId,
          operational_context: { billing_provider_url: 'http://127.0.0.1:9/' },
          timestamp: nowSeconds(),
          nonce: newNonce(),
          context: 'backbone_update',
        },
        dev.master.privateKey,
      );
      assert.equal((await call('PATCH', `${registry.url}/v1/apps/${appId}/operational-context`, backbone)).status, 410);
      const sameSlug = await post(`${registry.url}/v1/apps`, appManifest(dev, 'shop'));
      assert.equal(sameSlug.status, 409);
      assert.equal(sameSlug.body.error.code, 'conflict');
      assert.equal((await post(`${registry.url}/v1/apps`, appManifest(dev, 'shop2'))).status, 201);
      const services = await get(`${registry.url}/v1/apps/${appId}/services`);
      assert.deepEqual(services.body.records, []);
    });
  });
}
