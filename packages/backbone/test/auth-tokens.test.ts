import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, jwkThumbprint, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { setSignup } from './auth-admin.js';
import {
  bearer,
  call,
  type Developer,
  delegate,
  masterSigned,
  ownerToken,
  post,
  provisionAndDelegate,
  registerDeveloperApp,
  startTestNetwork,
  type TestNetwork,
} from './network.js';

describe('auth provider: users, tokens and key rotation (SPEC §8)', () => {
  let network: TestNetwork;
  let alice: Developer;
  let bob: Developer;
  let issuer: string;
  let bobIssuer: string;

  before(async () => {
    network = await startTestNetwork();
    alice = await registerDeveloperApp(network.registry.url);
    bob = await registerDeveloperApp(network.registry.url);
    issuer = (await provisionAndDelegate(network, alice)).authProviderUrl;
    bobIssuer = (await provisionAndDelegate(network, bob)).authProviderUrl;
    // These apps let anyone sign up, as role `user` (the default is closed: auth-admin.test.ts).
    await setSignup(issuer, alice, 'open', ['user']);
    await setSignup(bobIssuer, bob, 'open', ['user']);
  });
  after(() => network.close());

  const verifyAt = (token: string, atIssuer: string, audience: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(`${atIssuer}/.well-known/jwks.json`)), {
      issuer: atIssuer,
      audience,
      algorithms: ['EdDSA'],
    });

  it('signs up a user of an open app with its default roles and logs them in with a JWT that verifies against the JWKS', async () => {
    const created = await post(`${issuer}/v1/users`, { username: 'carol', password: 'correct horse battery' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body, { app_id: alice.appId, username: 'carol', roles: ['user'] });
    const login = await post(`${issuer}/v1/login`, { username: 'carol', password: 'correct horse battery' });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'Bearer');
    assert.equal(login.body.expires_in, 3600);
    const { payload, protectedHeader } = await verifyAt(login.body.access_token, issuer, alice.appId);
    assert.equal(protectedHeader.alg, 'EdDSA');
    const record = await call('GET', `${network.registry.url}/v1/apps/${alice.appId}`);
    assert.ok(record.body.auth.jwks.keys.some((key: { kid: string }) => key.kid === protectedHeader.kid));
    assert.equal(payload.iss, issuer);
    assert.equal(payload.aud, alice.appId);
    assert.equal(payload.sub, 'carol');
    assert.deepEqual(payload.roles, ['user']);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
  });

  it('answers a wrong password and an unknown user alike, and refuses a taken name', async () => {
    await post(`${issuer}/v1/users`, { username: 'dave', password: 'a long password' });
    const wrong = await post(`${issuer}/v1/login`, { username: 'dave', password: 'not the password' });
    const unknown = await post(`${issuer}/v1/login`, { username: 'nobody', password: 'a long password' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    assert.equal(wrong.body.error.code, 'invalid_token');
    const taken = await post(`${issuer}/v1/users`, { username: 'dave', password: 'another password' });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, 'conflict');
    // A user of one app is not a user of another.
    const elsewhere = await post(`${bobIssuer}/v1/login`, { username: 'dave', password: 'a long password' });
    assert.equal(elsewhere.status, 401);
  });

  it('locks a username after 5 wrong passwords in a row (1 s, doubling), known or not, and only that one', async () => {
    await post(`${issuer}/v1/users`, { username: 'gina', password: 'ginas password' });
    const login = (username: string, password: string, at = issuer) => post(`${at}/v1/login`, { username, password });
    for (let i = 0; i < 5; i++) assert.equal((await login('gina', `guess ${i}`)).status, 401, `guess ${i}`);
    // Locked now, even for the right password; no hashing happens.
    const locked = await fetch(`${issuer}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'gina', password: 'ginas password' }),
    });
    assert.equal(locked.status, 429);
    assert.equal(((await locked.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.equal(locked.headers.get('retry-after'), '1');
    // Other names and the same name at another app go on as before.
    await post(`${issuer}/v1/users`, { username: 'hank', password: 'hanks password' });
    assert.equal((await login('hank', 'hanks password')).status, 200);
    assert.equal((await login('gina', 'anything at all', bobIssuer)).status, 401);
    // An unknown name is throttled alike, so the answers tell nothing about who exists.
    for (let i = 0; i < 5; i++) await login('nobody-here', `guess ${i}`);
    assert.equal((await login('nobody-here', 'guess')).status, 429);
    // Another spelling is another user of the store, and counted apart.
    assert.equal((await login('Gina', 'a guess')).status, 401);
    // A burst of concurrent guesses gets no more tries than a sequence would.
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => login('ivy', `burst ${i}`)));
    assert.deepEqual([burst.filter((x) => x.status === 401).length, burst.filter((x) => x.status === 429).length], [5, 15]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await login('gina', 'ginas password')).status, 200, 'the lock ran out');
    // Success cleared the count: one more wrong password is a plain 401.
    assert.equal((await login('gina', 'wrong again')).status, 401);
    assert.equal((await login('gina', 'ginas password')).status, 200);
  });

  it('refuses malformed sign-ups and logins with invalid_request', async () => {
    for (const body of [
      { username: 'x' },
      { username: 'ok', password: 'short' },
      { username: 'bad name', password: 'long enough' },
      { username: 'ok', password: 'long enough', admin: true },
    ]) {
      const answer = await post(`${issuer}/v1/users`, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error.code, 'invalid_request');
    }
    assert.equal((await post(`${issuer}/v1/login`, '{"username":"a","username":"b","password":"p"}')).body.error.code, 'invalid_request');
  });

  it('lets only an admin of the app set roles at sign-up', async () => {
    const body = { username: 'erin', password: 'a long password', roles: ['admin'] };
    const anonymous = await post(`${issuer}/v1/users`, body);
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.body.error.code, 'forbidden');
    const userToken = (await post(`${issuer}/v1/login`, { username: 'carol', password: 'correct horse battery' })).body.access_token;
    assert.equal((await post(`${issuer}/v1/users`, body, bearer(userToken))).body.error.code, 'forbidden');
    const otherAppAdmin = await ownerToken(bobIssuer, bob);
    const crossApp = await post(`${issuer}/v1/users`, body, bearer(otherAppAdmin));
    assert.equal(crossApp.status, 401);
    assert.equal(crossApp.body.error.code, 'invalid_token');
    const admin = await ownerToken(issuer, alice);
    const created = await post(`${issuer}/v1/users`, body, bearer(admin));
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.roles, ['admin']);
  });

  it('issues owner tokens only for a Master-signed token_request of that app, each nonce once', async () => {
    const envelope = masterSigned('token_request', alice, { sub: 'script', ttl_seconds: 600 });
    const answer = await post(`${issuer}/v1/owner-token`, envelope);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.expires_in, 600);
    const { payload } = await verifyAt(answer.body.access_token, issuer, alice.appId);
    assert.deepEqual(payload.roles, ['admin']);
    assert.equal(payload.sub, 'script');
    assert.equal((await post(`${issuer}/v1/owner-token`, envelope)).body.error.code, 'nonce_reused');

    const byBob = masterSigned('token_request', alice, { sub: 'x' }, bob.master);
    assert.equal((await post(`${issuer}/v1/owner-token`, byBob)).body.error.code, 'invalid_signature');
    const wrongPurpose = signEnvelope(
      'owner_query',
      { app_id: alice.appId, timestamp: nowSeconds(), nonce: newNonce() },
      alice.master.privateKey,
    );
    assert.equal((await post(`${issuer}/v1/owner-token`, wrongPurpose)).body.error.code, 'invalid_request');
    const forAnotherPath = masterSigned('token_request', alice, { sub: 'x' });
    assert.equal((await post(`${bobIssuer}/v1/owner-token`, forAnotherPath)).body.error.code, 'invalid_request');
    const stale = masterSigned('token_request', alice, { sub: 'x', timestamp: nowSeconds() - 1000 });
    assert.equal((await post(`${issuer}/v1/owner-token`, stale)).body.error.code, 'stale_timestamp');
  });

  it('keeps a token of one app from verifying for another', async () => {
    const bobToken = await ownerToken(bobIssuer, bob);
    await assert.rejects(verifyAt(bobToken, issuer, alice.appId));
    await assert.rejects(verifyAt(bobToken, bobIssuer, alice.appId));
  });

  it('rotates the Auth key with an overlap: old tokens stay valid, new ones use the new kid', async () => {
    const developer = await registerDeveloperApp(network.registry.url);
    const { authProviderUrl, authPublicKey } = await provisionAndDelegate(network, developer);
    const oldToken = await ownerToken(authProviderUrl, developer);
    const oldKid = jwkThumbprint(authPublicKey);

    const forged = masterSigned('auth_key_rotation', developer, { context: 'auth_key_rotation' }, generateSigningKey());
    assert.equal((await post(`${authProviderUrl}/v1/rotate-key`, forged)).body.error.code, 'invalid_signature');
    const noContext = masterSigned('auth_key_rotation', developer, {});
    assert.equal((await post(`${authProviderUrl}/v1/rotate-key`, noContext)).body.error.code, 'invalid_request');

    const rotation = masterSigned('auth_key_rotation', developer, { context: 'auth_key_rotation' });
    const rotated = await post(`${authProviderUrl}/v1/rotate-key`, rotation);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.auth_provider_url, authProviderUrl);
    assert.notEqual(rotated.body.auth_public_key, authPublicKey);
    assert.equal((await post(`${authProviderUrl}/v1/rotate-key`, rotation)).body.error.code, 'nonce_reused');
    const newKid = jwkThumbprint(rotated.body.auth_public_key);

    const jwks = await call('GET', `${authProviderUrl}/.well-known/jwks.json`);
    assert.deepEqual(
      jwks.body.keys.map((key: { kid: string }) => key.kid),
      [newKid, oldKid],
    );
    await verifyAt(oldToken, authProviderUrl, developer.appId);
    const newToken = await ownerToken(authProviderUrl, developer);
    assert.equal(decodeProtectedHeader(newToken).kid, newKid);
    await verifyAt(newToken, authProviderUrl, developer.appId);

    // The developer re-delegates (SPEC §4.3 step 3): the registry keeps both keys for the overlap.
    await delegate(network, developer, rotated.body.auth_public_key, authProviderUrl);
    const record = await call('GET', `${network.registry.url}/v1/apps/${developer.appId}`);
    const kids = record.body.auth.jwks.keys.map((key: { kid: string }) => key.kid);
    assert.ok(kids.includes(newKid) && kids.includes(oldKid), JSON.stringify(kids));
  });

  it('takes broadcasts only when the registry signed them', async () => {
    const data = {
      origin: 'swarm.local',
      event: 'MASTER_KEY_ROTATION',
      app_id: alice.appId,
      revoked_master_key: alice.master.publicKey,
      new_master_public_key: generateSigningKey().publicKey,
      timestamp: nowSeconds(),
      nonce: newNonce(),
    };
    const forged = signEnvelope('broadcast', data, alice.master.privateKey);
    for (const url of [`${network.auth.url}/v1/events`, `${issuer}/v1/events`]) {
      const answer = await post(url, forged);
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'invalid_signature');
      assert.equal((await post(url, { version: '1.0' })).body.error.code, 'invalid_request');
    }
  });
});

describe('auth provider: a rotated-out key retires after its overlap', () => {
  let network: TestNetwork;
  before(async () => {
    network = await startTestNetwork();
  });
  after(() => network.close());

  it('drops the old key from the JWKS once the overlap is over', async () => {
    const { startAuthProvider } = await import('../src/index.js');
    const auth = await startAuthProvider({
      port: 0,
      dataDir: join(network.dataDir, 'short-overlap'),
      provider: 'auth.swarm.local',
      trustedRegistries: [network.trusted],
      logLevel: false,
      authKeyOverlapSeconds: 1,
    });
    try {
      const developer = await registerDeveloperApp(network.registry.url);
      const provisioned = await post(
        `${auth.url}/v1/provision`,
        masterSigned('provision', developer, { target_provider: 'auth.swarm.local' }),
      );
      const issuerUrl = provisioned.body.auth_provider_url;
      const rotated = await post(
        `${issuerUrl}/v1/rotate-key`,
        masterSigned('auth_key_rotation', developer, { context: 'auth_key_rotation' }),
      );
      assert.equal(rotated.status, 200);
      // Both keys during the overlap are checked above (300 s); here only the retirement, 1 s later.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const jwks = await call('GET', `${issuerUrl}/.well-known/jwks.json`);
      assert.deepEqual(
        jwks.body.keys.map((key: { kid: string }) => key.kid),
        [jwkThumbprint(rotated.body.auth_public_key)],
      );
    } finally {
      await auth.close();
    }
  });
});
