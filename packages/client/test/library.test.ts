import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, type SigningKey, SwarmError } from '@swarm/protocol';
import {
  auditLog,
  backboneUpdate,
  type ClientOptions,
  catalog,
  claimNamespace,
  decommission,
  getApp,
  getNamespace,
  keygen,
  loadKey,
  logs,
  provision,
  provisionAuth,
  recover,
  registerApp,
  rotateMasterKey,
  services,
  usage,
  userToken,
  verifyAuditLog,
} from '../src/index.js';
import { articles, startTestSwarm, type TestSwarm } from './helpers.js';

const rejectsWith = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (error: unknown) => error instanceof SwarmError && error.code === code);

describe('the client library against a local swarm', () => {
  let test: TestSwarm;
  let client: ClientOptions;
  let master: SigningKey;
  let guardian: SigningKey;
  let appId: string;

  before(async () => {
    test = await startTestSwarm();
    client = { registry: test.swarm.registry.url };
    master = await keygen(join(test.dir, 'master.pem'));
    guardian = await keygen(join(test.dir, 'guardian.pem'));
  });
  after(() => test.stop());

  it('writes keys as owner-only PKCS#8 PEM, never over an existing file', async () => {
    const file = join(test.dir, 'master.pem');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await loadKey(file)).publicKey, master.publicKey);
    await rejectsWith(keygen(file), 'conflict');
    await rejectsWith(loadKey(join(test.dir, 'missing.pem')), 'invalid_request');
  });

  it('claims a namespace once', async () => {
    const record = await claimNamespace(client, { namespace: 'alice', master, guardianPublicKeys: [guardian.publicKey] });
    assert.equal(record.namespace, 'alice');
    assert.equal(record.public_key, master.publicKey);
    assert.deepEqual((await getNamespace(client, 'alice')).guardian_public_keys, [guardian.publicKey]);
    const other = generateSigningKey();
    await rejectsWith(
      claimNamespace(client, { namespace: 'alice', master: other, guardianPublicKeys: [guardian.publicKey] }),
      'namespace_taken',
    );
  });

  it('registers an app, refusing unknown namespaces and foreign keys', async () => {
    const app = await registerApp(client, { namespace: 'alice', slug: 'blog', master, displayName: 'Blog' });
    appId = app.app_id;
    assert.match(appId, /^local\.swarm\.alice\.blog\.[a-z0-9]{6,32}$/);
    await rejectsWith(registerApp(client, { namespace: 'nobody', slug: 'x', master }), 'unknown_namespace');
    await rejectsWith(registerApp(client, { namespace: 'alice', slug: 'x', master: generateSigningKey() }), 'invalid_signature');
    const record = await getApp(client, appId);
    assert.equal(record.auth, null);
    assert.equal(record.billing_provider_url, test.swarm.urls.billing);
  });

  it('writes the admin token owner-only', async () => {
    assert.equal((await stat(test.swarm.adminTokenFile)).mode & 0o777, 0o600);
    assert.equal((await readFile(test.swarm.adminTokenFile, 'utf8')).trim(), test.swarm.registry.adminToken);
  });

  it('lists the four local providers in the catalog', async () => {
    const offers = await catalog(client);
    assert.deepEqual(offers.map((o) => o.service_type).sort(), ['auth', 'cms-article', 'crm-contact', 'storage-blob']);
    assert.deepEqual(
      (await catalog(client, 'cms-article')).map((o) => o.provider),
      ['article.cms.local'],
    );
  });

  it('provisions the trust anchor and delegates authority to it', async () => {
    const anchor = await provisionAuth(client, { appId, master });
    assert.equal(anchor.provider, 'auth.swarm.local');
    assert.ok(anchor.auth_provider_url.startsWith(`${test.swarm.urls.auth}/apps/`));
    const app = await getApp(client, appId);
    assert.equal(app.auth?.auth_provider_url, anchor.auth_provider_url);
    assert.equal(app.auth?.jwks.keys.length, 1);
  });

  let endpointUrl: string;
  let serviceId: string;
  it('provisions cms-article and serves a user of the app', async () => {
    const seen: string[] = [];
    const instance = await provision(client, {
      appId,
      serviceType: 'cms-article',
      master,
      tier: 'free',
      region: 'local',
      onProgress: (answer) => seen.push(answer.status),
    });
    assert.equal(instance.status, 'active');
    assert.equal(seen.at(-1), 'active');
    assert.ok(instance.endpoint_url);
    endpointUrl = instance.endpoint_url;
    serviceId = instance.service_id;
    const listed = await services(client, appId);
    assert.deepEqual(
      listed.map((r) => r.service_id),
      [serviceId],
    );

    const { access_token } = await userToken(client, { appId, sub: 'reader-1', master, roles: ['editor'] });
    const created = await articles(endpointUrl, access_token, { method: 'POST', body: { title: 'Hello', body: 'First post' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const listedArticles = await articles(endpointUrl, access_token);
    assert.equal(listedArticles.status, 200);
    assert.match(JSON.stringify(listedArticles.body), /Hello/);
    assert.equal((await articles(endpointUrl, 'not-a-token')).status, 401);
  });

  it('refuses what the offer does not have', async () => {
    await rejectsWith(provision(client, { appId, serviceType: 'cms-article', master, tier: 'gold', region: 'local' }), 'unsupported_tier');
    await rejectsWith(provision(client, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'mars' }), 'unsupported_region');
    await rejectsWith(
      provision(client, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local', storageGb: 5 }),
      'storage_limit_exceeded',
    );
    await rejectsWith(provision(client, { appId, serviceType: 'no-such-type', master, tier: 'free', region: 'local' }), 'unknown_provider');
  });

  it("reads the app's usage and logs as its owner", async () => {
    await test.swarm.flushReports();
    const counted = await usage(client, { appId, master });
    assert.equal(counted.app_id, appId);
    assert.ok(counted.reports >= 1, JSON.stringify(counted));
    assert.ok(counted.totals.some((t) => t.service_id === serviceId));
    const read = await logs(client, { appId, master });
    assert.equal(read.app_id, appId);
    assert.ok(Array.isArray(read.entries));
    await rejectsWith(usage(client, { appId, master: generateSigningKey() }), 'invalid_signature');
  });

  it('updates the backbone, and keeps a verifiable audit log', async () => {
    const before = (await getApp(client, appId)).config_epoch;
    const updated = await backboneUpdate(client, { appId, master, loggingUrl: test.swarm.urls.logging });
    assert.ok(updated.config_epoch > before);
    const entries = await auditLog(client, appId);
    assert.ok(entries.length >= 3);
    const verified = await verifyAuditLog(client, appId);
    assert.equal(verified.ok, true);
    assert.equal(verified.head_hash, entries.at(-1)?.hash);
  });

  it('decommissions with a receipt, and in an emergency without one', async () => {
    const { access_token } = await userToken(client, { appId, sub: 'reader-1', master });
    const result = await decommission(client, { appId, serviceId, master });
    assert.equal(result.receipt?.data.status, 'success');
    assert.equal(result.receipt?.data.service_id, serviceId);
    assert.deepEqual(await services(client, appId), []);
    assert.ok([404, 410].includes((await articles(endpointUrl, access_token)).status));

    const contacts = await provision(client, { appId, serviceType: 'crm-contact', master, tier: 'free', region: 'local' });
    const emergency = await decommission(client, { appId, serviceId: contacts.service_id, master, emergency: true });
    assert.equal(emergency.receipt, null);
    assert.deepEqual(await services(client, appId), []);
    await rejectsWith(decommission(client, { appId, serviceId: contacts.service_id, master }), 'not_found');
  });

  it('rotates the Master key, and recovers it with a Guardian key', async () => {
    const rotated = generateSigningKey();
    await rotateMasterKey(client, { namespace: 'alice', oldKey: master, newKey: rotated });
    await rejectsWith(registerApp(client, { namespace: 'alice', slug: 'old-key', master }), 'invalid_signature');
    await registerApp(client, { namespace: 'alice', slug: 'new-key', master: rotated });

    const recovered = generateSigningKey();
    await rejectsWith(recover(client, { namespace: 'alice', guardian: master, newKey: recovered }), 'invalid_signature');
    await recover(client, { namespace: 'alice', guardian, newKey: recovered });
    await rejectsWith(registerApp(client, { namespace: 'alice', slug: 'lost-key', master: rotated }), 'invalid_signature');
    await registerApp(client, { namespace: 'alice', slug: 'recovered', master: recovered });
    master = recovered;
  });

  it('keeps namespaces, apps, bindings and instance data across a restart', async () => {
    const instance = await provision(client, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local' });
    const { access_token } = await userToken(client, { appId, sub: 'writer', master });
    assert.equal(
      (await articles(instance.endpoint_url!, access_token, { method: 'POST', body: { title: 'Kept', body: 'across restarts' } })).status,
      201,
    );

    const swarm = await test.restart();
    client = { registry: swarm.registry.url };
    assert.equal((await getNamespace(client, 'alice')).public_key, master.publicKey);
    assert.equal((await getApp(client, appId)).app_id, appId);
    assert.deepEqual(
      (await services(client, appId)).map((r) => r.service_id),
      [instance.service_id],
    );
    assert.equal((await catalog(client)).length, 4);
    const after = await articles(instance.endpoint_url!, access_token);
    assert.equal(after.status, 200);
    assert.match(JSON.stringify(after.body), /Kept/);
  });
});
