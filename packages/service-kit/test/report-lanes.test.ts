import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startBilling, startLogging } from '@swarm/backbone';
import { callApi, createTestDeveloper, provisionInstance, type TestDeveloper, trustedRegistryOf } from '@swarm/dev-env';
import { newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { postJson } from '@swarm/runtime';
import { blackHole, statusReceiver } from '@swarm/runtime/testing';
import { openReportOutbox } from '../src/index.js';
import { startNotes, startTestRegistry, tempDir, waitFor } from './helpers.js';

async function moveBackbone(registryUrl: string, developer: TestDeveloper, context: Record<string, string>): Promise<void> {
  const update = signEnvelope(
    'backbone_update',
    { app_id: developer.appId, operational_context: context, timestamp: nowSeconds(), nonce: newNonce(), context: 'backbone_update' },
    developer.master.privateKey,
  );
  const answer = await fetch(`${registryUrl}/v1/apps/${developer.appId}/operational-context`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(update),
  });
  assert.equal(answer.status, 200, await answer.text());
}

describe('report outbox: one lane per receiver, dead letters', () => {
  const dir = tempDir('kit-report-lanes');
  const running: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const part of running.reverse()) await part.close().catch(() => {});
    dir.remove();
  });

  it('a dead report receiver of one tenant does not stop another tenant’s usage delivery; refused rows go dead and are retried', async () => {
    const registry = await startTestRegistry(join(dir.path, 'registry'));
    running.push(registry);
    const trusted = [trustedRegistryOf(registry)];
    const billing = await startBilling({ port: 0, dataDir: join(dir.path, 'billing'), trustedRegistries: trusted, logLevel: false });
    running.push(billing);
    const logging = await startLogging({ port: 0, dataDir: join(dir.path, 'logging'), trustedRegistries: trusted, logLevel: false });
    running.push(logging);
    const hole = await blackHole();
    running.push(hole);
    const refusing = await statusReceiver(404);
    running.push(refusing);
    const notesDir = join(dir.path, 'notes');
    // The flush timer runs every second: delivery delay is what the test measures.
    const service = await startNotes(registry, notesDir, { reportFlushSeconds: 1 });
    running.push(service);
    await service.registerOffer(registry.url, registry.adminToken);
    const outbox = openReportOutbox({ serviceType: 'notes', dataDir: notesDir });
    running.push(outbox);

    const good = await createTestDeveloper(registry.url);
    const goodInstance = await provisionInstance(service, good);
    await moveBackbone(registry.url, good, { billing_provider_url: billing.url, logging_service_url: logging.url });
    const goodToken = await good.token();
    const reports = async () => {
      const query = signEnvelope(
        'owner_query',
        { app_id: good.appId, audience: billing.url, service_id: goodInstance.service_id, timestamp: nowSeconds(), nonce: newNonce() },
        good.master.privateKey,
      );
      return ((await postJson(`${billing.url}/v1/usage/query`, query)).body as { reports: number }).reports;
    };
    /** From a request of the good tenant to its usage being counted at Billing. */
    const deliveryDelayMs = async () => {
      const before = await reports();
      const started = performance.now();
      assert.equal((await callApi(`${goodInstance.endpoint_url}/notes`, goodToken)).status, 200);
      await waitFor('the good tenant’s usage', async () => (await reports()) > before, 30_000);
      return performance.now() - started;
    };
    const baseline = [await deliveryDelayMs(), await deliveryDelayMs()];

    // The other tenant points Billing at a black hole and Logging at a receiver that answers 404.
    const bad = await createTestDeveloper(registry.url);
    const badInstance = await provisionInstance(service, bad);
    await moveBackbone(registry.url, bad, { billing_provider_url: hole.url, logging_service_url: refusing.url });
    const badToken = await bad.token();
    for (let i = 0; i < 20; i++) await callApi(`${badInstance.endpoint_url}/boom`, badToken);
    await waitFor('the bad tenant’s usage to fail once', async () => {
      const { rows } = await outbox.list({ state: 'pending', appId: bad.appId, limit: 100 });
      return rows.some((row) => row.kind === 'usage' && row.attempts > 0);
    });

    const loaded = [await deliveryDelayMs(), await deliveryDelayMs(), await deliveryDelayMs()];
    // The old outbox sent in order and waited the 5 s timeout of the black hole at every flush.
    assert.ok(
      Math.max(...loaded) < Math.max(...baseline) * 2 + 2500,
      `loaded ${loaded.map(Math.round)} ms against baseline ${baseline.map(Math.round)} ms`,
    );

    // Logs answered 404 are dead letters, listed with the answer, not retried on their own.
    const dead = await waitFor('the refused logs to go dead', async () => {
      const page = await outbox.list({ state: 'dead', appId: bad.appId, limit: 100 });
      return page.rows.length > 0 ? page.rows : null;
    });
    assert.ok(dead.every((row) => row.kind === 'logs' && row.service_id === badInstance.service_id));
    assert.match(dead[0]?.last_error ?? '', /404/);
    assert.equal((await outbox.list({ state: 'dead', appId: good.appId, limit: 100 })).rows.length, 0);

    // Once the owner points Logging somewhere that takes them, a retry delivers them.
    await moveBackbone(registry.url, bad, { billing_provider_url: billing.url, logging_service_url: logging.url });
    assert.ok((await outbox.retry({ appId: bad.appId })) >= dead.length);
    // Until the instance hears of the new context, a retried row may be refused again: retry again.
    await waitFor(
      'the retried logs to be delivered',
      async () => {
        const stillDead = (await outbox.list({ state: 'dead', appId: bad.appId, limit: 100 })).rows;
        if (stillDead.length > 0) {
          await outbox.retry({ appId: bad.appId });
          return false;
        }
        return (await outbox.list({ state: 'pending', appId: bad.appId, limit: 100 })).rows.every((row) => row.kind !== 'logs');
      },
      30_000,
    );
  });
});
