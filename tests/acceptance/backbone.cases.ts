import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { catalogEntry, developerWithApps, type OwnedApp } from './fixtures/apps.js';
import type { Ctx } from './fixtures/context.js';
import type { Developer } from './spec-client/developer.js';
import { call } from './spec-client/http.js';
import { verifyObject } from './spec-client/keys.js';
import { provisionFor } from './spec-client/provisioning.js';
import { type Received, Receiver } from './spec-client/receiver.js';
import { judgeReport, type ReportVerdict } from './spec-client/report-check.js';

export function backboneUpdateCases(ctx: Ctx): void {
  describe('SPEC §10.2 backbone update to our own Billing and Logging, §9.3 signed usage, §9.4 broadcasts', () => {
    const verdicts = new Map<Received, ReportVerdict>();
    /** Nonces whose first delivery we refuse with 503, to see the report kept and retried. */
    const refuseOnce = new Set<string>();
    let refusedNonce: string | null = null;
    const judge = (kind: 'usage' | 'logs') => async (received: Received) => {
      if (received.path === '/v1/events') return { status: 202, body: { accepted: true } };
      if (received.path !== `/v1/${kind}`) return { status: 404, body: { error: { code: 'not_found', message: received.path } } };
      if (kind === 'usage' && refuseOnce.size === 0 && refusedNonce === null) {
        refusedNonce = received.body?.data?.nonce ?? null;
        refuseOnce.add(String(refusedNonce));
        return { status: 503, body: { error: { code: 'registry_unavailable', message: 'down for the test' } } };
      }
      const verdict = await judgeReport(ctx().registryUrl, kind, received.body);
      verdicts.set(received, verdict);
      return verdict.status === 202
        ? { status: 202, body: { accepted: true } }
        : { status: verdict.status, body: { error: { code: 'forbidden', message: verdict.reason } } };
    };
    const billing = new Receiver(judge('usage'));
    const logging = new Receiver(judge('logs'));
    let dev: Developer;
    let app: OwnedApp;
    let articlesUrl: string;

    before(async () => {
      await Promise.all([billing.start(), logging.start()]);
      const owned = await developerWithApps(ctx(), ['metered']);
      dev = owned.dev;
      app = owned.apps[0]!;
      const { instance } = await provisionFor(dev, catalogEntry(ctx(), 'cms-article'), app.appId);
      assert.equal(instance.status, 'active');
      articlesUrl = `${instance.endpoint_url}/articles`;
    });
    after(() => Promise.all([billing.close(), logging.close()]));

    const use = async () => call('GET', articlesUrl, { headers: { authorization: `Bearer ${await app.auth.mint()}` } });

    test('PATCH operational-context (Master-signed) → 200; BACKBONE_UPDATE reaches our Billing and Logging, signed by the registry', async () => {
      const { config_epoch: before } = (await dev.delegate(app.appId, app.auth.key.publicKey, app.auth.issuer)).body;
      const update = dev.backboneUpdate(app.appId, { billing_provider_url: billing.url, logging_service_url: logging.url });
      const answer = await call('PATCH', `${ctx().registryUrl}/v1/apps/${app.appId}/operational-context`, { body: update });
      assert.equal(answer.status, 200, answer.text);
      for (const receiver of [billing, logging]) {
        await receiver.waitFor((items) => items.some((item) => item.path === '/v1/events' && item.body?.data?.event === 'BACKBONE_UPDATE'));
        const broadcast = receiver.on('/v1/events').find((item) => item.body.data.event === 'BACKBONE_UPDATE')!.body;
        assert.ok(verifyObject('broadcast', broadcast.data, broadcast.signature, ctx().wellKnown.public_key), 'registry signature');
        assert.equal(broadcast.data.app_id, app.appId);
        assert.ok(broadcast.data.config_epoch > before, `epoch ${broadcast.data.config_epoch} > ${before}`);
        assert.equal(typeof broadcast.data.origin, 'string');
      }
    });

    test('the instance picks the new Billing up: signed usage arrives, verified with the instance key from Service DNS', async () => {
      const deadline = Date.now() + 40_000;
      const accepted = () => [...verdicts].filter(([item, verdict]) => item.path === '/v1/usage' && verdict.status === 202);
      while (accepted().length === 0 && Date.now() < deadline) {
        assert.equal((await use()).status, 200);
        await ctx().swarm.flush();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.ok(accepted().length > 0, `no accepted usage; received ${JSON.stringify(billing.received.map((item) => item.path))}`);
      for (const [item, verdict] of verdicts) {
        if (item.path !== '/v1/usage') continue;
        assert.equal(verdict.status, 202, `a usage report failed: ${verdict.reason} ${JSON.stringify(item.body)}`);
        const { data } = item.body;
        assert.equal(data.app_id, app.appId);
        assert.ok(data.period_start <= data.period_end);
        assert.ok(Object.values(data.metrics).every((value) => typeof value === 'number'));
      }
    });

    test('a report refused with 503 is kept and sent again with the same nonce', async () => {
      assert.ok(refusedNonce, 'the first usage report was refused');
      const deadline = Date.now() + 40_000;
      const retried = () => [...verdicts].some(([item, verdict]) => item.body?.data?.nonce === refusedNonce && verdict.status === 202);
      while (!retried() && Date.now() < deadline) {
        await ctx().swarm.flush();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.ok(retried(), `the report with nonce ${refusedNonce} never came back`);
    });

    test('without being asked, the instance sends its usage within 10 s', async () => {
      const since = Date.now();
      assert.equal((await use()).status, 200);
      const fresh = () => billing.on('/v1/usage').filter((item) => item.at > since);
      await billing.waitFor(() => fresh().length > 0, 15_000);
      const elapsed = fresh()[0]!.at - since;
      assert.ok(elapsed <= 12_000, `first report after ${elapsed} ms`);
    });

    test('a refused token is logged to our Logging, signed by the instance key', async () => {
      assert.equal((await call('GET', articlesUrl, { headers: { authorization: 'Bearer broken' } })).status, 401);
      await ctx().swarm.flush();
      const logs = [...verdicts].filter(([item]) => item.path === '/v1/logs');
      assert.ok(logs.length > 0, 'the instance logged the refusal');
      for (const [item, verdict] of logs) assert.equal(verdict.status, 202, `${verdict.reason} ${JSON.stringify(item.body)}`);
      const entries = logs.flatMap(
        ([item]) => (item.body as { data: { entries: Array<{ level: string; message: string }> } }).data.entries,
      );
      assert.ok(
        entries.some((entry) => entry.level === 'warn' && entry.message.includes('invalid_token')),
        JSON.stringify(entries),
      );
    });
  });
}
