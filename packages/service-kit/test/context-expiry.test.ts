import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance } from '@swarm/dev-env';
import { generateSigningKey, newNonce, nowSeconds, type OperationalContext, signEnvelope } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { requestJson } from '@swarm/runtime';
import { isNewerContext } from '../src/contexts.js';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, startNotes, startTestRegistry, tempDir } from './helpers.js';

describe('operational contexts expire retired Auth keys', () => {
  const dir = tempDir('kit-context-expiry');
  let registry: RegistryHandle;
  let service: ServiceHandle;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    service = await startNotes(registry, join(dir.path, 'notes'), { heartbeatIntervalSeconds: 60 });
    await service.registerOffer(registry.url, registry.adminToken);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('refuses a retired Auth key once its exp passed, while the registry is away', { timeout: 30_000 }, async () => {
    const carol = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, carol);
    const url = `${instance.endpoint_url}/notes`;
    const oldToken = await carol.token();
    assert.equal((await callApi(url, oldToken)).status, 200);

    // A new Auth key; the old one stays valid for 2 more seconds (SPEC §4.3 retire_previous_after).
    const newKey = generateSigningKey();
    const delegation = signEnvelope(
      'delegate_authority',
      {
        action: 'DELEGATE_AUTHORITY' as const,
        app_id: carol.appId,
        auth_public_key: newKey.publicKey,
        auth_provider_url: carol.issuer,
        retire_previous_after: 2,
        timestamp: nowSeconds(),
        nonce: newNonce(),
      },
      carol.master.privateKey,
    );
    const delegated = await requestJson('POST', `${registry.url}/v1/apps/${carol.appId}/auth`, delegation);
    assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
    const retiresAt = nowSeconds() + 2;
    const newToken = await carol.token({ key: newKey });
    // The unknown kid fetches the context with both keys; the old one carries its exp.
    assert.equal((await callApi(url, newToken)).status, 200);
    assert.equal((await callApi(url, oldToken)).status, 200, 'the retiring key is still taken');

    await registry.close();
    while (nowSeconds() <= retiresAt) await new Promise((resolve) => setTimeout(resolve, 250));
    const refused = await callApi(url, oldToken);
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    assert.equal(errorCode(refused.body), 'invalid_token');
    assert.equal((await callApi(url, newToken)).status, 200, 'the current key still works without the registry');
  });

  it('orders contexts by config_epoch, then issued_at', () => {
    const context = (config_epoch: number, issued_at: number) => ({ config_epoch, issued_at }) as OperationalContext;
    assert.equal(isNewerContext(context(3, 100), context(2, 200)), true);
    assert.equal(isNewerContext(context(2, 200), context(3, 100)), false);
    assert.equal(isNewerContext(context(3, 100), context(3, 200)), false, 'same epoch, signed earlier');
    assert.equal(isNewerContext(context(3, 200), context(3, 100)), true);
  });
});
