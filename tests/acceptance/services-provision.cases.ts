import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogEntry, type WorldRef } from './fixtures/apps.js';
import { uniqueName } from './fixtures/context.js';
import { Developer } from './spec-client/developer.js';
import { envelope, now } from './spec-client/envelope.js';
import { call, get, outcome, post } from './spec-client/http.js';
import { generateSigningKey, signObject } from './spec-client/keys.js';
import { provisionFor } from './spec-client/provisioning.js';

const DOMAIN_TYPES = ['cms-article', 'crm-contact', 'storage-blob'] as const;

export function provisioningCases(world: WorldRef): void {
  describe('SPEC §5.1 provisioning the three domain services with our own signed requests', () => {
    for (const type of DOMAIN_TYPES) {
      test(`${type}: 201 active, bound in Service DNS, status URL active`, async () => {
        const { ctx, dev, a, b, instances } = world();
        const entry = catalogEntry(ctx, type);
        const tier = entry.tiers.find((item) => item.name === 'pro_cluster')!;
        const { answer, instance } = await provisionFor(dev, entry, a.appId, { storage_limit_gb: 20 });
        assert.ok([201, 202].includes(answer.status), answer.text);
        assert.equal(instance.status, 'active', JSON.stringify(instance));
        assert.ok(20 <= tier.storage_limit_gb_max);
        for (const [field, value] of Object.entries({
          app_id: a.appId,
          service_type: type,
          service_tier: 'pro_cluster',
          region: 'eu-central-1',
          storage_limit_gb: 20,
        })) {
          assert.equal(instance[field], value, field);
        }
        assert.match(instance.service_id, /^[a-z0-9][a-z0-9-]{2,127}$/);
        assert.ok(Number.isInteger(instance.bound_at));
        instances.set(`a:${type}`, instance);

        const status = await get(`${entry.provision_url}/${instance.service_id}`);
        assert.equal(status.status, 200, status.text);
        assert.equal(status.body.status, 'active');
        const dns = await get(`${ctx.registryUrl}/v1/apps/${a.appId}/services?type=${type}`);
        const record = dns.body.records.find((item: { service_id: string }) => item.service_id === instance.service_id);
        assert.equal(record?.endpoint_url, instance.endpoint_url);
        assert.equal(record?.provider, entry.provider);

        const forB = await provisionFor(dev, entry, b.appId);
        assert.equal(forB.instance.status, 'active', 'app B gets its own instance; storage defaults to the tier default');
        assert.equal(forB.instance.storage_limit_gb, tier.storage_limit_gb_default);
        instances.set(`b:${type}`, forB.instance);
      });
    }

    test('attacks on the provisioning request (cms-article), each with its SPEC code', async () => {
      const { ctx, dev, a } = world();
      const entry = catalogEntry(ctx, 'cms-article');
      const base = { service_tier: 'pro_cluster', region: 'eu-central-1' };
      const send = (extra: Record<string, unknown>, key = dev.master, purpose = 'provision') => {
        const request = dev.provisioning(a.appId, entry.provider, { ...base, ...extra });
        if (key !== dev.master || purpose !== 'provision') request.signature = signObject(purpose, request.data, key);
        return post(entry.provision_url, request);
      };
      const stranger = generateSigningKey();
      assert.equal(outcome(await send({ target_provider: 'contact.crm.local' })), '403 wrong_provider');
      assert.equal(outcome(await send({ service_tier: 'gold' })), '422 unsupported_tier');
      assert.equal(outcome(await send({ region: 'mars-1' })), '422 unsupported_region');
      assert.equal(outcome(await send({ storage_limit_gb: 101 })), '422 storage_limit_exceeded');
      assert.equal(outcome(await send({ service_tier: 'free', storage_limit_gb: 2 })), '422 storage_limit_exceeded');
      assert.equal(outcome(await send({ timestamp: now() - 400 })), '401 stale_timestamp');
      assert.equal(outcome(await send({ app_id: 'com.elsewhere.alice.shop.abcdef' })), '404 unknown_registry');
      assert.equal(outcome(await send({ app_id: a.appId.replace(/\.[a-z0-9]+$/, '.zzzzzz999') })), '404 unknown_app');
      assert.equal(outcome(await send({ app_id: 'not-an-app-id' })), '400 invalid_app_id');
      assert.equal(outcome(await send({}, stranger)), '401 invalid_signature', 'forged');
      assert.equal(outcome(await send({}, dev.master, 'app')), '401 invalid_signature', 'purpose swapped');
      assert.equal(outcome(await send({ extra: 1 })), '400 invalid_request');
      assert.equal(outcome(await send({ storage_limit_gb: '5' })), '400 invalid_request');
      const versioned = { ...dev.provisioning(a.appId, entry.provider, base), version: '2.0' };
      assert.equal(outcome(await post(entry.provision_url, versioned)), '400 unsupported_version');
      assert.equal(outcome(await post(entry.provision_url, '{"version":"1.0","data":{')), '400 invalid_request');
      const text = JSON.stringify(dev.provisioning(a.appId, entry.provider, base));
      assert.equal(
        outcome(await post(entry.provision_url, text.replace('"data":{', '"data":{"region":"local",'))),
        '400 invalid_request',
        'duplicate key',
      );
      assert.equal(
        outcome(await post(entry.provision_url, text.replace('"data":{', '"data":{"__proto__":{"x":1},'))),
        '400 invalid_request',
        '__proto__',
      );
      assert.equal(outcome(await post(entry.provision_url, `{"pad":"${'x'.repeat(70 * 1024)}"}`)), '413 payload_too_large');
    });

    test('SPEC §5.1 order: cheaper checks answer first', async () => {
      const { ctx, dev, a } = world();
      const entry = catalogEntry(ctx, 'cms-article');
      const forged = (extra: Record<string, unknown>) => {
        const request = dev.provisioning(a.appId, entry.provider, { service_tier: 'pro_cluster', region: 'eu-central-1', ...extra });
        return post(entry.provision_url, { ...request, signature: signObject('provision', request.data, generateSigningKey()) });
      };
      const old = now() - 400;
      assert.equal(outcome(await forged({ target_provider: 'x.example', service_tier: 'gold', timestamp: old })), '403 wrong_provider');
      assert.equal(outcome(await forged({ service_tier: 'gold', timestamp: old })), '422 unsupported_tier');
      assert.equal(outcome(await forged({ region: 'mars-1', timestamp: old })), '422 unsupported_region');
      assert.equal(outcome(await forged({ timestamp: old, app_id: 'com.elsewhere.alice.shop.abcdef' })), '401 stale_timestamp');
      assert.equal(outcome(await forged({ app_id: 'com.elsewhere.alice.shop.abcdef' })), '404 unknown_registry');
      assert.equal(outcome(await forged({ app_id: a.appId.replace(/\.[a-z0-9]+$/, '.zzzzzz999') })), '404 unknown_app');
    });

    test('replay → 409 nonce_reused; a forged request first does not burn the nonce', async () => {
      const { ctx, dev, a } = world();
      const entry = catalogEntry(ctx, 'crm-contact');
      const request = dev.provisioning(a.appId, entry.provider, { service_tier: 'free', region: 'local' });
      const forged = { ...request, signature: signObject('provision', request.data, generateSigningKey()) };
      assert.equal(outcome(await post(entry.provision_url, forged)), '401 invalid_signature');
      const real = await post(entry.provision_url, request);
      assert.ok([201, 202].includes(real.status), real.text);
      assert.equal(outcome(await post(entry.provision_url, request)), '409 nonce_reused');
    });

    test("a provisioning request signed by another namespace's Master key → 401 invalid_signature", async () => {
      const { ctx, a } = world();
      const mallory = new Developer(ctx.registryUrl, uniqueName('mallory'));
      await mallory.claim();
      const entry = catalogEntry(ctx, 'storage-blob');
      const request = envelope(
        'provision',
        mallory.provisioning(a.appId, entry.provider, { service_tier: 'free', region: 'local' }).data,
        mallory.master,
      );
      assert.equal(outcome(await post(entry.provision_url, request)), '401 invalid_signature');
    });

    test('a suspended app → 403 app_suspended at the registry and at the service; resumed, it provisions', async () => {
      const { ctx, dev } = world();
      const appId = await dev.registerApp('suspended_app');
      const admin = { authorization: `Bearer ${ctx.swarm.registry.adminToken}` };
      assert.equal((await call('POST', `${ctx.registryUrl}/v1/admin/apps/${appId}/suspend`, { headers: admin })).status, 200);
      assert.equal(outcome(await get(`${ctx.registryUrl}/v1/apps/${appId}/master-key`)), '403 app_suspended');
      const entry = catalogEntry(ctx, 'cms-article');
      const request = () => dev.provisioning(appId, entry.provider, { service_tier: 'free', region: 'local' });
      assert.equal(outcome(await post(entry.provision_url, request())), '403 app_suspended');
      assert.equal((await call('POST', `${ctx.registryUrl}/v1/admin/apps/${appId}/resume`, { headers: admin })).status, 200);
      const deadline = Date.now() + 65_000;
      let answer = await post(entry.provision_url, request());
      while (answer.status === 403 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        answer = await post(entry.provision_url, request());
      }
      assert.ok([201, 202].includes(answer.status), answer.text);
    });

    test('an unknown service_id on the status URL → 404 not_found', async () => {
      const entry = catalogEntry(world().ctx, 'cms-article');
      assert.equal(outcome(await get(`${entry.provision_url}/cms-article-doesnotexist`)), '404 not_found');
    });
  });
}
