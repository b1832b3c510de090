import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { claimNamespace, keygen, provision, provisionAuth, registerApp } from '../src/index.js';
import { cliOk, runCli, SLOW, startTestSwarm, type TestSwarm } from './helpers.js';

/** The rest of the lifecycle through the CLI, and what its errors look like. */
describe('the swarm CLI after the quickstart', () => {
  let test: TestSwarm;
  const run = (...args: string[]) => runCli(args, { registry: test.swarm.registry.url, cwd: test.dir });
  const ok = (...args: string[]) => cliOk(args, { registry: test.swarm.registry.url, cwd: test.dir });
  let appId: string;
  let serviceId: string;

  before(async () => {
    test = await startTestSwarm();
    const client = { registry: test.swarm.registry.url };
    const master = await keygen(join(test.dir, 'master.pem'));
    const guardian = await keygen(join(test.dir, 'guardian.pem'));
    await Promise.all(['master-2.pem', 'master-3.pem'].map((file) => keygen(join(test.dir, file))));
    await claimNamespace(client, { namespace: 'alice', master, guardianPublicKeys: [guardian.publicKey] });
    appId = (await registerApp(client, { namespace: 'alice', slug: 'blog', master })).app_id;
    await provisionAuth(client, { appId, master });
    serviceId = (await provision(client, { appId, serviceType: 'crm-contact', master, tier: 'free', region: 'local' })).service_id;
  });
  after(() => test.stop());

  it('updates the backbone and decommissions with a receipt', SLOW, async () => {
    const updated = await ok('backbone', 'update', '--app', appId, '--key', 'master.pem', '--billing', test.swarm.urls.billing);
    assert.equal(typeof updated.config_epoch, 'number');
    const gone = await ok('decommission', serviceId, '--app', appId, '--key', 'master.pem');
    assert.equal((gone.receipt as { data: { status: string } }).data.status, 'success');
    assert.deepEqual((await ok('services', appId)).records, []);
  });

  it('lists the app’s broadcasts and the service’s report outbox, and retries nothing when nothing is dead', SLOW, async () => {
    const states = await Promise.all(
      ['pending', 'delivered', 'dead'].map((state) => ok('broadcasts', 'list', '--app', appId, '--state', state)),
    );
    const events = states.flatMap((page) => (page.broadcasts as Array<{ event: string | null }>).map((row) => row.event));
    assert.ok(events.includes('BACKBONE_UPDATE'), `the backbone update was broadcast: ${JSON.stringify(states)}`);
    assert.deepEqual((states[2] as { broadcasts: unknown[] }).broadcasts, [], 'nothing dead on a healthy swarm');
    assert.equal((await ok('broadcasts', 'retry', '--app', appId, '--key', 'master.pem')).retried, 0);
    const badState = await run('broadcasts', 'list', '--app', appId, '--state', 'lost');
    assert.equal(badState.json.error?.code, 'invalid_request');
    const outbox = await ok('outbox', 'list', 'crm-contact', '--data', join(test.swarm.dataDir, 'crm-contact'), '--state', 'pending');
    assert.ok(Array.isArray(outbox.rows));
    const noData = await run('outbox', 'list', 'crm-contact', '--data', join(test.dir, 'nowhere'));
    assert.equal(noData.json.error?.code, 'not_found');
    assert.match(noData.stderr, /--data DIR/);
  });

  it('rotates the Master key, then recovers it with the Guardian key', SLOW, async () => {
    await ok('rotate', '--namespace', 'alice', '--key', 'master.pem', '--new-key', 'master-2.pem');
    await ok('recover', '--namespace', 'alice', '--guardian', 'guardian.pem', '--new-key', 'master-3.pem');
    const [stale, fresh] = await Promise.all([
      run('app', 'register', 'shop', '--namespace', 'alice', '--key', 'master-2.pem'),
      run('app', 'register', 'shop', '--namespace', 'alice', '--key', 'master-3.pem'),
    ]);
    assert.equal(stale.json.error?.code, 'invalid_signature');
    assert.match(stale.stderr, /use the new key/);
    assert.equal(fresh.code, 0);
  });

  it('fails with a non-zero exit, the SPEC code and a hint', SLOW, async () => {
    const [unknown, badApp, tier, down, missing, noKey] = await Promise.all([
      run('app', 'register', 'x', '--namespace', 'nobody', '--key', 'master-3.pem'),
      run('services', 'not-an-app-id'),
      run('provision', 'cms-article', '--app', appId, '--key', 'master-3.pem', '--tier', 'gold', '--region', 'local'),
      runCli(['catalog'], { registry: 'http://127.0.0.1:9', cwd: test.dir }),
      run('token', '--app', appId),
      run('app', 'register', 'x', '--namespace', 'alice', '--key', 'nope.pem'),
    ]);
    assert.notEqual(unknown.code, 0);
    assert.equal(unknown.json.error?.code, 'unknown_namespace');
    assert.match(unknown.stderr, /error unknown_namespace: /);
    assert.match(unknown.stderr, /swarm namespace register/);
    assert.equal(badApp.json.error?.code, 'invalid_app_id');
    assert.notEqual(badApp.code, 0);
    assert.equal(tier.json.error?.code, 'unsupported_tier');
    assert.match(tier.stderr, /swarm catalog/);
    assert.notEqual(down.code, 0);
    assert.equal(down.json.error?.code, 'registry_unavailable');
    assert.match(down.stderr, /npm start/);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /required option/);
    assert.equal(noKey.json.error?.code, 'invalid_request');
  });
});
