import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, sign, signEnvelope } from '@swarm/protocol';
import { startBackbone, startBilling } from '../src/index.js';
import {
  bindInstance,
  eventually,
  get,
  masterSigned,
  post,
  provisionAndDelegate,
  registerDeveloperApp,
  registerTestProvider,
  startTestNetwork,
  type TestNetwork,
  usageReport,
} from './network.js';

describe('backbone across restarts and Master key changes', () => {
  let network: TestNetwork;
  before(async () => {
    network = await startTestNetwork();
  });
  after(() => network.close());

  it('drops a cached Master key on MASTER_KEY_ROTATION: the old key is refused at once', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const { authProviderUrl } = await provisionAndDelegate(network, developer);
    // The auth provider now has the Master key cached (up to 60 s).
    assert.equal((await post(`${authProviderUrl}/v1/owner-token`, masterSigned('token_request', developer, { sub: 'a' }))).status, 200);

    const next = generateSigningKey();
    const data = {
      namespace: developer.namespace,
      new_master_public_key: next.publicKey,
      timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'master_key_rotation',
    };
    const rotation = {
      ...signEnvelope('master_key_rotation', data, developer.master.privateKey),
      new_key_signature: sign('master_key_rotation', data, next.privateKey),
    };
    const rotated = await post(`${network.registry.url}/v1/namespaces/${developer.namespace}/master-key`, rotation);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));

    await eventually(async () => {
      const answer = await post(`${authProviderUrl}/v1/owner-token`, masterSigned('token_request', developer, { sub: 'a' }));
      return answer.body?.error?.code === 'invalid_signature';
    });
    const withNewKey = await post(`${authProviderUrl}/v1/owner-token`, masterSigned('token_request', developer, { sub: 'a' }, next));
    assert.equal(withNewKey.status, 200);
  });

  it('keeps counted nonces across a restart of billing', async () => {
    const provider = await registerTestProvider(network, 'restart.meter.test.local');
    const developer = await registerDeveloperApp(network.registry.url);
    const instance = await bindInstance(network, developer, provider);
    const report = usageReport(instance, { requests: 9 });
    const first = await startBilling({
      port: 0,
      dataDir: `${network.dataDir}/restart`,
      trustedRegistries: [network.trusted],
      logLevel: false,
    });
    assert.equal((await post(`${first.url}/v1/usage`, report)).status, 202);
    await first.close();
    const second = await startBilling({
      port: 0,
      dataDir: `${network.dataDir}/restart`,
      trustedRegistries: [network.trusted],
      logLevel: false,
    });
    try {
      assert.equal((await post(`${second.url}/v1/usage`, report)).status, 202);
      const usage = await post(`${second.url}/v1/usage/query`, masterSigned('owner_query', developer, { audience: second.url }));
      assert.equal(usage.body.reports, 1);
      assert.deepEqual(usage.body.app_totals, [{ metric: 'requests', value: 9 }]);
    } finally {
      await second.close();
    }
  });

  it('starts all three parts with startBackbone (for `swarm backbone`)', async () => {
    const backbone = await startBackbone({
      port: 0,
      dataDir: `${network.dataDir}/standalone`,
      trustedRegistries: [network.trusted],
      logLevel: false,
    });
    try {
      for (const part of [backbone.auth, backbone.billing, backbone.logging]) {
        assert.equal((await get(`${part.url}/healthz`)).status, 200);
        assert.equal((await get(`${part.url}/readyz`)).status, 200);
      }
      assert.equal(new Set([backbone.auth.url, backbone.billing.url, backbone.logging.url]).size, 3);
      assert.equal(backbone.auth.offer().data.provision_url, `${backbone.auth.url}/v1/provision`);
    } finally {
      await backbone.close();
    }
  });
});
