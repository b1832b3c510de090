import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startBilling, startLogging } from '@swarm/backbone';
import { callApi, createTestDeveloper, freePort, provisionInstance, type TestDeveloper, trustedRegistryOf } from '@swarm/dev-env';
import { newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { postJson, requestJson } from '@swarm/runtime';
import { startNotes, startTestRegistry, tempDir, waitFor } from './helpers.js';

function ownerQuery(developer: TestDeveloper, serviceId: string, audience: string) {
  return signEnvelope(
    'owner_query',
    { app_id: developer.appId, service_id: serviceId, audience, timestamp: nowSeconds(), nonce: newNonce() },
    developer.master.privateKey,
  );
}

describe('usage and logs (SPEC §9.3)', () => {
  const dir = tempDir('kit-reporting');
  const running: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const part of running.reverse()) await part.close().catch(() => {});
    dir.remove();
  });

  it('keeps signed usage on disk while billing is down and delivers it once when it is back', async () => {
    const registry = await startTestRegistry(join(dir.path, 'registry'));
    running.push(registry);
    const trusted = [trustedRegistryOf(registry)];
    const logging = await startLogging({ port: 0, dataDir: join(dir.path, 'logging'), trustedRegistries: trusted, logLevel: false });
    running.push(logging);
    const billingPort = await freePort();
    const service = await startNotes(registry, join(dir.path, 'notes'), { reportFlushSeconds: 3600 });
    running.push(service);
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);

    // Backbone update (SPEC §10.2): the instance learns the new URLs by broadcast or heartbeat.
    const update = signEnvelope(
      'backbone_update',
      {
        app_id: developer.appId,
        operational_context: { billing_provider_url: `http://127.0.0.1:${billingPort}`, logging_service_url: logging.url },
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'backbone_update',
      },
      developer.master.privateKey,
    );
    const patched = await fetch(`${registry.url}/v1/apps/${developer.appId}/operational-context`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(update),
    });
    assert.equal(patched.status, 200, await patched.text());

    const token = await developer.token();
    for (let i = 0; i < 3; i++) assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    assert.equal((await callApi(`${instance.endpoint_url}/boom`, token)).status, 500);

    // The new URLs arrive by broadcast or heartbeat; until then reports wait in the outbox.
    const logs = await waitFor('the error log to arrive', async () => {
      await service.flushReports();
      const answer = await postJson(`${logging.url}/v1/logs/query`, ownerQuery(developer, instance.service_id, logging.url));
      const entries = (answer.body as { entries?: Array<{ message: string; level: string }> }).entries ?? [];
      return entries.length > 0 ? entries : null;
    });
    assert.equal(logs[0]?.level, 'error');
    assert.match(logs[0]?.message ?? '', /answered 500/);

    const billing = await startBilling({
      port: billingPort,
      dataDir: join(dir.path, 'billing'),
      trustedRegistries: trusted,
      logLevel: false,
    });
    running.push(billing);
    const usage = async () =>
      (await postJson(`${billing.url}/v1/usage/query`, ownerQuery(developer, instance.service_id, billing.url))).body as {
        reports: number;
        totals: Array<{ metric: string; value: number }>;
      };
    assert.equal((await usage()).reports, 0);
    const summary = await waitFor('the usage to arrive', async () => {
      await service.flushReports();
      const current = await usage();
      return current.reports > 0 ? current : null;
    });
    assert.equal(summary.reports, 1);
    assert.equal(summary.totals.find((t) => t.metric === 'requests')?.value, 4);
    assert.equal(summary.totals.find((t) => t.metric === 'errors')?.value, 1);
    await service.flushReports();
    assert.equal((await usage()).reports, 1, 'a delivered batch is not sent again');
  });

  it('sends what was counted when it stops, without waiting for the next flush (SPEC §9.3)', async () => {
    const billingPort = await freePort();
    const registry = await startTestRegistry(join(dir.path, 'registry-stop'), { defaultBillingUrl: `http://127.0.0.1:${billingPort}` });
    running.push(registry);
    const billing = await startBilling({
      port: billingPort,
      dataDir: join(dir.path, 'billing-stop'),
      trustedRegistries: [trustedRegistryOf(registry)],
      logLevel: false,
    });
    running.push(billing);
    // No periodic flush during the test: only the shutdown can send the report.
    const service = await startNotes(registry, join(dir.path, 'notes-stop'), { reportFlushSeconds: 3600, provider: 'stop.kit.local' });
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const token = await developer.token();
    for (let i = 0; i < 2; i++) assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    const usage = async () =>
      (await postJson(`${billing.url}/v1/usage/query`, ownerQuery(developer, instance.service_id, billing.url))).body as {
        reports: number;
        totals: Array<{ metric: string; value: number }>;
      };
    assert.equal((await usage()).reports, 0, 'nothing sent before the stop');
    await service.close();
    const summary = await usage();
    assert.ok(summary.reports >= 1, 'the last report went out as the service stopped');
    assert.equal(summary.totals.find((t) => t.metric === 'requests')?.value, 2);
  });

  it('stops counting and reporting for a terminated instance (SPEC §11.1)', async () => {
    const billingPort = await freePort();
    const registry = await startTestRegistry(join(dir.path, 'registry-term'), { defaultBillingUrl: `http://127.0.0.1:${billingPort}` });
    running.push(registry);
    const billing = await startBilling({
      port: billingPort,
      dataDir: join(dir.path, 'billing-term'),
      trustedRegistries: [trustedRegistryOf(registry)],
      logLevel: false,
    });
    running.push(billing);
    const service = await startNotes(registry, join(dir.path, 'notes-term'), { reportFlushSeconds: 3600, provider: 'term.kit.local' });
    running.push(service);
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const token = await developer.token();
    const requests = async () => {
      const answer = await postJson(`${billing.url}/v1/usage/query`, ownerQuery(developer, instance.service_id, billing.url));
      const body = answer.body as { totals: Array<{ metric: string; value: number }> };
      return body.totals.find((t) => t.metric === 'requests')?.value ?? 0;
    };
    for (let i = 0; i < 3; i++) assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    await service.flushReports();
    assert.equal(await requests(), 3);
    const terminated = await requestJson(
      'DELETE',
      `${service.catalogEntry.provision_url}/${instance.service_id}`,
      developer.terminationRequest(instance.service_id, 'retain'),
    );
    assert.equal(terminated.status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 410);
    await service.flushReports();
    await service.flushReports();
    assert.equal(await requests(), 3, 'nothing counted after the termination');
  });
});
