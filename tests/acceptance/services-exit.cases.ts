import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogEntry, type WorldRef } from './fixtures/apps.js';
import { envelope, fresh } from './spec-client/envelope.js';
import { call, get, type Json, outcome, post } from './spec-client/http.js';
import { verifyObject } from './spec-client/keys.js';

export function exitCases(world: WorldRef): void {
  describe('SPEC §11 exit: termination receipt, revocation, 410 gone', () => {
    const terminate = async (type: string, dataHandling: 'wipe' | 'retain') => {
      const { ctx, dev, b, instances } = world();
      const instance = instances.get(`b:${type}`)!;
      const dns = await get(`${ctx.registryUrl}/v1/apps/${b.appId}/services?type=${type}`);
      const record = dns.body.records.find((item: Json) => item.service_id === instance.service_id);
      const data = fresh({
        app_id: b.appId,
        service_id: instance.service_id,
        context: 'permanent_termination',
        data_handling: dataHandling,
      });
      const answer = await call('DELETE', `${catalogEntry(ctx, type).provision_url}/${instance.service_id}`, {
        body: envelope('permanent_termination', data, dev.master),
      });
      return { answer, instance, record };
    };

    test('retain: 200 with a receipt signed by the instance key; the instance answers 410 gone; revocation with the receipt', async () => {
      const { ctx, dev, b } = world();
      const { answer, instance, record } = await terminate('crm-contact', 'retain');
      assert.equal(answer.status, 200, answer.text);
      const receipt = answer.body;
      assert.equal(receipt.version, '1.0');
      assert.equal(receipt.data.app_id, b.appId);
      assert.equal(receipt.data.service_id, instance.service_id);
      assert.equal(receipt.data.status, 'success');
      assert.ok(receipt.data.receipt_id && Number.isInteger(receipt.data.timestamp));
      assert.ok(verifyObject('termination_receipt', receipt.data, receipt.signature, record.public_key), 'receipt signature');
      const token = await b.auth.mint();
      assert.equal(
        outcome(await call('GET', `${instance.endpoint_url}/contacts`, { headers: { authorization: `Bearer ${token}` } })),
        '410 gone',
      );

      const tampered = { ...receipt, data: { ...receipt.data, message: `${receipt.data.message} (edited)` } };
      const withTampered = envelope(
        'decommission',
        fresh({ app_id: b.appId, service_id: instance.service_id, context: 'decommission', provider_receipt: tampered }),
        dev.master,
      );
      const refused = await post(`${ctx.registryUrl}/v1/apps/${b.appId}/services/${instance.service_id}/decommission`, withTampered);
      assert.equal(outcome(refused), '401 invalid_signature', 'a tampered receipt');
      const noContext = envelope('decommission', fresh({ app_id: b.appId, service_id: instance.service_id }), dev.master);
      assert.equal(
        outcome(await post(`${ctx.registryUrl}/v1/apps/${b.appId}/services/${instance.service_id}/decommission`, noContext)),
        '400 invalid_request',
      );
      const revoke = envelope(
        'decommission',
        fresh({ app_id: b.appId, service_id: instance.service_id, context: 'decommission', provider_receipt: receipt }),
        dev.master,
      );
      const revoked = await post(`${ctx.registryUrl}/v1/apps/${b.appId}/services/${instance.service_id}/decommission`, revoke);
      assert.equal(revoked.status, 200, revoked.text);
      const dns = await get(`${ctx.registryUrl}/v1/apps/${b.appId}/services`);
      assert.ok(!dns.body.records.some((item: Json) => item.service_id === instance.service_id));
    });

    test('wipe: 200, then the instance answers 404 not_found or 410 gone', async () => {
      const { b } = world();
      const { answer, instance } = await terminate('storage-blob', 'wipe');
      assert.equal(answer.status, 200, answer.text);
      const after = await call('GET', `${instance.endpoint_url}/objects`, { headers: { authorization: `Bearer ${await b.auth.mint()}` } });
      assert.ok(['404 not_found', '410 gone'].includes(outcome(after)), outcome(after));
    });

    test('a termination signed by another key → 401 invalid_signature', async () => {
      const { ctx, a, b } = world();
      const instance = world().instances.get('b:cms-article')!;
      const data = fresh({ app_id: b.appId, service_id: instance.service_id, context: 'permanent_termination', data_handling: 'wipe' });
      const forged = envelope('permanent_termination', data, a.auth.key);
      const answer = await call('DELETE', `${catalogEntry(ctx, 'cms-article').provision_url}/${instance.service_id}`, { body: forged });
      assert.equal(outcome(answer), '401 invalid_signature');
      const wrongContext = envelope(
        'permanent_termination',
        { ...data, nonce: fresh({}).nonce, context: 'decommission' },
        world().dev.master,
      );
      const refused = await call('DELETE', `${catalogEntry(ctx, 'cms-article').provision_url}/${instance.service_id}`, {
        body: wrongContext,
      });
      assert.equal(outcome(refused), '400 invalid_request');
    });
  });
}

/** SPEC §11.3: revocation at the registry without a receipt reaches the provider, which stops serving within 10 s. */
export function doubleKillCases(world: WorldRef): void {
  describe('SPEC §11.3 emergency revocation ("double kill") of a domain instance', () => {
    test('the registry revokes; the provider answers 410 gone within 10 s; the status URL says revoked', async () => {
      const { ctx, dev, b, instances } = world();
      const instance = instances.get('b:cms-article')!;
      const data = fresh({ app_id: b.appId, service_id: instance.service_id, context: 'decommission' });
      const answer = await post(
        `${ctx.registryUrl}/v1/apps/${b.appId}/services/${instance.service_id}/decommission`,
        envelope('decommission', data, dev.master),
      );
      assert.equal(answer.status, 200, answer.text);
      const started = Date.now();
      let last = '';
      while (Date.now() - started < 12_000) {
        last = outcome(
          await call('GET', `${instance.endpoint_url}/articles`, { headers: { authorization: `Bearer ${await b.auth.mint()}` } }),
        );
        if (last === '410 gone') break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.equal(last, '410 gone', `after ${Date.now() - started} ms`);
      const status = await get(`${catalogEntry(ctx, 'cms-article').provision_url}/${instance.service_id}`);
      assert.equal(status.body?.status, 'revoked', status.text);
    });

    test('the receipt-revoked crm-contact instance reports revoked on its status URL', async () => {
      const { ctx, instances } = world();
      const instance = instances.get('b:crm-contact')!;
      const status = await get(`${catalogEntry(ctx, 'crm-contact').provision_url}/${instance.service_id}`);
      assert.equal(status.body?.status, 'revoked', status.text);
    });
  });
}
