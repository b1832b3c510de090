import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliOk, runCli, SLOW, startTestSwarm, type TestSwarm } from './helpers.js';

/** The README's "Users and sign-up" part through the CLI, and the sign-ups it lets in or not. */
describe('swarm users and swarm auth signup', () => {
  let test: TestSwarm;
  let appId: string;
  let issuer: string;
  const ok = (...args: string[]) => cliOk(args, { registry: test.swarm.registry.url, cwd: test.dir });
  const owner = () => ['--app', appId, '--key', 'master.pem'];
  const signUp = async (body: Record<string, unknown>) =>
    (await fetch(`${issuer}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }))
      .status;
  const login = async (username: string, password: string) =>
    (
      await fetch(`${issuer}/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
    ).status;

  before(async () => {
    test = await startTestSwarm();
  });
  after(() => test.stop());

  it('sets up an app with its auth provider', SLOW, async () => {
    await Promise.all([ok('keygen', '--out', 'master.pem'), ok('keygen', '--out', 'guardian.pem')]);
    await ok('namespace', 'register', 'alice', '--key', 'master.pem', '--guardian', 'guardian.pem');
    appId = (await ok('app', 'register', 'blog', '--namespace', 'alice', '--key', 'master.pem')).app_id as string;
    issuer = (await ok('auth', 'provision', '--app', appId, '--key', 'master.pem')).auth_provider_url as string;
    assert.equal(await signUp({ username: 'stranger', password: 'longpassword' }), 403, 'closed by default');
  });

  it('adds, lists, changes roles of, resets and removes users', SLOW, async () => {
    const added = await ok('users', 'add', 'carol', ...owner(), '--roles', 'reader,editor');
    assert.deepEqual(added.roles, ['reader', 'editor']);
    assert.equal(typeof added.password, 'string', 'a made-up password is printed');
    assert.equal(await login('carol', added.password as string), 200);
    const listed = await ok('users', 'list', ...owner());
    assert.deepEqual(
      (listed.users as Array<{ username: string }>).map((user) => user.username),
      ['carol'],
    );
    assert.deepEqual((await ok('users', 'roles', 'carol', ...owner(), '--roles', '')).roles, []);
    const reset = await ok('users', 'reset', 'carol', ...owner(), '--password', 'a brand new password');
    assert.equal(reset.password, undefined);
    assert.equal(await login('carol', 'a brand new password'), 200);
    await ok('users', 'remove', 'carol', ...owner());
    assert.equal(await login('carol', 'a brand new password'), 401);
    const missing = await runCli(['users', 'remove', 'carol', ...owner()], { registry: test.swarm.registry.url, cwd: test.dir });
    assert.equal(missing.code, 1);
    assert.equal(missing.json.error?.code, 'not_found');
    assert.match(missing.stderr, /^error not_found: /m);
  });

  it('opens sign-up by invite and for anyone, and closes it again', SLOW, async () => {
    assert.equal((await ok('auth', 'signup', ...owner(), '--policy', 'invite')).policy, 'invite');
    const invite = await ok('users', 'invite', ...owner(), '--roles', 'reader', '--ttl', '3600');
    assert.equal(await signUp({ username: 'erin', password: 'longpassword', invite: invite.invite }), 201);
    assert.equal(await signUp({ username: 'frank', password: 'longpassword', invite: invite.invite }), 403, 'used once');
    const open = await ok('auth', 'signup', ...owner(), '--policy', 'open', '--default-roles', 'reader');
    assert.deepEqual(open.default_roles, ['reader']);
    assert.equal(await signUp({ username: 'gina', password: 'longpassword' }), 201);
    await ok('auth', 'signup', ...owner(), '--policy', 'closed');
    assert.equal(await signUp({ username: 'hank', password: 'longpassword' }), 403);
    const bad = await runCli(['auth', 'signup', ...owner(), '--policy', 'public'], { registry: test.swarm.registry.url, cwd: test.dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /closed, invite or open/);
  });
});
