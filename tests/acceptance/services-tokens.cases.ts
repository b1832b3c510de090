import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorldRef } from './fixtures/apps.js';
import { now } from './spec-client/envelope.js';
import { call, outcome } from './spec-client/http.js';
import { rawPublicKey } from './spec-client/keys.js';
import { AuthKey } from './spec-client/tokens.js';

export function tokenCases(world: WorldRef): void {
  describe('SPEC §8 user tokens minted with our own delegated Auth key', () => {
    const articles = (key: 'a' | 'b') => `${world().instances.get(`${key}:cms-article`)!.endpoint_url}/articles`;
    const list = (url: string, token: string | null) => call('GET', url, token ? { headers: { authorization: `Bearer ${token}` } } : {});

    test('a valid EdDSA token (kid = RFC 7638 thumbprint) opens the instance', async () => {
      const { a } = world();
      const answer = await list(articles('a'), await a.auth.mint());
      assert.equal(answer.status, 200, answer.text);
    });

    test('every forgery → 401 invalid_token', async () => {
      const { a, b } = world();
      const url = articles('a');
      const stranger = await AuthKey.create(a.auth.issuer, a.appId);
      const [header, payload] = (await a.auth.mint()).split('.');
      const tampered = `${header}.${Buffer.from(JSON.stringify(a.auth.claims({ roles: ['admin'] }))).toString('base64url')}.${(await a.auth.mint()).split('.')[2]}`;
      const cases: Record<string, string | null> = {
        'no token': null,
        garbage: 'not.a.token',
        'alg none': a.auth.unsigned(),
        'HS256 keyed with the raw public key': a.auth.hs256WithPublicKey(rawPublicKey(a.auth.key.publicKey)),
        'HS256 keyed with the wire public key': a.auth.hs256WithPublicKey(a.auth.key.publicKey),
        'HS256 keyed with x': a.auth.hs256WithPublicKey(a.auth.jwk().x),
        expired: await a.auth.mint({ iat: now() - 3600, exp: now() - 120 }),
        'wrong issuer': await a.auth.mint({ iss: 'https://evil.acceptance.test/apps/x' }),
        'wrong audience': await a.auth.mint({ aud: b.appId }),
        'unknown kid (a key never delegated)': await stranger.mint(),
        "unknown key under the app's kid": await stranger.mint({}, { kid: a.auth.kid }),
        'payload swapped under a valid signature': tampered,
        'header only': `${header}.${payload}`,
        "app B's token": await b.auth.mint(),
        'no exp claim': await a.auth.mint({ exp: undefined }),
      };
      for (const [name, token] of Object.entries(cases)) {
        assert.equal(outcome(await list(url, token)), '401 invalid_token', name);
      }
      const scheme = await call('GET', url, { headers: { authorization: `Basic ${await a.auth.mint()}` } });
      assert.equal(outcome(scheme), '401 invalid_token', 'not a Bearer token');
    });

    test('a token expired less than 60 s ago is still accepted (skew)', async () => {
      const { a } = world();
      const answer = await list(articles('a'), await a.auth.mint({ iat: now() - 600, exp: now() - 20 }));
      assert.equal(answer.status, 200, answer.text);
    });

    test("a token of app A never opens app B's data", async () => {
      const { a, b } = world();
      const created = await call('POST', articles('a'), {
        body: { title: 'A only', body: 'secret of A' },
        headers: { authorization: `Bearer ${await a.auth.mint()}` },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(outcome(await list(articles('b'), await a.auth.mint())), '401 invalid_token');
      const inB = await list(`${articles('b')}/${created.body.id}`, await b.auth.mint());
      assert.equal(outcome(inB), '404 not_found', "A's article is not in B's instance");
    });
  });
}

/** SPEC §4.3/§8: a new Auth key delegated at the registry reaches the instances; `retire_previous_after: 0` drops the old one. */
export function authRotationCases(world: WorldRef): void {
  describe('SPEC §4.3 re-delegation reaches the instances', () => {
    const articles = () => `${world().instances.get('b:cms-article')!.endpoint_url}/articles`;
    const status = async (auth: AuthKey) =>
      (await call('GET', articles(), { headers: { authorization: `Bearer ${await auth.mint()}` } })).status;
    const until = async (auth: AuthKey, expected: number) => {
      const deadline = Date.now() + 40_000;
      let last = await status(auth);
      while (last !== expected && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        last = await status(auth);
      }
      return last;
    };

    test('a new key works and the previous one still does; with retire_previous_after 0 the previous one stops', async () => {
      const { dev, b } = world();
      const second = await AuthKey.create(b.auth.issuer, b.appId);
      assert.equal((await dev.delegate(b.appId, second.key.publicKey, second.issuer)).status, 200);
      assert.equal(await until(second, 200), 200, 'the new key is accepted');
      assert.equal(await status(b.auth), 200, 'the previous key stays for retire_previous_after (default 300 s)');
      const third = await AuthKey.create(b.auth.issuer, b.appId);
      assert.equal((await dev.delegate(b.appId, third.key.publicKey, third.issuer, { retire_previous_after: 0 })).status, 200);
      assert.equal(await until(third, 200), 200);
      assert.equal(await until(second, 401), 401, 'the previous key is dropped at once');
      b.auth = third;
    });
  });
}
