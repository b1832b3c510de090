import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestNetwork } from '@swarm/dev-env';
import { generateSigningKey, type SigningKey } from '@swarm/protocol';
import {
  addUser,
  type ClientOptions,
  claimNamespace,
  provision,
  provisionAuth,
  registerApp,
  removeUser,
  setUserRoles,
} from '../src/index.js';
import { articles } from './helpers.js';

const POLL_SECONDS = 1;

/** Issue: a removed user's tokens stop working at every service at its next check, with no call per request. */
describe('a removed user, end to end through a domain service', () => {
  let dir: string;
  let swarm: TestNetwork;
  let client: ClientOptions;
  let master: SigningKey;
  let appId: string;
  let issuer: string;
  let endpoint: string;

  const login = async (username: string, password: string) => {
    const response = await fetch(`${issuer}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { access_token: string }).access_token;
  };
  /** Polls until the service answers `status` (the revocation list is read every POLL_SECONDS). */
  const eventually = async (token: string, status: number) => {
    const deadline = Date.now() + (POLL_SECONDS * 5 + 5) * 1000;
    let last = 0;
    while (Date.now() < deadline) {
      last = (await articles(endpoint, token)).status;
      if (last === status) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(last, status);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-removed-user-'));
    swarm = await TestNetwork.create({ dataDir: join(dir, 'data'), services: { revocationPollSeconds: POLL_SECONDS } });
    client = { registry: swarm.registry.url };
    master = generateSigningKey();
    await claimNamespace(client, { namespace: 'ruth', master, guardianPublicKeys: [generateSigningKey().publicKey] });
    ({ app_id: appId } = await registerApp(client, { namespace: 'ruth', slug: 'notes', master }));
    issuer = (await provisionAuth(client, { appId, master })).auth_provider_url ?? '';
    assert.ok(issuer, 'the app has an issuer');
    endpoint = (await provision(client, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local' })).endpoint_url ?? '';
  });
  after(async () => {
    await swarm?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens for the user, closes once the owner removes them, opens again for a new login once re-added', async () => {
    await addUser(client, { appId, master, username: 'dora', password: 'a long password', roles: ['editor'] });
    const token = await login('dora', 'a long password');
    assert.equal((await articles(endpoint, token)).status, 200);
    await removeUser(client, { appId, master, username: 'dora' });
    await eventually(token, 401);
    // Re-added, a new login issued after the removal works; the old token stays void.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await addUser(client, { appId, master, username: 'dora', password: 'a long password', roles: ['editor'] });
    const fresh = await login('dora', 'a long password');
    await eventually(fresh, 200);
    assert.equal((await articles(endpoint, token)).status, 401);
  });

  it('a token minted before a role change stops working; the new login carries the new roles', async () => {
    await addUser(client, { appId, master, username: 'ed', password: 'a long password', roles: ['editor'] });
    const before = await login('ed', 'a long password');
    assert.equal((await articles(endpoint, before, { method: 'POST', body: { title: 't', body: 'b' } })).status, 201);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await setUserRoles(client, { appId, master, username: 'ed', roles: ['reader'] });
    await eventually(before, 401);
    const after = await login('ed', 'a long password');
    await eventually(after, 200);
    assert.equal((await articles(endpoint, after, { method: 'POST', body: { title: 't', body: 'b' } })).status, 403);
  });

  it("an admin's token no longer reads usage at Billing once the admin is removed", async () => {
    await addUser(client, { appId, master, username: 'ada', password: 'a long password', roles: ['admin'] });
    const token = await login('ada', 'a long password');
    const read = async () =>
      (await fetch(`${swarm.urls.billing}/v1/usage?app_id=${appId}`, { headers: { authorization: `Bearer ${token}` } })).status;
    assert.equal(await read(), 200);
    await removeUser(client, { appId, master, username: 'ada' });
    // Billing reads the issuer's list when the one it holds is over 10 s old.
    const deadline = Date.now() + 20_000;
    let status = await read();
    while (status !== 401 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      status = await read();
    }
    assert.equal(status, 401);
  });
});
