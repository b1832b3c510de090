import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogEntry, type WorldRef } from './fixtures/apps.js';
import { call, outcome } from './spec-client/http.js';
import { provisionFor } from './spec-client/provisioning.js';

export function domainCases(world: WorldRef): void {
  const as = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(method, url, {
      ...(body === undefined ? {} : { body }),
      headers: { authorization: `Bearer ${await world().a.auth.mint()}`, ...headers },
    });
  const endpoint = (type: string) => world().instances.get(`a:${type}`)!.endpoint_url;

  describe('SPEC §12 the functional services', () => {
    test('cms-article: create, list, read, update, delete', async () => {
      const url = `${endpoint('cms-article')}/articles`;
      const created = await as('POST', url, { title: 'Grüße', body: 'Ünïcode body ✓', tags: ['news', 'de'] });
      assert.equal(created.status, 201, created.text);
      const { id } = created.body;
      assert.ok(id);
      assert.equal(created.body.title, 'Grüße');
      const listed = await as('GET', url);
      assert.equal(listed.status, 200);
      assert.ok(JSON.stringify(listed.body).includes(id));
      assert.deepEqual((await as('GET', `${url}/${id}`)).body.tags, ['news', 'de']);
      const updated = await as('PUT', `${url}/${id}`, { title: 'Updated', body: 'new body' });
      assert.equal(updated.status, 200, updated.text);
      assert.equal((await as('GET', `${url}/${id}`)).body.title, 'Updated');
      assert.ok([200, 204].includes((await as('DELETE', `${url}/${id}`)).status));
      assert.equal(outcome(await as('GET', `${url}/${id}`)), '404 not_found');
      assert.equal(outcome(await as('POST', url, { body: 'no title' })), '400 invalid_request');
      assert.equal(outcome(await as('POST', url, '{"title":"a","title":"b","body":"x"}')), '400 invalid_request');
    });

    test('crm-contact: create, search with ?q=, update, delete', async () => {
      const url = `${endpoint('crm-contact')}/contacts`;
      const ada = await as('POST', url, { name: 'Ada Lovelace', email: 'ada@engine.test', company: 'Analytical Engines' });
      assert.equal(ada.status, 201, ada.text);
      const bob = await as('POST', url, { name: 'Bob Builder', email: 'bob@build.test', notes: 'can fix it' });
      assert.equal(bob.status, 201, bob.text);
      const found = await as('GET', `${url}?q=${encodeURIComponent('Analytical')}`);
      assert.equal(found.status, 200, found.text);
      const text = JSON.stringify(found.body);
      assert.ok(text.includes(ada.body.id) && !text.includes(bob.body.id), text);
      const all = JSON.stringify((await as('GET', url)).body);
      assert.ok(all.includes(ada.body.id) && all.includes(bob.body.id));
      const updated = await as('PUT', `${url}/${bob.body.id}`, { name: 'Bob Builder', email: 'bob@fixed.test' });
      assert.equal(updated.status, 200, updated.text);
      assert.equal((await as('GET', `${url}/${bob.body.id}`)).body.email, 'bob@fixed.test');
      assert.ok([200, 204].includes((await as('DELETE', `${url}/${bob.body.id}`)).status));
      assert.equal(outcome(await as('GET', `${url}/${bob.body.id}`)), '404 not_found');
    });

    test('storage-blob: a key with "/" and non-ASCII, bytes round-trip, list, delete', async () => {
      const key = 'docs/2026/résumé final.bin';
      const url = `${endpoint('storage-blob')}/objects/${key.split('/').map(encodeURIComponent).join('/')}`;
      const bytes = Buffer.from(Array.from({ length: 3000 }, (_, index) => index % 256));
      const put = await as('PUT', url, bytes, { 'content-type': 'application/octet-stream' });
      assert.ok([200, 201].includes(put.status), put.text);
      const read = await fetch(url, { headers: { authorization: `Bearer ${await world().a.auth.mint()}` } });
      assert.equal(read.status, 200);
      assert.deepEqual(Buffer.from(await read.arrayBuffer()), bytes);
      const listed = await as('GET', `${endpoint('storage-blob')}/objects`);
      assert.equal(listed.status, 200);
      assert.ok(JSON.stringify(listed.body).includes(JSON.stringify(key).slice(1, -1)), listed.text);
      assert.ok([200, 204].includes((await as('DELETE', url)).status));
      assert.equal(outcome(await as('GET', url)), '404 not_found');
    });

    test('storage-blob: 8 MiB of raw bytes round-trip (streamed, no 64 KiB limit)', async () => {
      const url = `${endpoint('storage-blob')}/objects/big/eight.bin`;
      const bytes = Buffer.alloc(8 * 1024 * 1024);
      for (let index = 0; index < bytes.length; index += 4096) bytes[index] = index % 251;
      const put = await as('PUT', url, bytes, { 'content-type': 'application/octet-stream' });
      assert.ok([200, 201].includes(put.status), put.text);
      const read = await fetch(url, { headers: { authorization: `Bearer ${await world().a.auth.mint()}` } });
      assert.equal(read.status, 200);
      assert.ok(Buffer.from(await read.arrayBuffer()).equals(bytes));
    });

    test('storage-blob: a write past storage_limit_gb → 422 quota_exceeded and nothing is kept', async () => {
      const { ctx, dev, a } = world();
      const { instance } = await provisionFor(dev, catalogEntry(ctx, 'storage-blob'), a.appId, {
        service_tier: 'free',
        storage_limit_gb: 0,
      });
      assert.equal(instance.status, 'active', JSON.stringify(instance));
      const url = `${instance.endpoint_url}/objects/too/big.bin`;
      const answer = await as('PUT', url, Buffer.alloc(64 * 1024, 7), { 'content-type': 'application/octet-stream' });
      assert.equal(outcome(answer), '422 quota_exceeded');
      assert.equal(outcome(await as('GET', url)), '404 not_found');
      const listed = await as('GET', `${instance.endpoint_url}/objects`);
      assert.ok(!listed.text.includes('big.bin'), listed.text);
    });
  });
}
