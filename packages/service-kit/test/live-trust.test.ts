import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  callApi,
  createTestDeveloper,
  type ProvisionedInstance,
  provisionInstance,
  type TestDeveloper,
  trustedRegistryOf,
} from '@swarm/dev-env';
import { generateSigningKey, TrustedRegistries } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, startNotes, startTestRegistry, tempDir } from './helpers.js';

/**
 * A service follows its operator's trust table while it runs (docs/SERVICE-KIT.md): a registry
 * taken out of the table, or given another key, stops vouching for its apps at once, including
 * tokens verified a moment before; put back, the stored context verifies again.
 */
describe('a trust table changed while the service runs', () => {
  const dir = tempDir('kit-live-trust');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;
  let notes: ProvisionedInstance;
  let trust: TrustedRegistries;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    trust = new TrustedRegistries([trustedRegistryOf(registry)]);
    service = await startNotes(registry, join(dir.path, 'notes'), { trustedRegistries: trust });
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
    notes = await provisionInstance(service, developer);
  });
  after(async () => {
    trust.replace([trustedRegistryOf(registry)]);
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  const read = async () => callApi(`${notes.endpoint_url}/notes`, await developer.token({ sub: 'reader', roles: ['reader'] }), {});

  it('refuses an app of a registry dropped from the table, even a token verified before, and serves it again once restored', async () => {
    const token = await developer.token({ sub: 'steady', roles: ['reader'] });
    const get = () => callApi(`${notes.endpoint_url}/notes`, token, {});
    assert.equal((await get()).status, 200, 'served while trusted (the token is now in the verified cache)');

    trust.replace([]);
    const dropped = await get();
    assert.equal(dropped.status, 401, JSON.stringify(dropped.body));
    assert.equal(errorCode(dropped.body), 'invalid_token');
    assert.equal((await read()).status, 401, 'a new token is refused too');

    trust.replace([trustedRegistryOf(registry)]);
    assert.equal((await get()).status, 200, 'the stored context verifies again under the restored key');
  });

  it('refuses the app while the table names its registry with another key', async () => {
    trust.replace([{ ...trustedRegistryOf(registry), publicKey: generateSigningKey().publicKey }]);
    assert.equal((await read()).status, 401);
    trust.replace([trustedRegistryOf(registry)]);
    assert.equal((await read()).status, 200);
  });

  it('keeps the table as it was when a replacement is not valid', () => {
    assert.throws(() =>
      trust.replace([trustedRegistryOf(registry), { authority: 'x.example', baseUrl: 'https://x.example', publicKey: 'nope' }]),
    );
    assert.deepEqual(
      trust.list().map((entry) => entry.authority),
      [registry.authority],
    );
  });
});
