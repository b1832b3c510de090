import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance, trustedRegistryOf } from '@swarm/dev-env';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS, migrate, openDatabase } from '@swarm/runtime';
import { kitDatabaseFile, type ServiceHandle } from '@swarm/service-kit';
import { sql } from 'kysely';
import { startCrmContact } from '../src/index.js';
import { contactMigrations } from '../src/migrations.js';

/** Contacts written before emails were unique (two share one) keep working after the upgrade. */
describe('crm-contact upgrade of existing contacts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-crm-upgrade-'));
  const dataDir = join(dir, 'crm');
  let registry: RegistryHandle;
  let service: ServiceHandle;

  before(async () => {
    mkdirSync(dataDir, { recursive: true });
    const old = openDatabase<unknown>({ file: kitDatabaseFile(dataDir, 'crm-contact') });
    const { '001_contacts': first, '002_authors': second } = contactMigrations;
    await migrate(old.db, 'domain_crm_contact', { '001_contacts': first as never, '002_authors': second as never });
    for (const [id, name, email, at] of [
      ['old-1', 'Ada Lovelace', 'ada@example.com', 1],
      ['old-2', 'Ada (duplicate)', 'ADA@example.com', 2],
      ['old-3', 'Grace Hopper', 'grace@navy.example', 3],
    ] as const) {
      await sql`insert into crm_contacts (service_id, id, name, email, company, notes, created_at, updated_at)
        values ('placeholder', ${id}, ${name}, ${email}, null, null, ${at}, ${at})`.execute(old.db);
    }
    await old.close();
    registry = await startRegistry({
      port: 0,
      dataDir: join(dir, 'registry'),
      dnsPort: false,
      logLevel: false,
      egress: { allow: LOOPBACK_CIDRS },
    });
    service = await startCrmContact({ port: 0, dataDir, trustedRegistries: [trustedRegistryOf(registry)], logLevel: false });
    await service.registerOffer(registry.url, registry.adminToken);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every contact, gives the address to the oldest, and searches them', async () => {
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const db = openDatabase<unknown>({ file: kitDatabaseFile(dataDir, 'crm-contact') });
    await sql`update crm_contacts set service_id = ${instance.service_id} where service_id = 'placeholder'`.execute(db.db);
    await db.close();
    const token = await developer.token();
    const url = `${instance.endpoint_url}/contacts`;
    const all = (await callApi(url, token)).body as { contacts: Array<{ id: string }> };
    assert.deepEqual(all.contacts.map((c) => c.id).sort(), ['old-1', 'old-2', 'old-3']);
    const taken = await callApi(url, token, { method: 'POST', json: { name: 'New Ada', email: 'Ada@Example.com' } });
    assert.equal(taken.status, 409);
    assert.equal((taken.body as { error: { existing_id: string } }).error.existing_id, 'old-1', 'the oldest holds the address');
    const found = (await callApi(`${url}?q=hopp`, token)).body as { contacts: Array<{ id: string }> };
    assert.deepEqual(
      found.contacts.map((c) => c.id),
      ['old-3'],
    );
    // The duplicate can still be changed, and may take a free address.
    const moved = await callApi(`${url}/old-2`, token, { method: 'PUT', json: { name: 'Ada Byron', email: 'byron@example.com' } });
    assert.equal(moved.status, 200);
  });
});
