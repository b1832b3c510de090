import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { boundInstance, listedProvider, TestNetwork } from '@swarm/dev-env';
import { claimNamespace, keygen, loadKey, registerApp } from '../src/index.js';
import { cliOk, runCli, SLOW } from './helpers.js';

/** Apps and namespaces change, and what exists reads back, through the CLI (registry and backbone only). */
describe('the swarm CLI: app display data, the Guardian set, operations and the instance listing', () => {
  let network: TestNetwork;
  let dir: string;
  let appId: string;
  let g3PublicKey: string;
  const run = (...args: string[]) => runCli(args, { registry: network.registry.url, cwd: dir });
  const ok = (...args: string[]) => cliOk(args, { registry: network.registry.url, cwd: dir });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-cli-changes-'));
    network = await TestNetwork.create({ parts: 'backbone', dataDir: join(dir, 'data') });
    const client = { registry: network.registry.url };
    const [master, g1, g2] = await Promise.all(['master.pem', 'g1.pem', 'g2.pem'].map((file) => keygen(join(dir, file))));
    const [g3] = await Promise.all(['g3.pem', 'stranger.pem', 'new-master.pem', 'other-master.pem'].map((file) => keygen(join(dir, file))));
    g3PublicKey = g3!.publicKey;
    await claimNamespace(client, { namespace: 'dora', master: master!, guardianPublicKeys: [g1!.publicKey, g2!.publicKey] });
    appId = (await registerApp(client, { namespace: 'dora', slug: 'notes', master: master! })).app_id;
  });
  after(async () => {
    await network.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('swarm app update changes the display data; swarm operation reads its entry back by seq', SLOW, async () => {
    const [updated, stranger, nothing] = await Promise.all([
      ok('app', 'update', appId, '--key', 'master.pem', '--display-name', 'Notes ✓', '--description', 'Team notes'),
      run('app', 'update', appId, '--key', 'stranger.pem', '--display-name', 'Mine'),
      run('app', 'update', appId, '--key', 'master.pem'),
    ]);
    assert.equal(updated.display_name, 'Notes ✓');
    assert.equal(updated.description, 'Team notes');
    assert.equal(stranger.json.error?.code, 'invalid_signature');
    assert.notEqual(stranger.code, 0);
    assert.equal(nothing.json.error?.code, 'invalid_request');
    const [found, cleared, apps] = await Promise.all([
      ok('operation', String(updated.audit_seq), '--app', appId),
      ok('app', 'update', appId, '--key', 'master.pem', '--description', ''),
      ok('apps', '--namespace', 'dora'),
    ]);
    const entries = found.entries as Array<{ event: string; display_name: string }>;
    assert.equal(entries[0]?.event, 'app_updated');
    assert.equal(entries[0]?.display_name, 'Notes ✓');
    assert.equal(cleared.description, null);
    assert.equal((apps.apps as Array<{ display_name: string }>)[0]?.display_name, 'Notes ✓');
  });

  it('swarm guardians set needs a current Guardian; recovery then takes the new set only', SLOW, async () => {
    const [notCurrent, guardianAsMaster] = await Promise.all([
      run('guardians', 'set', '--namespace', 'dora', '--key', 'master.pem', '--guardian', 'stranger.pem', '--new', 'g1.pem,g3.pem'),
      run('guardians', 'set', '--namespace', 'dora', '--key', 'g1.pem', '--guardian', 'g2.pem', '--new', 'g1.pem,g3.pem'),
    ]);
    assert.equal(notCurrent.json.error?.code, 'invalid_signature');
    assert.equal(guardianAsMaster.json.error?.code, 'invalid_signature');
    const changed = await ok(
      'guardians',
      'set',
      '--namespace',
      'dora',
      '--key',
      'master.pem',
      '--guardian',
      'g2.pem',
      '--new',
      'g1.pem,g3.pem',
    );
    assert.equal((changed.guardian_public_keys as string[]).length, 2);
    const [byKey, listed] = await Promise.all([ok('operation', g3PublicKey, '--app', appId), ok('audit', 'list', appId)]);
    assert.deepEqual(
      (byKey.entries as Array<{ event: string }>).map((entry) => entry.event),
      ['guardians_changed'],
      'a key finds the entries listing it',
    );
    const events = (listed.entries as Array<{ event: string }>).map((entry) => entry.event);
    assert.deepEqual(events.slice(-2), ['app_updated', 'guardians_changed']);
    const removed = await run('recover', '--namespace', 'dora', '--guardian', 'g2.pem', '--new-key', 'other-master.pem');
    assert.equal(removed.json.error?.code, 'invalid_signature', 'a removed Guardian recovers nothing');
    const recovered = await ok('recover', '--namespace', 'dora', '--guardian', 'g3.pem', '--new-key', 'new-master.pem');
    assert.equal(recovered.namespace, 'dora');
  });

  it('swarm services shows storage and last change; swarm operation finds what the log says of an instance', SLOW, async () => {
    const provider = await listedProvider(network.registry);
    const bound = await boundInstance(network.registry, { master: await loadKey(join(dir, 'new-master.pem')) }, appId, provider);
    const [listed, found, missing] = await Promise.all([
      ok('services', appId),
      ok('operation', bound.serviceId, '--app', appId),
      run('operation', '0123456789abcdef0123456789abcdef', '--app', appId),
    ]);
    const record = (listed.records as Array<Record<string, unknown>>).find((r) => r.service_id === bound.serviceId);
    assert.equal(record?.updated_at, record?.bound_at);
    assert.equal(record?.storage_limit_gb, 1);
    assert.ok((found.entries as Array<{ event: string }>).some((e) => e.event === 'service_bound'));
    assert.equal(missing.json.error?.code, 'not_found');
  });
});
