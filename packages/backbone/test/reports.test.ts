import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, jwkThumbprint, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import SQLite from 'better-sqlite3';
import fc from 'fast-check';
import { setSignup } from './auth-admin.js';
import {
  type BoundInstance,
  bearer,
  bindInstance,
  type Developer,
  eventually,
  get,
  logsReport,
  masterSigned,
  ownerToken,
  post,
  provisionAndDelegate,
  registerDeveloperApp,
  registerTestProvider,
  startTestNetwork,
  type TestNetwork,
  type TestProvider,
  usageReport,
} from './network.js';

describe('billing and logging: reports from bound instances (SPEC §9.3)', () => {
  let network: TestNetwork;
  let provider: TestProvider;
  let alice: Developer;
  let bob: Developer;
  let aliceIssuer: string;
  let aliceAuthKey: string;
  let bobIssuer: string;
  let meter: BoundInstance;
  let bobMeter: BoundInstance;

  before(async () => {
    network = await startTestNetwork();
    provider = await registerTestProvider(network);
    alice = await registerDeveloperApp(network.registry.url);
    bob = await registerDeveloperApp(network.registry.url);
    const aliceAuth = await provisionAndDelegate(network, alice);
    aliceIssuer = aliceAuth.authProviderUrl;
    aliceAuthKey = aliceAuth.authPublicKey;
    bobIssuer = (await provisionAndDelegate(network, bob)).authProviderUrl;
    meter = await bindInstance(network, alice, provider);
    bobMeter = await bindInstance(network, bob, provider);
  });
  after(() => network.close());

  const usageUrl = () => `${network.billing.url}/v1/usage`;
  const logsUrl = () => `${network.logging.url}/v1/logs`;
  const readUsage = async (developer: Developer) =>
    (await post(`${network.billing.url}/v1/usage/query`, masterSigned('owner_query', developer, { audience: network.billing.url }))).body;

  it('binds real instances whose signed context names this backbone and the app’s Auth key', async () => {
    const context = meter.context;
    assert.equal(context.billing_provider_url, network.billing.url);
    assert.equal(context.logging_service_url, network.logging.url);
    assert.equal(context.auth.issuer, aliceIssuer);
    const kids = context.auth.jwks.keys.map((key: { kid: string }) => key.kid);
    assert.deepEqual(kids, [jwkThumbprint(aliceAuthKey)]);
  });

  it('accepts a signed usage report and counts a repeated nonce once', async () => {
    const report = usageReport(meter, { requests: 3, storage_gb: 0.5 });
    for (let i = 0; i < 3; i++) {
      const answer = await post(usageUrl(), report);
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      assert.deepEqual(answer.body, { accepted: true });
    }
    assert.equal((await post(usageUrl(), usageReport(meter, { requests: 2 }))).status, 202);
    const usage = await readUsage(alice);
    assert.equal(usage.reports, 2);
    assert.deepEqual(usage.totals, [
      { service_id: meter.serviceId, metric: 'requests', value: 5 },
      { service_id: meter.serviceId, metric: 'storage_gb', value: 0.5 },
    ]);
    assert.deepEqual(usage.app_totals, [
      { metric: 'requests', value: 5 },
      { metric: 'storage_gb', value: 0.5 },
    ]);
  });

  it('counts a report once when the same nonce arrives concurrently', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const instance = await bindInstance(network, developer, provider);
    const report = usageReport(instance, { requests: 7 });
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(usageUrl(), report)));
    assert.ok(answers.every((answer) => answer.status === 202));
    const usage = (
      await post(`${network.billing.url}/v1/usage/query`, masterSigned('owner_query', developer, { audience: network.billing.url }))
    ).body;
    assert.equal(usage.reports, 1);
    assert.deepEqual(usage.app_totals, [{ metric: 'requests', value: 7 }]);
  });

  it('refuses an unbound service, another app’s instance, a forged signature and a stale report', async () => {
    const unbound = usageReport({ ...meter, serviceId: 'test-meter-unbound01' }, { requests: 1 });
    const foreign = usageReport({ ...bobMeter, appId: alice.appId }, { requests: 1 });
    const crossKey = usageReport(meter, { requests: 1 }, {}, bobMeter.key);
    const forged = usageReport(meter, { requests: 1 }, {}, generateSigningKey());
    const stale = usageReport(meter, { requests: 1 }, { timestamp: nowSeconds() - 400 });
    const unknownRegistry = usageReport({ ...meter, appId: 'org.elsewhere.alice.shop.abcdef' }, { requests: 1 });
    const cases: Array<[unknown, number, string]> = [
      [unbound, 403, 'forbidden'],
      [foreign, 403, 'forbidden'],
      [crossKey, 403, 'forbidden'],
      [forged, 403, 'forbidden'],
      [stale, 401, 'stale_timestamp'],
      [unknownRegistry, 404, 'unknown_registry'],
      [usageReport({ ...meter, appId: 'local.swarm.nobody.shop.abcdef' }, { requests: 1 }), 403, 'forbidden'],
      [{ ...usageReport(meter, { requests: 1 }), version: '0.9' }, 400, 'unsupported_version'],
      [usageReport(meter, { requests: -1 }), 400, 'invalid_request'],
      [usageReport(meter, { requests: 1 }, { period_start: nowSeconds(), period_end: nowSeconds() - 100 }), 400, 'invalid_request'],
      // Signed by the instance key, but for another purpose.
      [signEnvelope('termination_receipt', usageReport(meter, { requests: 1 }).data, meter.key.privateKey), 403, 'forbidden'],
      [signEnvelope('broadcast', usageReport(meter, { requests: 1 }).data, meter.key.privateKey), 403, 'forbidden'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await post(usageUrl(), body);
      assert.equal(answer.status, status, `${code}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, code);
    }
    const usage = await readUsage(alice);
    assert.equal(usage.reports, 2);
  });

  it('never answers 500 to arbitrary report bodies (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.record({
            version: fc.constant('1.0'),
            data: fc.record({
              app_id: fc.constantFrom(alice.appId, 'x', 'org.a.b.c.dddddd'),
              service_id: fc.string(),
              period_start: fc.integer(),
              period_end: fc.integer(),
              metrics: fc.dictionary(fc.string(), fc.double()),
              timestamp: fc.constant(nowSeconds()),
              nonce: fc.string(),
            }),
            signature: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 128, maxLength: 128 }),
          }),
        ),
        async (body) => {
          const queries = [
            `${network.billing.url}/v1/usage/query`,
            `${network.logging.url}/v1/logs/query`,
            `${network.billing.url}/v1/events`,
          ];
          for (const url of [usageUrl(), logsUrl(), ...queries]) {
            const answer = await post(url, typeof body === 'string' ? body : JSON.stringify(body));
            assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${JSON.stringify(answer.body)}`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never answers 500 to arbitrary owner-read query strings and tokens (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom('app_id', 'service_id', 'level', 'since', 'limit', 'x'),
          fc.oneof(fc.string(), fc.constant(alice.appId), fc.nat().map(String)),
        ),
        fc.oneof(
          fc.string(),
          fc.constant('Bearer a.b.c'),
          fc.string().map((text) => `Bearer ${text}`),
        ),
        async (params, authorization) => {
          const query = new URLSearchParams(params).toString();
          for (const url of [`${network.billing.url}/v1/usage?${query}`, `${network.logging.url}/v1/logs?${query}`]) {
            const answer = await get(url, /^[\x20-\x7e]*$/.test(authorization) ? { authorization } : {});
            assert.ok(answer.status >= 400 && answer.status < 500, `${url}: ${answer.status} ${JSON.stringify(answer.body)}`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('accepts signed logs, stores a repeated nonce once and filters by level, since and instance', async () => {
    const at = nowSeconds();
    const batch = logsReport(meter, [
      { level: 'info', message: 'started', at: at - 5 },
      { level: 'error', message: 'disk full', at: at - 1, fields: { disk: '/data', free: 0 } },
    ]);
    assert.equal((await post(logsUrl(), batch)).status, 202);
    assert.equal((await post(logsUrl(), batch)).status, 202);
    assert.equal((await post(logsUrl(), logsReport(meter, [{ level: 'warn', message: 'slow', at }]))).status, 202);

    const token = await ownerToken(aliceIssuer, alice);
    const all = await get(`${network.logging.url}/v1/logs?app_id=${alice.appId}`, bearer(token));
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.entries.map((entry: { message: string }) => entry.message),
      ['started', 'disk full', 'slow'],
    );
    assert.deepEqual(all.body.entries[1].fields, { disk: '/data', free: 0 });
    assert.equal(all.body.entries[1].service_id, meter.serviceId);
    const severe = await get(`${network.logging.url}/v1/logs?app_id=${alice.appId}&level=warn`, bearer(token));
    assert.deepEqual(
      severe.body.entries.map((entry: { level: string }) => entry.level),
      ['error', 'warn'],
    );
    const recent = await get(`${network.logging.url}/v1/logs?app_id=${alice.appId}&since=${at}`, bearer(token));
    assert.deepEqual(
      recent.body.entries.map((entry: { message: string }) => entry.message),
      ['slow'],
    );
    const other = await get(`${network.logging.url}/v1/logs?app_id=${alice.appId}&service_id=test-meter-other00001`, bearer(token));
    assert.deepEqual(other.body.entries, []);
    const signed = await post(
      `${network.logging.url}/v1/logs/query`,
      masterSigned('owner_query', alice, { level: 'error', audience: network.logging.url }),
    );
    assert.equal(signed.status, 200);
    assert.deepEqual(
      signed.body.entries.map((entry: { message: string }) => entry.message),
      ['disk full'],
    );
  });

  it('refuses logs from another app’s instance and under a forged key', async () => {
    const entries = [{ level: 'error', message: 'x', at: nowSeconds() }];
    assert.equal((await post(logsUrl(), logsReport({ ...bobMeter, appId: alice.appId }, entries))).body.error.code, 'forbidden');
    assert.equal((await post(logsUrl(), logsReport(meter, entries, {}, generateSigningKey()))).body.error.code, 'forbidden');
    assert.equal((await post(logsUrl(), logsReport(meter, []))).body.error.code, 'invalid_request');
  });

  it('shows usage to the app’s admin token and Master-signed query only', async () => {
    const url = `${network.billing.url}/v1/usage?app_id=${alice.appId}`;
    const admin = await ownerToken(aliceIssuer, alice);
    const read = await get(url, bearer(admin));
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.app_id, alice.appId);
    assert.equal(read.body.reports, 2);
    const perInstance = await get(`${url}&service_id=${meter.serviceId}`, bearer(admin));
    assert.equal(perInstance.body.service_id, meter.serviceId);
    assert.equal(perInstance.body.reports, 2);

    await setSignup(aliceIssuer, alice, 'open', ['user']);
    await post(`${aliceIssuer}/v1/users`, { username: 'viewer', password: 'a long password' });
    const userToken = (await post(`${aliceIssuer}/v1/login`, { username: 'viewer', password: 'a long password' })).body.access_token;
    const bobAdmin = await ownerToken(bobIssuer, bob);
    const cases: Array<[Record<string, string>, number, string]> = [
      [{}, 401, 'invalid_token'],
      [bearer('not.a.token'), 401, 'invalid_token'],
      [bearer(userToken), 403, 'forbidden'],
      [bearer(bobAdmin), 401, 'invalid_token'],
      [{ authorization: `Basic ${admin}` }, 401, 'invalid_token'],
    ];
    for (const [headers, status, code] of cases) {
      for (const base of [url, `${network.logging.url}/v1/logs?app_id=${alice.appId}`]) {
        const answer = await get(base, headers);
        assert.equal(answer.status, status, `${code}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error.code, code);
      }
    }
    // A token with alg none or a tampered payload never passes.
    const [header, payload, signature] = admin.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, aud: bob.appId })).toString('base64url')}.${signature}`;
    assert.equal((await get(`${network.billing.url}/v1/usage?app_id=${bob.appId}`, bearer(tampered))).body.error.code, 'invalid_token');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    assert.equal((await get(url, bearer(none))).body.error.code, 'invalid_token');

    for (const bad of [
      '',
      '?app_id=nope',
      `?app_id=${alice.appId}&app_id=${alice.appId}`,
      `?app_id=${alice.appId}&level=loud`,
      `?app_id=${alice.appId}&x=1`,
    ]) {
      const answer = await get(`${network.billing.url}/v1/usage${bad}`, bearer(admin));
      assert.equal(answer.status, 400, bad);
    }

    const bySignature = await post(
      `${network.billing.url}/v1/usage/query`,
      masterSigned('owner_query', alice, { audience: network.billing.url }),
    );
    assert.equal(bySignature.status, 200);
    assert.equal(bySignature.body.reports, 2);
    const byBob = masterSigned('owner_query', alice, { audience: network.billing.url }, bob.master);
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, byBob)).body.error.code, 'invalid_signature');
    const replayed = masterSigned('owner_query', alice, { audience: network.billing.url });
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, replayed)).status, 200);
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, replayed)).body.error.code, 'nonce_reused');
  });

  it('takes an owner query only where its audience points: replayed to the other backbone service it is 403 forbidden', async () => {
    const forBilling = masterSigned('owner_query', alice, { audience: network.billing.url });
    const atLogging = await post(`${network.logging.url}/v1/logs/query`, forBilling);
    assert.equal(atLogging.status, 403, JSON.stringify(atLogging.body));
    assert.equal(atLogging.body.error.code, 'forbidden');
    // Refused before its nonce was looked at: the query still works where it was meant to go.
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, forBilling)).status, 200);
    const forLogging = masterSigned('owner_query', alice, { audience: `${network.logging.url}/` });
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, forLogging)).body.error.code, 'forbidden');
    assert.equal((await post(`${network.logging.url}/v1/logs/query`, forLogging)).status, 200, 'a trailing / names the same service');
    const unaddressed = masterSigned('owner_query', alice, {});
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, unaddressed)).body.error.code, 'invalid_request');
    const elsewhere = masterSigned('owner_query', alice, { audience: 'https://billing.example.org' });
    assert.equal((await post(`${network.billing.url}/v1/usage/query`, elsewhere)).body.error.code, 'forbidden');
  });

  it('accepts a rotated instance key and, during the grace period, the previous one', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const instance = await bindInstance(network, developer, provider);
    assert.equal((await post(usageUrl(), usageReport(instance, { requests: 1 }))).status, 202);
    const next = generateSigningKey();
    const data = {
      app_id: instance.appId,
      service_id: instance.serviceId,
      new_public_key: next.publicKey,
      rotation_timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'key_rotation',
    };
    const rotation = {
      ...signEnvelope('key_rotation', data, instance.key.privateKey),
      new_key_signature: signEnvelope('key_rotation', data, next.privateKey).signature,
    };
    const rotated = await post(`${network.registry.url}/v1/apps/${instance.appId}/services/${instance.serviceId}/key`, rotation);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await post(usageUrl(), usageReport({ ...instance, key: next }, { requests: 1 }))).status, 202);
    assert.equal((await post(usageUrl(), usageReport(instance, { requests: 1 }))).status, 202);
  });

  it('refuses a decommissioned instance after the SERVICE_REVOKED broadcast, durably', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const instance = await bindInstance(network, developer, provider);
    assert.equal((await post(usageUrl(), usageReport(instance, { requests: 1 }))).status, 202);
    const decommission = masterSigned('decommission', developer, { service_id: instance.serviceId, context: 'decommission' });
    const revoked = await post(
      `${network.registry.url}/v1/apps/${developer.appId}/services/${instance.serviceId}/decommission`,
      decommission,
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));

    // The broadcast reaches billing and logging, which write the revocation down.
    for (const file of ['billing.db', 'logging.db']) {
      await eventually(async () => {
        const db = new SQLite(join(network.dataDir, file.replace('.db', ''), file), { readonly: true });
        try {
          return (
            db.prepare('SELECT 1 FROM revoked_instances WHERE app_id = ? AND service_id = ?').get(developer.appId, instance.serviceId) !==
            undefined
          );
        } finally {
          db.close();
        }
      });
    }
    const usage = await post(usageUrl(), usageReport(instance, { requests: 1 }));
    assert.equal(usage.status, 403);
    assert.equal(usage.body.error.code, 'forbidden');
    const logs = await post(logsUrl(), logsReport(instance, [{ level: 'info', message: 'still here', at: nowSeconds() }]));
    assert.equal(logs.body.error.code, 'forbidden');
  });
});
