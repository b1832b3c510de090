import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, type TestDeveloper, trustedRegistryOf } from '@swarm/dev-env';
import { generateSigningKey } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { postJson } from '@swarm/runtime';
import type { ServiceHandle } from '../src/index.js';
import { PROVIDER, startNotes, startTestRegistry, tempDir } from './helpers.js';

/**
 * SPEC §5.3: the operational context is checked under the registry key of the service's trust
 * table, never a key the answer brings. A registry at the trusted URL that signs with another key
 * (a replaced or impersonated registry) gets no instance bound.
 */
describe('an operational context signed by a key the service does not trust', () => {
  const dir = tempDir('kit-untrusted-context');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    const wrongKey = { ...trustedRegistryOf(registry), publicKey: generateSigningKey().publicKey };
    service = await startNotes(registry, join(dir.path, 'notes'), { trustedRegistries: [wrongKey] });
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('is refused: the instance never becomes active and serves nothing', async () => {
    const answer = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(PROVIDER));
    assert.notEqual(answer.status, 201, JSON.stringify(answer.body));
    const body = answer.body as { status?: string; service_id?: string; endpoint_url?: string; error?: { code: string } };
    if (answer.status === 202) {
      // Still binding: it must not turn active later either.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const status = (await (await fetch(`${service.catalogEntry.provision_url}/${body.service_id}`)).json()) as { status: string };
      assert.notEqual(status.status, 'active');
    } else {
      assert.ok(answer.status >= 400, JSON.stringify(body));
    }
    if (body.endpoint_url) {
      const call = await fetch(`${body.endpoint_url}/notes`, { headers: { authorization: `Bearer ${await developer.token()}` } });
      assert.notEqual(call.status, 200);
    }
  });
});
