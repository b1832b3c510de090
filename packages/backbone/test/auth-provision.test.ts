import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, jwkThumbprint, newNonce, nowSeconds, sign, signEnvelope } from '@swarm/protocol';
import fc from 'fast-check';
import { call, type Developer, masterSigned, post, registerDeveloperApp, startTestNetwork, type TestNetwork } from './network.js';

describe('auth provider: provisioning, the Identity Pulse (SPEC §4.3 steps 1–2)', () => {
  let network: TestNetwork;
  let alice: Developer;
  let bob: Developer;
  let provisionUrl: string;

  before(async () => {
    network = await startTestNetwork();
    alice = await registerDeveloperApp(network.registry.url);
    bob = await registerDeveloperApp(network.registry.url);
    provisionUrl = network.auth.catalogEntry.provision_url;
  });
  after(() => network.close());

  const request = (developer: Developer, data: Record<string, unknown> = {}) =>
    masterSigned('provision', developer, { target_provider: 'auth.swarm.local', ...data });

  it('is in the registry catalog with a provider-signed offer', async () => {
    const catalog = await call('GET', `${network.registry.url}/v1/catalog/auth`);
    assert.equal(catalog.status, 200);
    assert.deepEqual(catalog.body.services[0], network.auth.catalogEntry);
    assert.equal(network.auth.catalogEntry.provision_url, `${network.auth.url}/v1/provision`);
  });

  it('creates the app’s store and Auth key, then answers the same keys to a repeat (idempotent)', async () => {
    const first = await post(provisionUrl, request(alice));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(Object.keys(first.body).sort(), ['app_id', 'auth_provider_url', 'auth_public_key', 'service_public_key']);
    assert.equal(first.body.app_id, alice.appId);
    assert.equal(first.body.auth_provider_url, `${network.auth.url}/apps/${alice.appId}`);
    assert.equal(first.body.service_public_key, network.auth.publicKey);
    const again = await post(provisionUrl, request(alice));
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
  });

  it('refuses a replayed request with nonce_reused', async () => {
    const envelope = request(bob);
    assert.equal((await post(provisionUrl, envelope)).status, 201);
    const replay = await post(provisionUrl, envelope);
    assert.equal(replay.status, 409);
    assert.equal(replay.body.error.code, 'nonce_reused');
  });

  it('does not let a forger burn a nonce: forged first, then the legit request with that nonce succeeds', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const data = { app_id: developer.appId, target_provider: 'auth.swarm.local', timestamp: nowSeconds(), nonce: newNonce() };
    const forged = signEnvelope('provision', data, generateSigningKey().privateKey);
    const refused = await post(provisionUrl, forged);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'invalid_signature');
    const legit = await post(provisionUrl, signEnvelope('provision', data, developer.master.privateKey));
    assert.equal(legit.status, 201);
  });

  it('refuses another app’s Master key, a swapped signature and a signature for another purpose', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const byBob = request(developer, {});
    const bobSigned = { ...byBob, signature: sign('provision', byBob.data, bob.master.privateKey) };
    const otherPurpose = { ...byBob, signature: sign('delegate_authority', byBob.data, developer.master.privateKey) };
    const swapped = { ...byBob, signature: request(developer).signature };
    for (const envelope of [bobSigned, otherPurpose, swapped]) {
      const answer = await post(provisionUrl, envelope);
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'invalid_signature');
    }
  });

  it('refuses stale and future timestamps', async () => {
    for (const timestamp of [nowSeconds() - 400, nowSeconds() + 400]) {
      const answer = await post(provisionUrl, request(alice, { timestamp }));
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'stale_timestamp');
    }
  });

  it('answers each check with its code, cheapest first', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ target_provider: 'article.cms.local' }, 403, 'wrong_provider'],
      [{ service_tier: 'pro_cluster' }, 422, 'unsupported_tier'],
      [{ region: 'eu-central-1' }, 422, 'unsupported_region'],
      [{ storage_limit_gb: 5 }, 422, 'storage_limit_exceeded'],
      // Wrong provider wins over a stale timestamp: cheaper checks come first.
      [{ target_provider: 'article.cms.local', timestamp: 1 }, 403, 'wrong_provider'],
      [{ app_id: 'org.omiappreg.alice.shop.abcdef' }, 404, 'unknown_registry'],
      [{ app_id: 'local.swarm.nobody.shop.abcdef' }, 404, 'unknown_app'],
      [{ app_id: 'Not An App' }, 400, 'invalid_app_id'],
    ];
    for (const [data, status, code] of cases) {
      const answer = await post(provisionUrl, request(alice, data));
      assert.equal(answer.status, status, `${JSON.stringify(data)} → ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, code);
    }
    const accepted = await post(provisionUrl, request(alice, { service_tier: 'standard', region: 'local', storage_limit_gb: 0 }));
    assert.equal(accepted.status, 200);
  });

  it('refuses a suspended app with app_suspended', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const suspend = await post(
      `${network.registry.url}/v1/admin/apps/${developer.appId}/suspend`,
      {},
      {
        authorization: `Bearer ${network.registry.adminToken}`,
      },
    );
    assert.equal(suspend.status, 200, JSON.stringify(suspend.body));
    const answer = await post(provisionUrl, request(developer));
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'app_suspended');
  });

  it('answers malformed bodies with invalid_request or unsupported_version and creates nothing', async () => {
    const good = request(alice);
    const bodies: Array<[unknown, string]> = [
      ['not json', 'invalid_request'],
      ['[]', 'invalid_request'],
      ['{"version":"1.0","version":"1.0"}', 'invalid_request'],
      ['{"__proto__":{}}', 'invalid_request'],
      [{ ...good, extra: 1 }, 'invalid_request'],
      [{ ...good, data: { ...good.data, extra: 1 } }, 'invalid_request'],
      [{ ...good, signature: 'zz' }, 'invalid_request'],
      [{ ...good, version: '2.0' }, 'unsupported_version'],
    ];
    for (const [body, code] of bodies) {
      const answer = await post(provisionUrl, body);
      assert.equal(answer.body.error.code, code, JSON.stringify(body));
    }
    const tooBig = await post(provisionUrl, JSON.stringify({ ...good, pad: 'x'.repeat(70_000) }));
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.code, 'payload_too_large');
  });

  it('never answers 500 to arbitrary JSON on any endpoint (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.record({ version: fc.string(), data: fc.dictionary(fc.string(), fc.jsonValue()), signature: fc.string() }),
          fc.record({
            version: fc.constant('1.0'),
            data: fc.record({ app_id: fc.string(), target_provider: fc.string(), timestamp: fc.integer(), nonce: fc.string() }),
            signature: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 128, maxLength: 128 }),
          }),
        ),
        async (body) => {
          const issuer = `${network.auth.url}/apps/${alice.appId}`;
          const urls = [
            provisionUrl,
            `${network.auth.url}/v1/events`,
            ...['users', 'login', 'owner-token', 'rotate-key', 'events'].map((path) => `${issuer}/v1/${path}`),
          ];
          for (const url of urls) {
            const answer = await post(url, typeof body === 'string' ? body : JSON.stringify(body));
            assert.ok(answer.status >= 400 && answer.status < 500, `${url}: ${answer.status} ${JSON.stringify(answer.body)}`);
            assert.equal(typeof answer.body.error.code, 'string');
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('serves the issuer: JWKS with the thumbprint kid and OpenID configuration; the registry takes the delegation', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const provisioned = (await post(provisionUrl, request(developer))).body;
    const issuer = provisioned.auth_provider_url;
    const kid = jwkThumbprint(provisioned.auth_public_key);
    const jwks = await call('GET', `${issuer}/.well-known/jwks.json`);
    assert.equal(jwks.status, 200);
    assert.deepEqual(
      jwks.body.keys.map((key: { kid: string }) => key.kid),
      [kid],
    );
    assert.equal(jwks.body.keys[0].kty, 'OKP');
    assert.equal(jwks.body.keys[0].crv, 'Ed25519');
    const config = await call('GET', `${issuer}/.well-known/openid-configuration`);
    assert.equal(config.body.issuer, issuer);
    assert.equal(config.body.jwks_uri, `${issuer}/.well-known/jwks.json`);
    assert.deepEqual(config.body.id_token_signing_alg_values_supported, ['EdDSA']);

    const delegation = masterSigned('delegate_authority', developer, {
      action: 'DELEGATE_AUTHORITY',
      auth_public_key: provisioned.auth_public_key,
      auth_provider_url: issuer,
    });
    const delegated = await post(`${network.registry.url}/v1/apps/${developer.appId}/auth`, delegation);
    assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
    const record = await call('GET', `${network.registry.url}/v1/apps/${developer.appId}`);
    assert.equal(record.body.auth.issuer, issuer);
    assert.ok(record.body.auth.jwks.keys.some((key: { kid: string }) => key.kid === kid));
  });

  it('answers unknown_app for an app it has not provisioned, invalid_app_id for a malformed one', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const jwks = await call('GET', `${network.auth.url}/apps/${developer.appId}/.well-known/jwks.json`);
    assert.equal(jwks.status, 404);
    assert.equal(jwks.body.error.code, 'unknown_app');
    const malformed = await call('GET', `${network.auth.url}/apps/NOPE/.well-known/jwks.json`);
    assert.equal(malformed.body.error.code, 'invalid_app_id');
  });
});
