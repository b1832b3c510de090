import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { claimNamespace, keygen, provision, provisionAuth, registerApp, services } from '../src/index.js';
import { cliOk, runCli, SLOW, startTestSwarm, type TestSwarm } from './helpers.js';

/** Day two through the CLI: change a running instance, then retire the app. */
describe('the swarm CLI on day two', () => {
  let test: TestSwarm;
  const run = (...args: string[]) => runCli(args, { registry: test.swarm.registry.url, cwd: test.dir });
  const ok = (...args: string[]) => cliOk(args, { registry: test.swarm.registry.url, cwd: test.dir });
  let appId: string;
  let serviceId: string;

  before(async () => {
    test = await startTestSwarm();
    const client = { registry: test.swarm.registry.url };
    const master = await keygen(join(test.dir, 'master.pem'));
    await keygen(join(test.dir, 'stranger.pem'));
    const guardian = await keygen(join(test.dir, 'guardian.pem'));
    await claimNamespace(client, { namespace: 'carol', master, guardianPublicKeys: [guardian.publicKey] });
    appId = (await registerApp(client, { namespace: 'carol', slug: 'notes', master })).app_id;
    await provisionAuth(client, { appId, master });
    serviceId = (await provision(client, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local' })).service_id;
  });
  after(() => test.stop());

  it('swarm update upgrades the tier; the storage limit follows the new tier default', SLOW, async () => {
    const updated = await ok('update', serviceId, '--app', appId, '--key', 'master.pem', '--tier', 'pro_cluster');
    assert.equal(updated.status, 'applied');
    assert.equal(updated.service_tier, 'pro_cluster');
    assert.equal(updated.storage_limit_gb, 10);
    const listed = (await services({ registry: test.swarm.registry.url }, appId)).find((r) => r.service_id === serviceId);
    assert.equal(listed?.service_tier, 'pro_cluster');
    assert.equal(listed?.storage_limit_gb, 10);
    assert.ok((listed?.updated_at ?? 0) >= (listed?.bound_at ?? Number.POSITIVE_INFINITY), 'the last change is listed');
    const logged = await ok('operation', updated.update_id as string, '--app', appId);
    assert.deepEqual(
      (logged.entries as Array<{ event: string }>).map((entry) => entry.event),
      ['service_updated'],
      'the update_id names its audit entry',
    );
    const more = await ok('update', serviceId, '--app', appId, '--key', 'master.pem', '--storage-gb', '50');
    assert.equal(more.storage_limit_gb, 50);
    assert.equal(more.service_tier, 'pro_cluster');
  });

  it('swarm update refuses what the offer does not allow, or a key that is not the owner’s, with the code', SLOW, async () => {
    const [tooBig, gold, stranger] = await Promise.all([
      run('update', serviceId, '--app', appId, '--key', 'master.pem', '--tier', 'free', '--storage-gb', '5'),
      run('update', serviceId, '--app', appId, '--key', 'master.pem', '--tier', 'gold'),
      run('update', serviceId, '--app', appId, '--key', 'stranger.pem', '--storage-gb', '20'),
    ]);
    assert.equal(tooBig.json.error?.code, 'storage_limit_exceeded');
    assert.notEqual(tooBig.code, 0);
    assert.equal(gold.json.error?.code, 'unsupported_tier');
    assert.equal(stranger.json.error?.code, 'invalid_signature');
    const listed = (await services({ registry: test.swarm.registry.url }, appId)).find((r) => r.service_id === serviceId);
    assert.equal(listed?.storage_limit_gb, 50, 'nothing changed');
  });

  it('swarm delegate: a CI key provisions but may not decommission; revoked at once', SLOW, async () => {
    await ok('keygen', '--out', 'ci.pem');
    const granted = await ok(
      'delegate',
      '--namespace',
      'carol',
      '--app',
      appId,
      '--actions',
      'provision,read_usage',
      '--expires',
      '1h',
      '--key',
      'master.pem',
      '--delegate-key',
      'ci.pem',
    );
    assert.equal(granted.status, 'active');
    const made = await ok('provision', 'crm-contact', '--app', appId, '--key', 'ci.pem', '--tier', 'free', '--region', 'local');
    assert.equal(made.status, 'active');
    const [refused, further, listed] = await Promise.all([
      run('decommission', made.service_id as string, '--app', appId, '--key', 'ci.pem'),
      run(
        'delegate',
        '--namespace',
        'carol',
        '--app',
        appId,
        '--actions',
        'decommission',
        '--expires',
        '1h',
        '--key',
        'ci.pem',
        '--public-key',
        granted.public_key as string,
      ),
      ok('delegations', '--namespace', 'carol'),
    ]);
    assert.equal(refused.json.error?.code, 'forbidden');
    assert.equal(further.json.error?.code, 'invalid_signature', 'a delegated key does not delegate');
    assert.equal((listed.delegations as unknown[]).length, 1);
    const revoked = await ok('revoke-delegation', granted.delegation_id as string, '--namespace', 'carol', '--key', 'master.pem');
    assert.equal(revoked.status, 'revoked');
    const after = await run('provision', 'crm-contact', '--app', appId, '--key', 'ci.pem', '--tier', 'free', '--region', 'local');
    assert.equal(after.json.error?.code, 'invalid_signature');
    await ok('decommission', made.service_id as string, '--app', appId, '--key', 'master.pem');
  });

  it('swarm app retire is refused while an instance is bound, then retires the app', SLOW, async () => {
    const early = await run('app', 'retire', appId, '--key', 'master.pem');
    assert.equal(early.json.error?.code, 'conflict');
    assert.match(early.stderr, /decommission/);
    await ok('decommission', serviceId, '--app', appId, '--key', 'master.pem');
    const retired = await ok('app', 'retire', appId, '--key', 'master.pem');
    assert.equal(retired.status, 'retired');
    const provisionAfter = await run(
      'provision',
      'crm-contact',
      '--app',
      appId,
      '--key',
      'master.pem',
      '--tier',
      'free',
      '--region',
      'local',
    );
    assert.equal(provisionAfter.json.error?.code, 'gone');
    const audit = await ok('audit', 'verify', appId);
    assert.equal(audit.ok, true, 'the retired app’s audit log still verifies');
  });
});
