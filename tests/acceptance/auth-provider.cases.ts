import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { catalogEntry, type WorldRef } from './fixtures/apps.js';
import { uniqueName } from './fixtures/context.js';
import { Developer } from './spec-client/developer.js';
import { envelope, fresh } from './spec-client/envelope.js';
import { call, get, type Json, outcome, post } from './spec-client/http.js';
import { provisionFor } from './spec-client/provisioning.js';

export function authProviderCases(world: WorldRef): void {
  describe('SPEC §4.3 steps 1–3 with the swarm’s Auth Provider, then §8 tokens it issues', () => {
    let dev: Developer;
    let appId: string;
    let pulse: Json;
    const entry = () => catalogEntry(world().ctx, 'auth');
    const request = (extra: Record<string, unknown> = {}) =>
      dev.provisioning(appId, entry().provider, { service_tier: 'standard', region: 'local', ...extra });

    before(async () => {
      dev = new Developer(world().ctx.registryUrl, uniqueName('authdev'));
      assert.equal((await dev.claim()).status, 201);
      appId = await dev.registerApp('with_auth');
    });

    test('Identity Pulse → 201 { app_id, auth_public_key, service_public_key, auth_provider_url }; a replay → 409', async () => {
      const identity = request();
      const answer = await post(entry().provision_url, identity);
      assert.equal(answer.status, 201, answer.text);
      assert.deepEqual(Object.keys(answer.body).sort(), ['app_id', 'auth_provider_url', 'auth_public_key', 'service_public_key']);
      assert.equal(answer.body.app_id, appId);
      assert.match(answer.body.auth_public_key, /^ed25519:[A-Za-z0-9_-]{43}$/);
      pulse = answer.body;
      assert.equal(outcome(await post(entry().provision_url, identity)), '409 nonce_reused');
    });

    test('attacks on the Identity Pulse', async () => {
      assert.equal(outcome(await post(entry().provision_url, request({ target_provider: 'article.cms.local' }))), '403 wrong_provider');
      assert.equal(
        outcome(await post(entry().provision_url, request({ app_id: 'com.elsewhere.alice.shop.abcdef' }))),
        '404 unknown_registry',
      );
      assert.equal(outcome(await post(entry().provision_url, request({ region: 'eu-central-1' }))), '422 unsupported_region');
      const forged = envelope('provision', request().data, new Developer(dev.registryUrl, 'x').master);
      assert.equal(outcome(await post(entry().provision_url, forged)), '401 invalid_signature');
    });

    test('the issuer serves openid-configuration and a JWKS with the Auth key (kid = RFC 7638)', async () => {
      const config = await get(`${pulse.auth_provider_url}/.well-known/openid-configuration`);
      assert.equal(config.status, 200, config.text);
      assert.equal(config.body.issuer, pulse.auth_provider_url);
      assert.ok(config.body.id_token_signing_alg_values_supported.includes('EdDSA'));
      const jwks = await get(config.body.jwks_uri);
      assert.equal(jwks.status, 200, jwks.text);
      const x = pulse.auth_public_key.slice('ed25519:'.length);
      const key = jwks.body.keys.find((item: Json) => item.x === x);
      assert.ok(key, jwks.text);
      assert.equal(key.kid, await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x }, 'sha256'));
      const direct = await get(`${pulse.auth_provider_url}/.well-known/jwks.json`);
      assert.equal(direct.status, 200, 'SPEC §4.3: {auth_provider_url}/.well-known/jwks.json');
      assert.deepEqual(direct.body, jwks.body);
    });

    test('delegation at the registry, then a token of the Auth Provider opens a cms-article instance of the app', async () => {
      const delegated = await dev.delegate(appId, pulse.auth_public_key, pulse.auth_provider_url);
      assert.equal(delegated.status, 200, delegated.text);
      const { instance } = await provisionFor(dev, catalogEntry(world().ctx, 'cms-article'), appId);
      assert.equal(instance.status, 'active');
      const tokenRequest = envelope('token_request', fresh({ app_id: appId, sub: 'script' }), dev.master);
      const issued = await post(`${pulse.auth_provider_url}/v1/owner-token`, tokenRequest);
      assert.equal(issued.status, 200, issued.text);
      const token = issued.body.access_token as string;
      const header = decodeProtectedHeader(token);
      const claims = decodeJwt(token);
      assert.equal(header.alg, 'EdDSA');
      assert.equal(header.kid, await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: pulse.auth_public_key.slice(8) }, 'sha256'));
      assert.equal(claims.iss, pulse.auth_provider_url);
      assert.equal(claims.aud, appId);
      assert.equal(claims.sub, 'script');
      for (const claim of ['iat', 'exp', 'roles']) assert.ok(claim in claims, claim);
      const answer = await call('GET', `${instance.endpoint_url}/articles`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(answer.status, 200, answer.text);
      const a = world().instances.get('a:cms-article')!;
      assert.equal(
        outcome(await call('GET', `${a.endpoint_url}/articles`, { headers: { authorization: `Bearer ${token}` } })),
        '401 invalid_token',
      );
    });
  });
}
