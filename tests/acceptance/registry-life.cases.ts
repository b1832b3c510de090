import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Ctx } from './fixtures/context.js';
import { type OwnBoundApp, ownBoundApp } from './fixtures/own-provider.js';
import { auditProblems } from './spec-client/audit.js';
import { type Instance, serviceCall } from './spec-client/binding.js';
import { type Data, envelope, fresh, newNonce, now } from './spec-client/envelope.js';
import { type Answer, get, type Json, outcome, post } from './spec-client/http.js';
import { generateSigningKey, type SigningKey, signObject, verifyObject } from './spec-client/keys.js';
import { ownerQuery } from './spec-client/owner-query.js';
import { Receiver } from './spec-client/receiver.js';

export function instanceLifeCases(ctx: Ctx): void {
  describe('SPEC §9.3 at the swarm’s Billing/Logging and §10.1 key rotation, with an instance of our own', () => {
    const events = new Receiver();
    let own: OwnBoundApp;
    let instance: Instance;
    const billing = () => ctx().swarm.urls.billing;
    const logging = () => ctx().swarm.urls.logging;
    const instanceUrl = (path: string) => `${ctx().registryUrl}/v1/apps/${own.appId}/services/${instance.serviceId}${path}`;
    const usage = (key?: SigningKey) =>
      serviceCall(
        own.appId,
        instance,
        { period_start: now() - 60, period_end: now(), metrics: { requests: 3, bytes: 1024 } },
        key ?? instance.key,
      );

    before(async () => {
      await events.start();
      own = await ownBoundApp(ctx(), events.url, 1);
      instance = own.instances[0]!;
    });
    after(() => events.close());

    test('usage signed by our instance key → 202, the same report again → 202 counted once', async () => {
      const report = usage();
      assert.equal((await post(`${billing()}/v1/usage`, report)).status, 202);
      assert.equal((await post(`${billing()}/v1/usage`, report)).status, 202);
      const summary = await post(`${billing()}/v1/usage/query`, ownerQuery(own.appId, billing(), own.dev.master));
      assert.equal(summary.status, 200, summary.text);
      assert.equal(summary.body.reports, 1, summary.text);
      assert.equal(outcome(await post(`${billing()}/v1/usage`, { ...usage(), extra: 1 })), '400 invalid_request');
      const stale = serviceCall(own.appId, instance, { period_start: 1, period_end: 2, metrics: {}, timestamp: now() - 900 });
      assert.equal(outcome(await post(`${billing()}/v1/usage`, stale)), '401 stale_timestamp');
    });

    test('logs signed by our instance key → 202, readable by the owner only', async () => {
      const batch = serviceCall(own.appId, instance, {
        entries: [{ level: 'error', message: 'disk – voll ✓', at: now(), fields: { path: '/x' } }],
      });
      assert.equal((await post(`${logging()}/v1/logs`, batch)).status, 202);
      const read = await post(`${logging()}/v1/logs/query`, ownerQuery(own.appId, logging(), own.dev.master));
      assert.equal(read.status, 200, read.text);
      assert.ok(
        read.body.entries.some((entry: Json) => entry.message === 'disk – voll ✓'),
        read.text,
      );
      const stranger = ownerQuery(own.appId, logging(), generateSigningKey());
      assert.equal(outcome(await post(`${logging()}/v1/logs/query`, stranger)), '401 invalid_signature');
      const token = await own.auth.mint({ roles: ['user'] });
      assert.equal(outcome(await get(`${logging()}/v1/logs?app_id=${own.appId}`, { authorization: `Bearer ${token}` })), '403 forbidden');
    });

    test('§10.1 instance key rotation: attacks refused, then 200; both keys work in the grace period; KEY_ROTATION broadcast', async () => {
      const next = generateSigningKey();
      const rotation = (extra: Data = {}, signer = instance.key, newSigner = next) => {
        const data = {
          app_id: own.appId,
          service_id: instance.serviceId,
          new_public_key: next.publicKey,
          rotation_timestamp: now(),
          nonce: newNonce(),
          context: 'key_rotation',
          ...extra,
        };
        return { ...envelope('key_rotation', data, signer), new_key_signature: signObject('key_rotation', data, newSigner) };
      };
      const { new_key_signature: _, ...withoutNewSignature } = rotation();
      assert.equal(outcome(await post(instanceUrl('/key'), withoutNewSignature)), '400 invalid_request');
      assert.equal(
        outcome(await post(instanceUrl('/key'), rotation({}, instance.key, generateSigningKey()))),
        '401 invalid_signature',
        'new key did not sign',
      );
      assert.equal(
        outcome(await post(instanceUrl('/key'), rotation({}, generateSigningKey()))),
        '401 invalid_signature',
        'not the instance key',
      );
      assert.equal(outcome(await post(instanceUrl('/key'), rotation({ context: 'backbone_update' }))), '400 invalid_request');
      assert.equal(outcome(await post(instanceUrl('/key'), rotation({ rotation_timestamp: now() - 900 }))), '401 stale_timestamp');
      const answer = await post(instanceUrl('/key'), rotation());
      assert.equal(answer.status, 200, answer.text);

      const dns = await get(`${ctx().registryUrl}/v1/apps/${own.appId}/services`);
      assert.equal(dns.body.records.find((item: Json) => item.service_id === instance.serviceId)?.public_key, next.publicKey);
      const old = instance.key;
      assert.equal(
        (await post(instanceUrl('/heartbeat'), serviceCall(own.appId, instance, { status: 'ok' }, old))).status,
        200,
        'old key in grace',
      );
      assert.equal(
        (await post(instanceUrl('/heartbeat'), serviceCall(own.appId, instance, { status: 'degraded' }, next))).status,
        200,
        'new key',
      );
      assert.equal((await post(`${billing()}/v1/usage`, usage(old))).status, 202, 'billing accepts the old key in grace');
      assert.equal((await post(`${billing()}/v1/usage`, usage(next))).status, 202, 'billing accepts the new key');
      instance.key = next;

      await events.waitFor((items) => items.some((item) => item.body?.data?.event === 'KEY_ROTATION'));
      const broadcast = events.received.find((item) => item.body?.data?.event === 'KEY_ROTATION')!.body;
      assert.ok(verifyObject('broadcast', broadcast.data, broadcast.signature, ctx().wellKnown.public_key));
      assert.equal(broadcast.data.service_id, instance.serviceId);
      assert.equal(broadcast.data.old_public_key, old.publicKey);
      assert.equal(broadcast.data.new_public_key, next.publicKey);
      assert.ok(Number.isInteger(broadcast.data.grace_period_expiry));
    });

    test('the audit log is a hash chain naming every change', async () => {
      const log = await get(`${ctx().registryUrl}/v1/apps/${own.appId}/log`);
      assert.equal(log.status, 200);
      assert.deepEqual(auditProblems(log.body.entries), []);
      const names = log.body.entries.map((entry: Json) => entry.event);
      for (const event of ['app_registered', 'auth_delegated', 'service_bound', 'instance_key_rotated'])
        assert.ok(names.includes(event), `${event} in ${names}`);
    });

    test('emergency revocation: Billing and Logging refuse the instance’s reports from then on', async () => {
      const data = fresh({ app_id: own.appId, service_id: instance.serviceId, context: 'decommission' });
      assert.equal((await post(instanceUrl('/decommission'), envelope('decommission', data, own.dev.master))).status, 200);
      await events.waitFor((items) => items.some((item) => item.body?.data?.event === 'SERVICE_REVOKED'));
      assert.equal(await eventually(() => post(`${billing()}/v1/usage`, usage()), '403 forbidden'), '403 forbidden');
      const batch = () => serviceCall(own.appId, instance, { entries: [{ level: 'info', message: 'after revocation', at: now() }] });
      assert.equal(await eventually(() => post(`${logging()}/v1/logs`, batch()), '403 forbidden'), '403 forbidden');
      const again = envelope(
        'decommission',
        fresh({ app_id: own.appId, service_id: instance.serviceId, context: 'decommission' }),
        own.dev.master,
      );
      assert.equal((await post(instanceUrl('/decommission'), again)).status, 200, 'revoking twice is harmless');
      const foreign = envelope(
        'decommission',
        fresh({ app_id: own.appId, service_id: instance.serviceId, context: 'decommission' }),
        generateSigningKey(),
      );
      assert.equal(outcome(await post(instanceUrl('/decommission'), foreign)), '401 invalid_signature');
    });
  });
}

/** The broadcast reaches Billing and Logging asynchronously: give them a few seconds. */
async function eventually(send: () => Promise<Answer>, expected: string, seconds = 10): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  let last = outcome(await send());
  while (last !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    last = outcome(await send());
  }
  return last;
}
