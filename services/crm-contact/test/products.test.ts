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
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import fc from 'fast-check';
import { startCrmContact } from '../src/index.js';

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

interface Contact {
  id: string;
  name: string;
  email: string;
  company?: string;
  version: number;
}
type Page = { contacts: Contact[]; next_cursor: string | null };
type Refusal = {
  error: { code: string; error_count: number; rows: Array<{ index: number; code: string; existing_id?: string }>; existing_id?: string };
};

function contactSuite(name: string, storage: 'sqlite' | 'postgres') {
  const skip = storage === 'postgres' && !postgresUrl ? 'SWARM_TEST_POSTGRES_URL is not set' : false;
  describe(name, { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-crm-products-'));
    const schema = `crm_products_${process.pid}`;
    let registry: RegistryHandle;
    let service: ServiceHandle;
    let developer: TestDeveloper;
    let instance: ProvisionedInstance;
    let editor: string;
    let reader: string;
    const contacts = () => `${instance.endpoint_url}/contacts`;
    const create = (json: Record<string, unknown>, token = editor) => callApi(contacts(), token, { method: 'POST', json });
    const walk = async (query: string, limit = 1000) => {
      const seen: Contact[] = [];
      let cursor: string | null = null;
      do {
        const answer = await callApi(
          `${contacts()}?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          reader,
        );
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const page = answer.body as Page;
        seen.push(...page.contacts);
        cursor = page.next_cursor;
      } while (cursor !== null);
      return seen;
    };
    const count = async () => (await walk('')).length;
    const importRows = (rows: unknown[]) => callApi(`${contacts()}/import`, editor, { method: 'POST', json: { contacts: rows } });

    before(async () => {
      if (storage === 'postgres') await ensurePostgresSchema(postgresUrl as string, schema);
      registry = await startRegistry({
        port: 0,
        dataDir: join(dir, 'registry'),
        dnsPort: false,
        logLevel: false,
        egress: { allow: LOOPBACK_CIDRS },
      });
      service = await startCrmContact({
        port: 0,
        dataDir: join(dir, 'crm'),
        trustedRegistries: [trustedRegistryOf(registry)],
        logLevel: false,
        ...(storage === 'postgres' ? { databaseUrl: postgresUrl, databaseSchema: schema } : {}),
      });
      await service.registerOffer(registry.url, registry.adminToken);
      developer = await createTestDeveloper(registry.url);
      instance = await provisionInstance(service, developer);
      editor = await developer.token({ sub: 'ed', roles: ['editor'] });
      reader = await developer.token({ sub: 'rea', roles: ['reader'] });
    });
    after(async () => {
      await service?.close();
      await registry?.close();
      if (storage === 'postgres') await dropPostgresSchema(postgresUrl as string, schema);
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps one contact per email, whatever its case, and names the holder in the 409', async () => {
      const ada = (await create({ name: 'Ada Lovelace', email: 'Ada@Example.com', company: 'Analytical Engines' })).body as Contact;
      assert.equal(ada.email, 'Ada@Example.com', 'the address is kept as given');
      const again = await create({ name: 'Ada L.', email: 'ada@example.COM' });
      assert.equal(again.status, 409);
      assert.equal(code(again.body), 'conflict');
      assert.equal((again.body as Refusal).error.existing_id, ada.id);
      const grace = (await create({ name: 'Grace Hopper', email: 'grace@navy.example' })).body as Contact;
      const takeover = await callApi(`${contacts()}/${grace.id}`, editor, {
        method: 'PUT',
        json: { name: 'Grace', email: 'ADA@example.com' },
      });
      assert.equal(takeover.status, 409);
      assert.equal((takeover.body as Refusal).error.existing_id, ada.id);
      // The same address in another instance is another contact.
      const elsewhere = await provisionInstance(service, developer);
      assert.equal(
        (await callApi(`${elsewhere.endpoint_url}/contacts`, editor, { method: 'POST', json: { name: 'Ada', email: 'ada@example.com' } }))
          .status,
        201,
      );
      assert.equal((await create({ name: 'x', email: 'y@z.example' }, reader)).status, 403, 'a reader cannot create');
    });

    it('finds contacts by name, email and company words, as prefixes, through the index', async () => {
      await create({ name: 'Alan Turing', email: 'alan@bletchley.example', company: 'Government Code and Cypher School' });
      await create({ name: 'Katherine Johnson', email: 'kj@nasa.example', company: 'NASA' });
      const names = async (q: string) => (await walk(`q=${encodeURIComponent(q)}`)).map((c) => c.name);
      assert.deepEqual(await names('turing'), ['Alan Turing']);
      assert.deepEqual(await names('tur'), ['Alan Turing'], 'a word prefix');
      assert.deepEqual(await names('bletchley'), ['Alan Turing'], 'a word of the email');
      assert.deepEqual(await names('alan@bletch'), ['Alan Turing'], 'an email as typed');
      assert.deepEqual(await names('cypher school'), ['Alan Turing'], 'company words');
      assert.deepEqual(await names('NASA'), ['Katherine Johnson']);
      assert.deepEqual(await names('katherine turing'), [], 'every word must match');
      assert.deepEqual(await names('uring'), [], 'not the middle of a word');
      assert.deepEqual(await names('%'), [], 'a search without words finds nothing');
      assert.deepEqual(await names('"kat*" OR NOT'), [], 'operators are only words');
    });

    it('versions contacts: ETag, 304, 412 on a stale If-Match', async () => {
      const made = await create({ name: 'Versioned', email: 'v@example.com' });
      const contact = made.body as Contact;
      assert.equal(made.headers.get('etag'), '"1"');
      const url = `${contacts()}/${contact.id}`;
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${reader}`, 'if-none-match': '"1"' } })).status, 304);
      const put = (json: unknown, ifMatch: string) =>
        fetch(url, {
          method: 'PUT',
          headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json', 'if-match': ifMatch },
          body: JSON.stringify(json),
        });
      assert.equal((await put({ name: 'V2', email: 'v@example.com' }, '"1"')).status, 200);
      const stale = await put({ name: 'Lost', email: 'v@example.com' }, '"1"');
      assert.equal(stale.status, 412);
      assert.equal(code(await stale.json()), 'precondition_failed');
      assert.equal(((await callApi(url, reader)).body as Contact).name, 'V2');
      assert.equal((await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${editor}`, 'if-match': '"1"' } })).status, 412);
      assert.equal((await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${editor}`, 'if-match': '"2"' } })).status, 204);
    });

    it('refuses an import with one bad row whole, naming each bad row; nothing changes', async () => {
      const before = await count();
      const existing = (await create({ name: 'Existing', email: 'existing@example.com' })).body as Contact;
      const rows = Array.from({ length: 500 }, (_, i) => ({ name: `Row ${i}`, email: `row${i}@import.example` }));
      for (const [index, bad] of [
        [17, { name: 'No email' }],
        [101, { name: 'Dup', email: 'ROW3@import.example' }],
        [250, { name: 'Taken', email: 'existing@EXAMPLE.com' }],
        [333, { name: 'x', email: 'x@y.example', extra: true }],
      ] as const)
        rows[index] = bad as never;
      const refused = await importRows(rows);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      const error = (refused.body as Refusal).error;
      assert.equal(error.code, 'invalid_request');
      assert.equal(error.error_count, 4);
      assert.deepEqual(
        error.rows.map((r) => [r.index, r.code]),
        [
          [17, 'invalid_request'],
          [101, 'conflict'],
          [250, 'conflict'],
          [333, 'invalid_request'],
        ],
      );
      assert.equal(error.rows[2]?.existing_id, existing.id);
      assert.equal(await count(), before + 1, 'nothing of the batch was imported');
      for (const body of [{ contacts: [] }, { contacts: 'x' }, { rows: [] }, { contacts: Array.from({ length: 10_001 }, () => ({})) }]) {
        const answer = await callApi(`${contacts()}/import`, editor, { method: 'POST', json: body });
        assert.equal(answer.status, 400, JSON.stringify(body).slice(0, 40));
      }
      assert.equal((await callApi(`${contacts()}/import`, reader, { method: 'POST', json: { contacts: rows } })).status, 403);
    });

    it('imports 10 000 contacts in one request and pages through them', async () => {
      const before = await count();
      const rows = Array.from({ length: 10_000 }, (_, i) => ({
        name: `Bulk ${String(i).padStart(5, '0')}`,
        email: `bulk${i}@import.example`,
        company: 'Bulk Co',
      }));
      const answer = await importRows(rows);
      assert.equal(answer.status, 201, JSON.stringify(answer.body).slice(0, 300));
      assert.equal((answer.body as { imported: number; ids: string[] }).ids.length, 10_000);
      const seen = await walk('q=bulk', 999);
      assert.equal(seen.length, 10_000);
      assert.equal(new Set(seen.map((c) => c.id)).size, 10_000, 'every contact once');
      assert.deepEqual(
        seen.slice(0, 2).map((c) => c.name),
        ['Bulk 00000', 'Bulk 00001'],
      );
      assert.equal(await count(), before + 10_000);
      const again = await importRows(rows.slice(0, 3));
      assert.equal(again.status, 400, 'a retried import adds nothing');
    });

    it('serves its OpenAPI description without a token', async () => {
      const answer = await fetch(`${service.url}/openapi.json`);
      assert.equal(answer.status, 200);
      const description = (await answer.json()) as { openapi: string; info: { title: string }; paths: Record<string, unknown> };
      assert.equal(description.info.title, 'crm-contact');
      assert.match(description.openapi, /^3\./);
      assert.ok(description.paths['/contacts/import']);
    });

    it('refuses bad cursors and limits with invalid_request', async () => {
      const first = (await callApi(`${contacts()}?limit=1`, reader)).body as Page;
      for (const query of ['limit=0', 'limit=1001', 'limit=1.5', 'cursor=abc', `cursor=${first.next_cursor}&q=other`]) {
        const answer = await callApi(`${contacts()}?${query}`, reader);
        assert.equal(answer.status, 400, query);
        assert.equal(code(answer.body), 'invalid_request', query);
      }
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 200 }), fc.string({ maxLength: 50 }), async (cursor, q) => {
          const answer = await callApi(`${contacts()}?cursor=${encodeURIComponent(cursor)}&q=${encodeURIComponent(q)}`, reader);
          assert.ok(answer.status === 400 || answer.status === 200, `${answer.status}`);
        }),
        { numRuns: 40 },
      );
    });
  });
}

contactSuite('crm-contact as a product on SQLite', 'sqlite');
contactSuite('crm-contact as a product on PostgreSQL', 'postgres');
