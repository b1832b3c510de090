import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { catalogEntry, developerWithApps, type OwnedApp } from './fixtures/apps.js';
import type { Ctx } from './fixtures/context.js';
import { newInstance, serviceCall } from './spec-client/binding.js';
import type { Developer } from './spec-client/developer.js';
import { now } from './spec-client/envelope.js';
import { call, get, outcome, post } from './spec-client/http.js';
import { generateSigningKey } from './spec-client/keys.js';
import { ownerQuery as addressedQuery } from './spec-client/owner-query.js';
import { provisionFor } from './spec-client/provisioning.js';

export function ownerReadCases(ctx: Ctx): void {
  describe('SPEC §9.3 the swarm’s Billing: reports from bound instances only, read by the owner only', () => {
    let dev: Developer;
    let app: OwnedApp;
    let other: OwnedApp;
    let serviceId: string;
    const billing = () => ctx().swarm.urls.billing;
    const ownerQuery = (key = dev.master) => addressedQuery(app.appId, billing(), key);

    before(async () => {
      const owned = await developerWithApps(ctx(), ['owned', 'other']);
      dev = owned.dev;
      app = owned.apps[0]!;
      other = owned.apps[1]!;
      const { instance } = await provisionFor(dev, catalogEntry(ctx(), 'crm-contact'), app.appId);
      assert.equal(instance.status, 'active');
      serviceId = instance.service_id;
      const token = await app.auth.mint();
      assert.equal((await call('GET', `${instance.endpoint_url}/contacts`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      await ctx().swarm.flush();
    });

    test('the Master key reads usage (owner_query); another key → 401, a replay → 409', async () => {
      const query = ownerQuery();
      const answer = await post(`${billing()}/v1/usage/query`, query);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.app_id, app.appId);
      assert.ok(answer.body.reports >= 1, answer.text);
      assert.equal(outcome(await post(`${billing()}/v1/usage/query`, query)), '409 nonce_reused');
      assert.equal(outcome(await post(`${billing()}/v1/usage/query`, ownerQuery(generateSigningKey()))), '401 invalid_signature');
      // Addressed to Billing: Logging refuses it, whoever signed it.
      assert.equal(outcome(await post(`${ctx().swarm.urls.logging}/v1/logs/query`, ownerQuery())), '403 forbidden');
    });

    test('a token of the app with the admin role reads; without it → 403; another app’s → 401', async () => {
      const url = `${billing()}/v1/usage?app_id=${app.appId}`;
      const as = async (token: string) => get(url, { authorization: `Bearer ${token}` });
      assert.equal((await as(await app.auth.mint({ roles: ['admin'] }))).status, 200);
      assert.equal(outcome(await as(await app.auth.mint({ roles: ['user'] }))), '403 forbidden');
      assert.equal(outcome(await as(await other.auth.mint({ roles: ['admin'] }))), '401 invalid_token');
      assert.equal(outcome(await get(url)), '401 invalid_token');
    });

    test('reports not signed by a bound instance key are refused', async () => {
      const data = (id: string) => ({ service_id: id, period_start: now() - 10, period_end: now(), metrics: { requests: 1 } });
      const impostor = newInstance('crm-contact', serviceId, 'http://127.0.0.1:9');
      const forged = serviceCall(app.appId, impostor, data(serviceId));
      assert.equal(
        outcome(await post(`${billing()}/v1/usage`, forged)),
        '403 forbidden',
        'a key the instance is not bound with (SPEC §9.3)',
      );
      const unbound = newInstance('crm-contact', 'crm-contact-notbound00', 'http://127.0.0.1:9');
      assert.equal(outcome(await post(`${billing()}/v1/usage`, serviceCall(app.appId, unbound, data(unbound.serviceId)))), '403 forbidden');
      const logs = serviceCall(app.appId, unbound, { entries: [{ level: 'error', message: 'x', at: now() }] });
      assert.equal(outcome(await post(`${ctx().swarm.urls.logging}/v1/logs`, logs)), '403 forbidden');
      const foreignRegistry = serviceCall('com.elsewhere.alice.shop.abcdef', unbound, data(unbound.serviceId));
      assert.equal(outcome(await post(`${billing()}/v1/usage`, foreignRegistry)), '404 unknown_registry');
    });
  });
}
