import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { startCrmContact } from '../src/index.js';

/** Every part of this test runs on loopback, which a part refuses to send to by default. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

describe('crm-contact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-crm-'));
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;
  let instance: ProvisionedInstance;
  let token: string;

  before(async () => {
    registry = await startRegistry({ port: 0, dataDir: join(dir, 'registry'), dnsPort: false, logLevel: false, egress: LOCAL_EGRESS });
    service = await startCrmContact({
      port: 0,
      dataDir: join(dir, 'crm'),
      trustedRegistries: [trustedRegistryOf(registry)],
      logLevel: false,
    });
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
    instance = await provisionInstance(service, developer);
    token = await developer.token();
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, searches, reads, updates and deletes contacts', async () => {
    const url = `${instance.endpoint_url}/contacts`;
    const ada = await callApi(url, token, {
      method: 'POST',
      json: { name: 'Ada Lovelace', email: 'ada@example.com', company: 'Analytical' },
    });
    assert.equal(ada.status, 201, JSON.stringify(ada.body));
    const grace = await callApi(url, token, {
      method: 'POST',
      json: { name: 'Grace Hopper', email: 'grace@navy.example', notes: 'COBOL' },
    });
    assert.equal(grace.status, 201);
    const id = (ada.body as { id: string }).id;

    assert.equal(((await callApi(url, token)).body as { contacts: unknown[] }).contacts.length, 2);
    const byCompany = (await callApi(`${url}?q=analyt`, token)).body as { contacts: Array<{ name: string }> };
    assert.deepEqual(
      byCompany.contacts.map((c) => c.name),
      ['Ada Lovelace'],
    );
    const byEmail = (await callApi(`${url}?q=NAVY`, token)).body as { contacts: Array<{ name: string }> };
    assert.deepEqual(
      byEmail.contacts.map((c) => c.name),
      ['Grace Hopper'],
    );
    const wildcard = (await callApi(`${url}?q=%25`, token)).body as { contacts: unknown[] };
    assert.equal(wildcard.contacts.length, 0, 'a % in q is a literal, not a wildcard');

    const updated = await callApi(`${url}/${id}`, token, { method: 'PUT', json: { name: 'Ada King', email: 'ada@example.com' } });
    assert.equal(updated.status, 200);
    assert.equal((updated.body as { company?: string }).company, undefined);
    assert.equal(((await callApi(`${url}/${id}`, token)).body as { name: string }).name, 'Ada King');
    assert.equal((await callApi(`${url}/${id}`, token, { method: 'DELETE' })).status, 204);
    assert.equal((await callApi(`${url}/${id}`, token)).status, 404);
  });

  it('refuses bad contacts with invalid_request and keeps nothing', async () => {
    const url = `${instance.endpoint_url}/contacts`;
    const before = ((await callApi(url, token)).body as { contacts: unknown[] }).contacts.length;
    for (const json of [
      { name: 'x' },
      { name: 'x', email: 'not-an-email' },
      { name: 'x', email: 'a@b.example', extra: 1 },
      { name: 1, email: 'a@b.example' },
      [],
    ]) {
      const answer = await callApi(url, token, { method: 'POST', json });
      assert.equal(answer.status, 400, JSON.stringify(json));
      assert.equal((answer.body as { error: { code: string } }).error.code, 'invalid_request');
    }
    assert.equal(((await callApi(url, token)).body as { contacts: unknown[] }).contacts.length, before);
  });
});
