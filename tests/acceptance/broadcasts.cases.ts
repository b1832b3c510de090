import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { catalogEntry, developerWithApps, type OwnedApp } from './fixtures/apps.js';
import type { Ctx } from './fixtures/context.js';
import { envelope, fresh, now } from './spec-client/envelope.js';
import { call, outcome, post } from './spec-client/http.js';
import { generateSigningKey } from './spec-client/keys.js';
import { provisionFor } from './spec-client/provisioning.js';

export function broadcastCases(ctx: Ctx): void {
  describe('SPEC §9.4 receivers verify the registry signature of broadcasts', () => {
    let app: OwnedApp;
    let serviceId: string;
    let articles: string;

    before(async () => {
      const owned = await developerWithApps(ctx(), ['broadcast_target']);
      app = owned.apps[0]!;
      const { instance } = await provisionFor(owned.dev, catalogEntry(ctx(), 'cms-article'), app.appId);
      serviceId = instance.service_id;
      articles = `${instance.endpoint_url}/articles`;
    });

    const revoked = (extra: Record<string, unknown> = {}) =>
      fresh({ origin: ctx().wellKnown.authority, event: 'SERVICE_REVOKED', app_id: app.appId, service_id: serviceId, ...extra });

    test('a SERVICE_REVOKED broadcast not signed by the registry key → 401 invalid_signature everywhere; the instance keeps serving', async () => {
      const forged = envelope('broadcast', revoked(), generateSigningKey());
      const { swarm, catalog } = ctx();
      const receivers = [...catalog.map((entry) => entry.events_url), `${swarm.urls.billing}/v1/events`, `${swarm.urls.logging}/v1/events`];
      for (const url of receivers) assert.equal(outcome(await post(url, forged)), '401 invalid_signature', url);
      const stale = envelope('broadcast', revoked({ timestamp: now() - 3600 }), generateSigningKey());
      const staleAnswer = outcome(await post(catalogEntry(ctx(), 'cms-article').events_url, stale));
      assert.ok(['401 stale_timestamp', '401 invalid_signature'].includes(staleAnswer), staleAnswer);
      const answer = await call('GET', articles, { headers: { authorization: `Bearer ${await app.auth.mint()}` } });
      assert.equal(answer.status, 200, 'a forged revocation stops nothing');
    });
  });
}
