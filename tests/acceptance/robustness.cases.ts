import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { catalogEntry, developerWithApps, type OwnedApp } from './fixtures/apps.js';
import type { Ctx } from './fixtures/context.js';
import type { Developer } from './spec-client/developer.js';
import { call, outcome } from './spec-client/http.js';
import { provisionFor } from './spec-client/provisioning.js';

/** Malformed bodies every JSON endpoint must answer with a SPEC §14 error below 500. */
const MALFORMED: string[] = [
  '',
  'null',
  '[]',
  '{}',
  '"x"',
  '{"version":"1.0"}',
  '{"version":"1.0","data":null,"signature":1}',
  '{"version":"1.0","data":{"timestamp":1e400,"nonce":"aaaaaaaa"},"signature":"00"}',
  '{"version":"1.0","data":{"nonce":"\\ud800\\udfff\\ud800"},"signature":"zz"}',
  `${'['.repeat(20000)}${']'.repeat(20000)}`,
  `{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
  '{"version":"1.0","data":{"__proto__":{"admin":true}},"signature":""}',
  '{"version":1,"data":[],"signature":[]}',
];

export function robustnessCases(ctx: Ctx): void {
  describe('SPEC §14: no input, however malformed, produces a 500', () => {
    let app: OwnedApp;
    let dev: Developer;
    const endpoints: Array<[string, string]> = [];

    before(async () => {
      const { registryUrl, swarm, catalog } = ctx();
      const owned = await developerWithApps(ctx(), ['robust']);
      app = owned.apps[0]!;
      dev = owned.dev;
      const appId = app.appId;
      endpoints.push(
        ['POST', `${registryUrl}/v1/namespaces`],
        ['POST', `${registryUrl}/v1/apps`],
        ['POST', `${registryUrl}/v1/apps/${appId}/auth`],
        ['PATCH', `${registryUrl}/v1/apps/${appId}/operational-context`],
        ['POST', `${registryUrl}/v1/bindings`],
        ['POST', `${registryUrl}/v1/apps/${appId}/services/x-service-1/context`],
        ['POST', `${registryUrl}/v1/apps/${appId}/services/x-service-1/heartbeat`],
        ['POST', `${registryUrl}/v1/apps/${appId}/services/x-service-1/key`],
        ['POST', `${registryUrl}/v1/apps/${appId}/services/x-service-1/decommission`],
        ['POST', `${registryUrl}/v1/namespaces/nobody/master-key`],
        ['POST', `${registryUrl}/v1/namespaces/nobody/recovery`],
        ['PUT', `${registryUrl}/v1/catalog/x.acceptance.test`],
        ['POST', `${swarm.urls.billing}/v1/usage`],
        ['POST', `${swarm.urls.billing}/v1/usage/query`],
        ['POST', `${swarm.urls.logging}/v1/logs`],
        ['POST', `${swarm.urls.logging}/v1/logs/query`],
      );
      for (const entry of catalog) {
        endpoints.push(['POST', entry.provision_url], ['POST', entry.events_url], ['DELETE', `${entry.provision_url}/x-service-1`]);
      }
      for (const type of ['cms-article', 'crm-contact']) {
        const { instance } = await provisionFor(owned.dev, catalogEntry(ctx(), type), appId);
        const collection = `${instance.endpoint_url}/${type === 'cms-article' ? 'articles' : 'contacts'}`;
        endpoints.push(['POST', collection], ['PUT', `${collection}/some-id`]);
      }
    });

    test('every malformed body → a SPEC §14 error below 500', async () => {
      const token = await app.auth.mint();
      const failures: string[] = [];
      await Promise.all(
        endpoints.map(async ([method, url]) => {
          for (const body of MALFORMED) {
            const answer = await call(method, url, {
              body,
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            });
            const result = outcome(answer);
            if (answer.status >= 500 || result.includes('<not a SPEC §14 error'))
              failures.push(`${method} ${url} ${body.slice(0, 60)} → ${result}`);
          }
        }),
      );
      assert.deepEqual(failures, []);
    });

    test('odd paths and headers → below 500', async () => {
      const { registryUrl } = ctx();
      const token = await app.auth.mint();
      const blob = await provisionFor(dev, catalogEntry(ctx(), 'storage-blob'), app.appId);
      const urls = [
        `${registryUrl}/v1/apps/${'a'.repeat(5000)}`,
        `${registryUrl}/v1/apps/%00%ff/services`,
        `${registryUrl}/v1/namespaces/%E0%A4%A`,
        `${registryUrl}/v1/catalog/${'x'.repeat(3000)}`,
        `${registryUrl}/v1/apps/local.swarm.a.b.cccccc/log`,
      ];
      urls.push(`${blob.instance.endpoint_url}/objects/${'k'.repeat(1100)}`, `${blob.instance.endpoint_url}/objects/%ff%fe`);
      for (const url of urls) {
        const answer = await call('GET', url, { headers: { authorization: `Bearer ${token}` } });
        assert.ok(answer.status < 500, `${url.slice(0, 120)} → ${answer.status}`);
        if (answer.status >= 400) assert.ok(!outcome(answer).includes('<not a SPEC §14'), `${url.slice(0, 80)}: ${outcome(answer)}`);
      }
    });
  });
}
