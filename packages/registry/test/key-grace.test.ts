import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, sign } from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import { boundInstance, developerWithApp, listedProvider, post, serviceCall, sqliteBackend } from './helpers.js';

// Long enough that the first call after the rotation falls inside the grace on a loaded host.
const GRACE_SECONDS = 3;

/** SPEC §10.1: the rotated-out instance key verifies during its grace period, and never after. */
describe('an old instance key after its grace period', () => {
  const backend = sqliteBackend();
  let registry: RegistryHandle;
  before(async () => {
    registry = await backend.start({ instanceKeyGraceSeconds: GRACE_SECONDS });
  });
  after(async () => {
    await registry?.close();
    await backend.cleanup();
  });

  it('is refused once the grace is over, while the new key goes on', async () => {
    const { dev, appId } = await developerWithApp(registry);
    const provider = await listedProvider(registry);
    const bound = await boundInstance(registry, dev, appId, provider);
    const next = generateSigningKey();
    const data = {
      app_id: appId,
      service_id: bound.serviceId,
      new_public_key: next.publicKey,
      rotation_timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'key_rotation',
    };
    const rotation = {
      version: '1.0',
      data,
      signature: sign('key_rotation', data, bound.instanceKey.privateKey),
      new_key_signature: sign('key_rotation', data, next.privateKey),
    };
    const base = `${registry.url}/v1/apps/${appId}/services/${bound.serviceId}`;
    assert.equal((await post(`${base}/key`, rotation)).status, 200);
    const context = () => post(`${base}/context`, serviceCall(appId, bound.serviceId, bound.instanceKey));
    assert.equal((await context()).status, 200, 'the old key works in its grace');
    // Past the grace (whole seconds: the expiry is compared with the current second).
    await new Promise((resolve) => setTimeout(resolve, (GRACE_SECONDS + 1.2) * 1000));
    const late = await context();
    assert.equal(late.status, 401, JSON.stringify(late.body));
    assert.equal(late.body.error.code, 'invalid_signature');
    assert.equal((await post(`${base}/context`, serviceCall(appId, bound.serviceId, next))).status, 200, 'the new key goes on');
  });
});
