import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBilling, startLogging } from '@swarm/backbone';
import { startCrmContact } from '@swarm/crm-contact';
import { callApi, createTestDeveloper, freePort, type ProvisionedInstance, type TestDeveloper } from '@swarm/dev-env';
import { generateSigningKey, newNonce, nowSeconds, privateKeyToPem, signEnvelope } from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { getJson, LOOPBACK_CIDRS, postJson } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { startStorageBlob } from '@swarm/storage-blob';
import { startCmsArticle } from '../src/index.js';

/** Every part of this test runs on loopback, which a part refuses to send to by default. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

/**
 * The seed page end to end: provision → verify → bind → context → active, then token-protected
 * calls on all three domain services, and their signed usage arriving at Billing.
 */
describe('provisioning domain services: the seed workflow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-seed-'));
  const parts: Array<{ close(): Promise<void> }> = [];
  let registry: RegistryHandle;
  let billingUrl: string;
  let services: ServiceHandle[];
  let developer: TestDeveloper;

  before(async () => {
    // Billing and logging trust the registry before it runs: its key and port are chosen first.
    const registryKey = generateSigningKey();
    writeFileSync(join(dir, 'registry-key.pem'), privateKeyToPem(registryKey.privateKey), { mode: 0o600 });
    const port = await freePort();
    const trusted = [{ authority: 'swarm.local', baseUrl: `http://127.0.0.1:${port}`, publicKey: registryKey.publicKey }];
    const billing = await startBilling({ port: 0, dataDir: join(dir, 'billing'), trustedRegistries: trusted, logLevel: false });
    const logging = await startLogging({ port: 0, dataDir: join(dir, 'logging'), trustedRegistries: trusted, logLevel: false });
    billingUrl = billing.url;
    registry = await startRegistry({
      port,
      dataDir: join(dir, 'registry'),
      registryKeyFile: join(dir, 'registry-key.pem'),
      defaultBillingUrl: billing.url,
      defaultLoggingUrl: logging.url,
      egress: LOCAL_EGRESS,
      dnsPort: false,
      logLevel: false,
    });
    const common = { port: 0, trustedRegistries: trusted, logLevel: false as const, reportFlushSeconds: 3600, egress: LOCAL_EGRESS };
    services = [
      await startCmsArticle({ ...common, dataDir: join(dir, 'cms') }),
      await startCrmContact({ ...common, dataDir: join(dir, 'crm') }),
      await startStorageBlob({ ...common, dataDir: join(dir, 'blob') }),
    ];
    parts.push(billing, logging, registry, ...services);
    for (const service of services) await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
  });
  after(async () => {
    for (const part of parts.reverse()) await part.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('provisions, binds and serves all three services, and bills their usage', async () => {
    const catalog = (await getJson(`${registry.url}/v1/catalog`)).body as {
      services: Array<{ service_type: string; provision_url: string; provider: string }>;
    };
    const instances = new Map<string, ProvisionedInstance>();
    for (const type of ['cms-article', 'crm-contact', 'storage-blob']) {
      const entry = catalog.services.find((s) => s.service_type === type);
      assert.ok(entry, `${type} is in the catalog`);
      const answer = await postJson(
        entry.provision_url,
        developer.provisionRequest(entry.provider, { service_tier: 'pro_cluster', region: 'eu-central-1', storage_limit_gb: 50 }),
      );
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const instance = answer.body as ProvisionedInstance;
      assert.equal(instance.status, 'active');
      instances.set(type, instance);
    }
    const dns = (await getJson(`${registry.url}/v1/apps/${developer.appId}/services`)).body as {
      records: Array<{ service_type: string; endpoint_url: string }>;
    };
    assert.deepEqual(dns.records.map((r) => r.service_type).sort(), ['cms-article', 'crm-contact', 'storage-blob']);

    const token = await developer.token({ sub: 'alice', roles: ['editor'] });
    const cms = instances.get('cms-article')?.endpoint_url;
    const crm = instances.get('crm-contact')?.endpoint_url;
    const blob = instances.get('storage-blob')?.endpoint_url;
    assert.equal((await callApi(`${cms}/articles`, token, { method: 'POST', json: { title: 'Launch', body: 'We are live' } })).status, 201);
    assert.equal(
      (await callApi(`${crm}/contacts`, token, { method: 'POST', json: { name: 'Ada', email: 'ada@example.com' } })).status,
      201,
    );
    assert.equal((await callApi(`${blob}/objects/logo.png`, token, { method: 'PUT', body: Buffer.alloc(4096, 1) })).status, 201);
    assert.equal(((await callApi(`${cms}/articles`, token)).body as { articles: unknown[] }).articles.length, 1);
    assert.equal(((await callApi(`${crm}/contacts?q=ada`, token)).body as { contacts: unknown[] }).contacts.length, 1);
    assert.equal((await callApi(`${blob}/objects/logo.png`, token)).bytes.length, 4096);
    assert.equal((await callApi(`${cms}/articles`, 'not-a-token')).status, 401);

    for (const service of services) await service.flushReports();
    const query = signEnvelope(
      'owner_query',
      { app_id: developer.appId, audience: billingUrl, timestamp: nowSeconds(), nonce: newNonce() },
      developer.master.privateKey,
    );
    const usage = (await postJson(`${billingUrl}/v1/usage/query`, query)).body as {
      reports: number;
      totals: Array<{ service_id: string; metric: string; value: number }>;
    };
    assert.equal(usage.reports, 3, JSON.stringify(usage));
    const requests = (type: string) =>
      usage.totals.find((t) => t.service_id === instances.get(type)?.service_id && t.metric === 'requests')?.value;
    assert.equal(requests('cms-article'), 2, 'the refused call is not billed');
    assert.equal(requests('crm-contact'), 2);
    assert.equal(requests('storage-blob'), 2);
    const stored = usage.totals.find((t) => t.service_id === instances.get('storage-blob')?.service_id && t.metric === 'bytes_stored');
    assert.equal(stored?.value, 4096);
  });
});
