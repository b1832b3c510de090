import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, type ProvisionedInstance, provisionInstance, type TestDeveloper } from '@swarm/dev-env';
import { generateSigningKey } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import fc from 'fast-check';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, startCountingProxy, startNotes, startTestRegistry, tempDir } from './helpers.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('user tokens (SPEC §8)', () => {
  const dir = tempDir('kit-tokens');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let alice: TestDeveloper;
  let bob: TestDeveloper;
  let aliceNotes: ProvisionedInstance;
  let bobNotes: ProvisionedInstance;

  const notes = (instance: ProvisionedInstance) => `${instance.endpoint_url}/notes`;
  const expectInvalid = async (url: string, token: string) => {
    const answer = await callApi(url, token);
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(errorCode(answer.body), 'invalid_token');
  };

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    service = await startNotes(registry, join(dir.path, 'notes'));
    await service.registerOffer(registry.url, registry.adminToken);
    alice = await createTestDeveloper(registry.url);
    bob = await createTestDeveloper(registry.url);
    aliceNotes = await provisionInstance(service, alice);
    bobNotes = await provisionInstance(service, bob);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('opens an instance of its own app and keeps apps apart', async () => {
    const token = await alice.token({ sub: 'alice-user' });
    const created = await callApi(notes(aliceNotes), token, { method: 'POST', json: { text: 'hello' } });
    assert.equal(created.status, 201);
    assert.equal((created.body as { sub: string }).sub, 'alice-user');
    assert.equal((await callApi(notes(aliceNotes), token)).status, 200);
    await expectInvalid(notes(bobNotes), token);
    // Bob's token with Alice's audience is still signed by Bob's Auth key, unknown to Alice's app.
    await expectInvalid(notes(aliceNotes), await bob.token({ audience: alice.appId, issuer: alice.issuer }));
    const bobList = await callApi(notes(bobNotes), await bob.token());
    assert.deepEqual((bobList.body as { notes: unknown[] }).notes, []);
  });

  it('refuses a missing or malformed Authorization header', async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer a b' },
    ];
    for (const headers of variants) {
      const response = await fetch(notes(aliceNotes), { headers });
      assert.equal(response.status, 401);
      assert.equal(errorCode(await response.json()), 'invalid_token');
    }
  });

  it('refuses alg none, HS256, expired, wrong issuer and wrong audience', async () => {
    const valid = await alice.token();
    const [, payload] = valid.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(valid.split('.')[0] as string, 'base64url').toString()) as Record<string, unknown>;
    await expectInvalid(notes(aliceNotes), `${b64({ ...header, alg: 'none' })}.${payload}.`);
    const hsHeader = b64({ ...header, alg: 'HS256' });
    // The classic confusion: an HMAC keyed with the public key's bytes.
    const hmac = createHmac('sha256', Buffer.from(alice.authKey.publicKey.slice(8), 'base64url'))
      .update(`${hsHeader}.${payload}`)
      .digest('base64url');
    await expectInvalid(notes(aliceNotes), `${hsHeader}.${payload}.${hmac}`);
    await expectInvalid(notes(aliceNotes), await alice.token({ expiresIn: -61 }));
    await expectInvalid(notes(aliceNotes), await alice.token({ issuer: 'http://127.0.0.1:9/apps/someone-else' }));
    await expectInvalid(notes(aliceNotes), await alice.token({ audience: bob.appId }));
    await expectInvalid(notes(aliceNotes), `${valid.slice(0, -4)}AAAA`);
    // Within the 60 s clock skew an expired token still passes.
    assert.equal((await callApi(notes(aliceNotes), await alice.token({ expiresIn: -30 }))).status, 200);
  });

  it('stops taking a token it verified before once the token expired (60 s skew)', async () => {
    // Valid for about two more seconds with the skew: verified once, then answered from the cache.
    const token = await alice.token({ expiresIn: -58 });
    assert.equal((await callApi(notes(aliceNotes), token)).status, 200);
    assert.equal((await callApi(notes(aliceNotes), token)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    await expectInvalid(notes(aliceNotes), token);
  });

  it('refreshes the context on an unknown kid, at most once per 30 s per app', async () => {
    const proxy = await startCountingProxy(registry.url);
    const proxied = await startNotes({ ...registry, url: proxy.url }, join(dir.path, 'proxied'), {
      heartbeatIntervalSeconds: 60,
      provider: 'proxied.kit.local',
    });
    try {
      await proxied.registerOffer(registry.url, registry.adminToken);
      const carol = await createTestDeveloper(registry.url);
      const carolNotes = await provisionInstance(proxied, carol);
      const url = notes(carolNotes);
      const old = await carol.token();
      // Twice: the second answer comes from the verified-token cache, which must close with the key.
      assert.equal((await callApi(url, old)).status, 200);
      assert.equal((await callApi(url, old)).status, 200);
      const contextCalls = () => proxy.hits(/\/context$/);
      const before = contextCalls();
      await carol.rotateAuthKey();
      assert.equal((await callApi(url, await carol.token())).status, 200, 'the new Auth key was fetched');
      assert.ok(contextCalls() > before);
      await expectInvalid(url, old);
      // Let the BACKBONE_UPDATE broadcast's own refresh land before counting.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const settled = contextCalls();
      for (let i = 0; i < 5; i++) await expectInvalid(url, await carol.token({ key: generateSigningKey() }));
      assert.ok(contextCalls() - settled <= 1, 'unknown kids refresh at most once per 30 s');
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });

  it('answers every garbage token with invalid_token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_.-]{1,300}$/), async (token) => {
        const answer = await callApi(notes(bobNotes), token);
        assert.equal(answer.status, 401);
        assert.equal(errorCode(answer.body), 'invalid_token');
      }),
      { numRuns: 100 },
    );
  });
});
