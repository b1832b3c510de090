import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AUTH_ADMIN_ACTIONS, generateSigningKey, nowSeconds } from '@swarm/protocol';
import { openDatabase } from '@swarm/runtime';
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { AuthStore } from '../src/auth/auth-store.js';
import { adminRequest, setSignup } from './auth-admin.js';
import {
  bearer,
  call,
  type Developer,
  masterSigned,
  post,
  provisionAndDelegate,
  registerDeveloperApp,
  startTestNetwork,
  type TestNetwork,
} from './network.js';

const ROUTES: Record<(typeof AUTH_ADMIN_ACTIONS)[number], string> = {
  signup_policy: '/v1/admin/signup-policy',
  user_add: '/v1/admin/users',
  user_list: '/v1/admin/users/list',
  user_roles: '/v1/admin/users/roles',
  user_reset: '/v1/admin/users/reset',
  user_remove: '/v1/admin/users/remove',
  invite_create: '/v1/admin/invites',
};

const subHash = (sub: string) => createHash('sha256').update(sub).digest('base64url');

describe('auth provider: sign-up policy and the owner’s users (auth_admin)', () => {
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
  });
  after(() => network.close());

  const signUp = (body: Record<string, unknown>, at = issuer) => post(`${at}/v1/users`, body);
  const login = (username: string, password: string, at = issuer) => post(`${at}/v1/login`, { username, password });
  const admin = (path: string, context: string, data: Record<string, unknown> = {}) => adminRequest(issuer, alice, path, context, data);
  const revokedSubjects = async (at = issuer) =>
    (await call('GET', `${at}/v1/revoked-subjects`)).body.subjects as Array<{ sub_hash: string; revoked_at: number }>;

  it('is closed by default: a stranger’s sign-up is 403 forbidden and creates nothing', async () => {
    const answer = await signUp({ username: 'mallory', password: 'longpassword' });
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'forbidden');
    assert.equal((await login('mallory', 'longpassword')).status, 401);
    const listed = await admin(ROUTES.user_list, 'user_list');
    assert.deepEqual(listed.body.users, []);
  });

  it('open: anyone signs up with exactly the default roles (none unless set)', async () => {
    await setSignup(issuer, alice, 'open');
    const created = await signUp({ username: 'stranger', password: 'longpassword' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.roles, []);
    const token = (await login('stranger', 'longpassword')).body.access_token;
    assert.deepEqual(decodeJwt(token).roles, []);

    const policy = await admin(ROUTES.signup_policy, 'signup_policy', { policy: 'open', default_roles: ['reader'] });
    assert.deepEqual(policy.body, { app_id: alice.appId, policy: 'open', default_roles: ['reader'] });
    assert.deepEqual((await signUp({ username: 'reader1', password: 'longpassword' })).body.roles, ['reader']);
    // Asking for roles is still the owner's business.
    assert.equal((await signUp({ username: 'greedy', password: 'longpassword', roles: ['admin'] })).status, 403);
    await setSignup(issuer, alice, 'closed');
    assert.equal((await signUp({ username: 'late', password: 'longpassword' })).status, 403);
  });

  it('invite: a code works once, never after expiry, and of two concurrent uses exactly one wins', async () => {
    await setSignup(issuer, alice, 'invite');
    assert.equal((await signUp({ username: 'uninvited', password: 'longpassword' })).body.error.code, 'forbidden');
    const invite = await admin(ROUTES.invite_create, 'invite_create', { roles: ['editor'] });
    assert.equal(invite.status, 201, JSON.stringify(invite.body));
    assert.deepEqual(invite.body.roles, ['editor']);
    assert.ok(invite.body.expires_at > nowSeconds() + 6 * 86_400);
    const code = invite.body.invite as string;

    const both = await Promise.all(['twin-a', 'twin-b'].map((username) => signUp({ username, password: 'longpassword', invite: code })));
    assert.deepEqual(both.map((answer) => answer.status).sort(), [201, 403], JSON.stringify(both.map((a) => a.body)));
    const winner = both.find((answer) => answer.status === 201)?.body;
    assert.deepEqual(winner.roles, ['editor']);
    const again = await signUp({ username: 'third', password: 'longpassword', invite: code });
    assert.equal(again.status, 403);
    assert.equal(again.body.error.code, 'forbidden');
    assert.equal((await signUp({ username: 'guess', password: 'longpassword', invite: 'A'.repeat(43) })).status, 403);
    // Another app's invite opens nothing here.
    await setSignup(bobIssuer, bob, 'invite');
    const bobInvite = (await adminRequest(bobIssuer, bob, ROUTES.invite_create, 'invite_create')).body.invite;
    assert.equal((await signUp({ username: 'crosser', password: 'longpassword', invite: bobInvite })).status, 403);

    // An expired invite, written straight into the provider's database.
    const database = openDatabase<unknown>({ file: join(network.dataDir, 'auth', 'auth.db') });
    try {
      const now = nowSeconds();
      await new AuthStore(database.db).createInvite(alice.appId, 'expired-invite-code-0001', [], now - 120, now - 1);
    } finally {
      await database.close();
    }
    const expired = await signUp({ username: 'tardy', password: 'longpassword', invite: 'expired-invite-code-0001' });
    assert.equal(expired.status, 403, JSON.stringify(expired.body));
    // A failed sign-up (name taken) leaves the invite usable.
    const spare = (await admin(ROUTES.invite_create, 'invite_create')).body.invite;
    assert.equal((await signUp({ username: winner.username, password: 'longpassword', invite: spare })).status, 409);
    assert.equal((await signUp({ username: 'spare-user', password: 'longpassword', invite: spare })).status, 201);
  });

  it('the owner adds, lists page by page, changes roles of, resets and removes users', async () => {
    for (const name of ['u-a', 'u-b', 'u-c']) {
      const added = await admin(ROUTES.user_add, 'user_add', { username: name, password: 'first password', roles: ['reader'] });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    assert.equal((await admin(ROUTES.user_add, 'user_add', { username: 'u-a', password: 'another one' })).body.error.code, 'conflict');
    const first = await admin(ROUTES.user_list, 'user_list', { limit: 2 });
    assert.equal(first.body.users.length, 2);
    assert.ok(first.body.next);
    const names: string[] = first.body.users.map((user: { username: string }) => user.username);
    let next = first.body.next;
    while (next) {
      const page = await admin(ROUTES.user_list, 'user_list', { after: next, limit: 2 });
      names.push(...page.body.users.map((user: { username: string }) => user.username));
      next = page.body.next;
    }
    assert.deepEqual(names, [...names].sort());
    for (const name of ['u-a', 'u-b', 'u-c']) assert.ok(names.includes(name), name);

    const roles = await admin(ROUTES.user_roles, 'user_roles', { username: 'u-a', roles: ['editor', 'reader'] });
    assert.equal(roles.status, 200, JSON.stringify(roles.body));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(decodeJwt((await login('u-a', 'first password')).body.access_token).roles, ['editor', 'reader']);

    assert.equal((await admin(ROUTES.user_reset, 'user_reset', { username: 'u-b', password: 'second password' })).status, 200);
    assert.equal((await login('u-b', 'first password')).status, 401);
    assert.equal((await login('u-b', 'second password')).status, 200);

    for (const [path, context, data] of [
      [ROUTES.user_roles, 'user_roles', { username: 'nobody', roles: [] }],
      [ROUTES.user_reset, 'user_reset', { username: 'nobody', password: 'whatever long' }],
      [ROUTES.user_remove, 'user_remove', { username: 'nobody' }],
    ] as const) {
      const answer = await admin(path, context, data);
      assert.equal(answer.status, 404, `${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, 'not_found');
    }
  });

  it('an invite opens nothing while sign-up is closed and stays usable; an admin token with an invite is invalid_request', async () => {
    await setSignup(issuer, alice, 'invite');
    const code = (await admin(ROUTES.invite_create, 'invite_create', { roles: ['reader'] })).body.invite as string;
    await setSignup(issuer, alice, 'closed');
    const closed = await signUp({ username: 'early-bird', password: 'longpassword', invite: code });
    assert.equal(closed.status, 403, JSON.stringify(closed.body));
    assert.equal(closed.body.error.code, 'forbidden');
    assert.equal((await login('early-bird', 'longpassword')).status, 401, 'nothing was created');

    await admin(ROUTES.user_add, 'user_add', { username: 'gatekeeper', password: 'gate password', roles: ['admin'] });
    const adminToken = (await login('gatekeeper', 'gate password')).body.access_token as string;
    const both = await post(`${issuer}/v1/users`, { username: 'both-ways', password: 'longpassword', invite: code }, bearer(adminToken));
    assert.equal(both.status, 400, JSON.stringify(both.body));
    assert.equal(both.body.error.code, 'invalid_request');

    // Neither refusal used the invite up: reopened, it works once.
    await setSignup(issuer, alice, 'invite');
    assert.equal((await signUp({ username: 'early-bird', password: 'longpassword', invite: code })).status, 201);
    await setSignup(issuer, alice, 'closed');
  });

  it('a removed user’s token is void: published in revoked-subjects and refused by the provider’s owner routes; re-added, new tokens work', async () => {
    await admin(ROUTES.user_add, 'user_add', { username: 'ops', password: 'ops password', roles: ['admin'] });
    const token = (await login('ops', 'ops password')).body.access_token;
    const addWith = (bearerToken: string, username: string) =>
      post(`${issuer}/v1/users`, { username, password: 'longpassword', roles: ['reader'] }, bearer(bearerToken));
    assert.equal((await addWith(token, 'by-ops-1')).status, 201);
    assert.ok(!(await revokedSubjects()).some((entry) => entry.sub_hash === subHash('ops')));

    const removed = await admin(ROUTES.user_remove, 'user_remove', { username: 'ops' });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const listed = await call('GET', `${issuer}/v1/revoked-subjects`);
    const cacheControl = (await fetch(`${issuer}/v1/revoked-subjects`)).headers.get('cache-control');
    assert.equal(cacheControl, 'public, max-age=10');
    const entry = (listed.body.subjects as Array<{ sub_hash: string; revoked_at: number }>).find((e) => e.sub_hash === subHash('ops'));
    assert.ok(entry, JSON.stringify(listed.body));
    assert.equal(entry.revoked_at, removed.body.revoked_at);
    assert.ok((decodeJwt(token).iat ?? 0) <= entry.revoked_at, 'the old token falls under the entry');
    assert.ok(!JSON.stringify(listed.body).includes('ops'), 'no user name in the list');

    const refused = await addWith(token, 'by-ops-2');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'invalid_token');
    assert.equal((await login('ops', 'ops password')).status, 401, 'removed users cannot log in');

    await admin(ROUTES.user_add, 'user_add', { username: 'ops', password: 'ops password', roles: ['admin'] });
    const fresh = (await login('ops', 'ops password')).body.access_token;
    assert.ok((decodeJwt(fresh).iat ?? 0) > entry.revoked_at, 'issued after the voiding, even in the same second');
    assert.equal((await addWith(fresh, 'by-ops-3')).status, 201);
    assert.equal((await addWith(token, 'by-ops-4')).status, 401, 'the old token stays void');
  });

  it('refuses a request signed by another app’s Master key, for another app or action, replayed, or stale', async () => {
    const byBob = await adminRequest(issuer, alice, ROUTES.user_add, 'user_add', { username: 'x1', password: 'longpassword' }, bob.master);
    assert.equal(byBob.status, 401);
    assert.equal(byBob.body.error.code, 'invalid_signature');
    const byStranger = await adminRequest(issuer, alice, ROUTES.signup_policy, 'signup_policy', { policy: 'open' }, generateSigningKey());
    assert.equal(byStranger.body.error.code, 'invalid_signature');
    // Bob's own, correctly signed request, sent to Alice's path.
    const elsewhere = await post(
      `${issuer}/v1/admin/signup-policy`,
      masterSigned('auth_admin', bob, { context: 'signup_policy', policy: 'open' }),
    );
    assert.equal(elsewhere.body.error.code, 'invalid_request');
    // A request signed for one action is refused by every other route.
    for (const [action, path] of Object.entries(ROUTES)) {
      if (action === 'user_remove') continue;
      const answer = await post(`${issuer}${path}`, masterSigned('auth_admin', alice, { context: 'user_remove', username: 'u-c' }));
      assert.equal(answer.status, 400, `${path}: ${JSON.stringify(answer.body)}`);
    }
    // Another purpose with the same data does not verify as auth_admin.
    const otherPurpose = masterSigned('token_request', alice, { context: 'user_list' });
    assert.equal((await post(`${issuer}${ROUTES.user_list}`, otherPurpose)).body.error.code, 'invalid_signature');
    const once = masterSigned('auth_admin', alice, { context: 'user_list' });
    assert.equal((await post(`${issuer}${ROUTES.user_list}`, once)).status, 200);
    assert.equal((await post(`${issuer}${ROUTES.user_list}`, once)).body.error.code, 'nonce_reused');
    const stale = masterSigned('auth_admin', alice, { context: 'user_list', timestamp: nowSeconds() - 1000 });
    assert.equal((await post(`${issuer}${ROUTES.user_list}`, stale)).body.error.code, 'stale_timestamp');
    assert.equal((await admin(ROUTES.signup_policy, 'signup_policy', { policy: 'public' })).body.error.code, 'invalid_request');
    assert.equal((await admin(ROUTES.user_add, 'user_add', { username: 'dup', password: 'longpassword', roles: ['a', 'a'] })).status, 400);
  });

  it('never answers 500 to arbitrary owner requests (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.values(ROUTES)),
        fc.record(
          {
            context: fc.constantFrom(...AUTH_ADMIN_ACTIONS, 'other'),
            username: fc.string({ maxLength: 140 }),
            password: fc.string({ maxLength: 20 }),
            roles: fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
            policy: fc.string({ maxLength: 8 }),
            limit: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
            ttl_seconds: fc.integer(),
          },
          { requiredKeys: ['context'] },
        ),
        async (path, data) => {
          const answer = await post(`${issuer}${path}`, masterSigned('auth_admin', alice, data));
          assert.ok(answer.status < 500, `${answer.status} ${JSON.stringify(answer.body)}`);
        },
      ),
      { numRuns: 40 },
    );
  });
});
