import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Ctx, uniqueName } from './fixtures/context.js';
import { envelope } from './spec-client/envelope.js';
import { get, outcome } from './spec-client/http.js';
import { generateSigningKey } from './spec-client/keys.js';
import { Provider } from './spec-client/provider.js';

export function catalogCases(ctx: Ctx): void {
  const newProvider = () => {
    const name = uniqueName('probe');
    return new Provider(ctx().registryUrl, `${name}.acceptance.test`, `acc-${name}`, 'http://127.0.0.1:9');
  };

  describe('SPEC §6 the catalog', () => {
    test('the local swarm lists the four providers with tiers and regions', () => {
      const types = ctx()
        .catalog.map((entry) => entry.service_type)
        .sort();
      assert.deepEqual(types, ['auth', 'cms-article', 'crm-contact', 'storage-blob']);
      for (const entry of ctx().catalog) {
        for (const field of ['provider', 'provision_url', 'events_url', 'public_key', 'tiers', 'regions', 'description']) {
          assert.ok(field in entry, `${entry.service_type} lacks ${field}`);
        }
      }
    });

    test('our own provider: first PUT needs the admin token, then it is listed', async () => {
      const provider = newProvider();
      const { adminToken } = ctx().swarm.registry;
      assert.equal(outcome(await provider.put(provider.offer())), '403 forbidden', 'no admin token');
      assert.equal(outcome(await provider.put(provider.offer(), 'not-the-token')), '403 forbidden', 'wrong admin token');
      const other = generateSigningKey();
      assert.equal(
        outcome(await provider.put(provider.offer({}, other), adminToken)),
        '401 invalid_signature',
        'not signed by the offered key',
      );
      const answer = await provider.put(provider.offer(), adminToken);
      assert.ok([200, 201].includes(answer.status), answer.text);
      const listed = await get(`${ctx().registryUrl}/v1/catalog/${provider.serviceType}`);
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.services, [provider.entry()]);
    });

    test('later updates need only the stored key; others are refused; replays are refused', async () => {
      const provider = newProvider();
      const { adminToken } = ctx().swarm.registry;
      assert.ok([200, 201].includes((await provider.put(provider.offer(), adminToken)).status));
      const update = provider.offer({ description: 'updated without the admin token' });
      const updated = await provider.put(update);
      assert.ok([200, 201].includes(updated.status), updated.text);
      assert.equal(outcome(await provider.put(update)), '409 nonce_reused');
      const listed = await get(`${ctx().registryUrl}/v1/catalog/${provider.serviceType}`);
      assert.equal(listed.body.services[0].description, 'updated without the admin token');

      const intruder = generateSigningKey();
      const hijack = provider.offer({ public_key: intruder.publicKey }, intruder);
      assert.ok(['401 invalid_signature', '403 forbidden'].includes(outcome(await provider.put(hijack))), 'an intruder key');
      const handover = generateSigningKey();
      const byStored = provider.offer({ public_key: handover.publicKey }, provider.key);
      assert.ok([200, 201].includes((await provider.put(byStored)).status), 'the stored key hands over');
      provider.key = handover;
      assert.ok([200, 201].includes((await provider.put(provider.offer())).status), 'the new key signs');
    });

    test('an offer for another path, or with unknown fields → 400 invalid_request', async () => {
      const provider = newProvider();
      const { adminToken } = ctx().swarm.registry;
      const mismatched = envelope('offer', { ...provider.offer().data, provider: 'else.acceptance.test' }, provider.key);
      assert.equal(outcome(await provider.put(mismatched, adminToken)), '400 invalid_request');
      const extra = envelope('offer', { ...provider.offer().data, price: 1 }, provider.key);
      assert.equal(outcome(await provider.put(extra, adminToken)), '400 invalid_request');
    });

    test('an unknown service type lists nothing', async () => {
      const answer = await get(`${ctx().registryUrl}/v1/catalog/no-such-type`);
      assert.ok(answer.status === 404 || (answer.status === 200 && answer.body.services.length === 0), answer.text);
    });
  });
}
