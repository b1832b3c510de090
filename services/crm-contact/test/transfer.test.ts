import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import { type Database, openDatabase } from '@swarm/runtime';
import { type DataTransfer, type DomainContext, domainContext, type InstanceInfo, migrateDomain } from '@swarm/service-kit';
import fc from 'fast-check';
import { contactsDomain } from '../src/contacts.js';
import type { Tables } from '../src/tables.js';

/** crm-contact's item mapping for `swarm move` (docs/DATA-TRANSFER.md), against a real SQLite file. */
describe('crm-contact: contacts leave and come in as swarm-data/1 items', () => {
  const transfer = contactsDomain.transfer as DataTransfer<Tables>;
  let dir: string;
  let database: Database<unknown>;
  let context: DomainContext<Tables>;
  let counter = 0;
  const instance = (): InstanceInfo => ({
    serviceId: `crm-contact-${String(counter++).padStart(10, '0')}`,
    appId: 'local.swarm.alice.blog.k3j9x0d2ab',
    serviceTier: 'free',
    region: 'local',
    storageLimitGb: 1,
  });
  const exportAll = async (from: InstanceInfo) => {
    const items: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = await transfer.exportPage(from, cursor, { maxItems: 2, maxBytes: 1, withData: true }, context);
      items.push(...page.items);
      cursor = page.next;
    } while (cursor !== null);
    return items;
  };
  const contact = fc.record({
    id: fc.uuid(),
    name: fc.string({ minLength: 1, maxLength: 30 }),
    email: fc.emailAddress(),
    company: fc.option(fc.string({ maxLength: 20 })),
    notes: fc.option(fc.string({ maxLength: 50 })),
    version: fc.integer({ min: 1, max: 1000 }),
    created_at: fc.integer({ min: 0, max: 2 ** 31 }),
    updated_at: fc.integer({ min: 0, max: 2 ** 31 }),
    created_by: fc.option(fc.string({ maxLength: 20 })),
    updated_by: fc.option(fc.string({ maxLength: 20 })),
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-crm-transfer-'));
    database = openDatabase<unknown>({ file: join(dir, 'crm-contact.db') });
    await migrateDomain(database, 'crm-contact', contactsDomain.migrations);
    context = domainContext<Tables>(database, dir, () => 'http://127.0.0.1:9/i/x/api/v1');
  });
  after(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('any contacts come in as they left, twice-written pages included; two of one address (from before uniqueness) both come', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(contact, { maxLength: 6 }), async (contacts) => {
        // The same address twice, as contacts from before addresses were unique may have it.
        const items = contacts.length > 1 ? [...contacts.slice(0, -1), { ...contacts.at(-1), email: contacts[0]?.email }] : contacts;
        const unique = items.filter((item, i) => items.findIndex((other) => other.id === item.id) === i);
        const from = instance();
        const to = instance();
        for (const item of unique) await transfer.importPage(from, [item], context);
        const exported = await exportAll(from);
        assert.equal(exported.length, unique.length);
        for (const item of exported) {
          await transfer.importPage(to, [item], context);
          await transfer.importPage(to, [item], context);
        }
        assert.deepEqual(await exportAll(to), exported);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses an item that does not parse (invalid_request)', async () => {
    const [one] = fc.sample(contact, 1);
    for (const bad of [{ ...one, extra: 1 }, { ...one, name: '' }, 42]) {
      await assert.rejects(
        transfer.importPage(instance(), [bad], context),
        (error) => error instanceof SwarmError && error.code === 'invalid_request',
      );
    }
  });
});
