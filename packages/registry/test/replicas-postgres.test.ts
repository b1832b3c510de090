import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey } from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import {
  bearer,
  bindingRequest,
  boundInstance,
  call,
  developerProof,
  developerWithApp,
  get,
  listedProvider,
  makeProvider,
  offer,
  post,
  postgresBackend,
  serviceCall,
} from './helpers.js';

const backend = postgresBackend();

describe('two registry replicas on one PostgreSQL schema', { skip: backend.skip }, () => {
  let a: RegistryHandle;
  let b: RegistryHandle;
  before(async () => {
    // Both start at once on a fresh schema: migrations and the created-once key must not trip over each other.
    [a, b] = await Promise.all([backend.start(), backend.start(backend.shared())]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await backend.cleanup();
  });

  it('share the registry key and admin token', () => {
    assert.equal(a.publicKey, b.publicKey);
    assert.equal(a.adminToken, b.adminToken);
  });

  it('take two first offers of one provider racing through both: same key both land, another key is a conflict', async () => {
    for (let round = 0; round < 5; round++) {
      const provider = makeProvider();
      const put = (registry: RegistryHandle, key = provider.key) =>
        call(
          'PUT',
          `${registry.url}/v1/catalog/${provider.name}`,
          offer(provider, { public_key: key.publicKey }, key),
          bearer(a.adminToken),
        );
      const same = await Promise.all([put(a), put(b)]);
      assert.deepEqual(same.map((x) => x.status).sort(), [200, 201], JSON.stringify(same.map((x) => x.body)));
      const rival = makeProvider();
      const other = generateSigningKey();
      const racing = await Promise.all([
        call('PUT', `${a.url}/v1/catalog/${rival.name}`, offer(rival), bearer(a.adminToken)),
        call('PUT', `${b.url}/v1/catalog/${rival.name}`, offer(rival, { public_key: other.publicKey }, other), bearer(a.adminToken)),
      ]);
      const statuses = racing.map((x) => x.status).sort();
      // Either the second arrived after the first landed (403/401: signed by the wrong key) or raced it (409).
      assert.equal(statuses[0], 201, JSON.stringify(racing.map((x) => x.body)));
      assert.ok([401, 409].includes(statuses[1] as number), JSON.stringify(racing.map((x) => x.body)));
    }
  });

  it('racing one developer proof make exactly one binding', async () => {
    const { dev, appId } = await developerWithApp(a);
    const provider = await listedProvider(b);
    for (let round = 0; round < 10; round++) {
      const proof = developerProof(dev, appId, provider.name);
      const requests = [
        bindingRequest(provider, proof),
        bindingRequest(provider, proof),
        bindingRequest(provider, proof),
        bindingRequest(provider, proof),
      ];
      const answers = await Promise.all(requests.map((r, i) => post(`${(i % 2 ? a : b).url}/v1/bindings`, r.body)));
      assert.deepEqual(answers.map((x) => x.status).sort(), [201, 409, 409, 409], JSON.stringify(answers.map((x) => x.body)));
      for (const answer of answers.filter((x) => x.status === 409)) assert.equal(answer.body.error.code, 'proof_reused');
    }
    // The same proof and service_id from both at once: one 201, one idempotent 200, one binding.
    const proof = developerProof(dev, appId, provider.name);
    const first = bindingRequest(provider, proof);
    const retry = bindingRequest(provider, proof, { serviceId: first.serviceId, instanceKey: first.instanceKey });
    const [x, y] = await Promise.all([post(`${a.url}/v1/bindings`, first.body), post(`${b.url}/v1/bindings`, retry.body)]);
    assert.deepEqual([x.status, y.status].sort(), [200, 201]);
    assert.equal(x.body.binding.service_id, y.body.binding.service_id);
    const records = (await get(`${a.url}/v1/apps/${appId}/services`)).body.records;
    assert.equal(records.length, 11);
    const entries = (await get(`${b.url}/v1/apps/${appId}/log`)).body.entries;
    assert.equal(entries.filter((e: { event: string }) => e.event === 'service_bound').length, 11);
  });

  it('refuse on one a nonce the other accepted', async () => {
    const { dev, appId } = await developerWithApp(a);
    const provider = await listedProvider(a);
    const request = bindingRequest(provider, developerProof(dev, appId, provider.name));
    assert.equal((await post(`${a.url}/v1/bindings`, request.body)).status, 201);
    const replay = await post(`${b.url}/v1/bindings`, request.body);
    assert.deepEqual([replay.status, replay.body.error.code], [409, 'nonce_reused']);

    const bound = await boundInstance(b, dev, appId, provider);
    const call = serviceCall(appId, bound.serviceId, bound.instanceKey);
    const path = `/v1/apps/${appId}/services/${bound.serviceId}/context`;
    const [one, two] = await Promise.all([post(`${a.url}${path}`, call), post(`${b.url}${path}`, call)]);
    assert.deepEqual([one.status, two.status].sort(), [200, 409]);
  });
});
