import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { claimNamespace, keygen, loadKey, provision, provisionAuth, registerApp, services, userToken } from '../src/index.js';
import { articles, cliOk, runCli, SLOW, startTestSwarm, type TestSwarm } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

/** `swarm move` as a user types it, against a local swarm with a second cms-article provider. */
describe('swarm move', () => {
  let test: TestSwarm;
  const registry = () => test.swarm.registry.url;
  let appId: string;
  let token: string;

  before(async () => {
    test = await startTestSwarm({ secondProviders: true });
    const client = { registry: registry() };
    const master = await keygen(join(test.dir, 'master.pem'));
    const guardian = await keygen(join(test.dir, 'guardian.pem'));
    await claimNamespace(client, { namespace: 'dana', master, guardianPublicKeys: [guardian.publicKey] });
    appId = (await registerApp(client, { namespace: 'dana', slug: 'blog', master })).app_id;
    await provisionAuth(client, { appId, master });
    token = (await userToken(client, { appId, master, sub: 'dana', roles: ['editor'] })).access_token;
  });
  after(() => test.stop());

  const newArticleInstance = async (title: string) => {
    const master = await loadKey(join(test.dir, 'master.pem'));
    const instance = await provision(
      { registry: registry() },
      { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local' },
    );
    const created = await articles(instance.endpoint_url as string, token, { method: 'POST', body: { title, body: 'moved' } });
    assert.equal(created.status, 201);
    return { serviceId: instance.service_id, id: created.body?.id as string };
  };

  it('moves an instance, prints the receipt (--json), and the same token reads the same article at the new provider', SLOW, async () => {
    const { serviceId, id } = await newArticleInstance('Moving day');
    const receipt = await cliOk(['move', serviceId, '--to', 'article2.cms.local', '--app', appId, '--key', 'master.pem'], {
      registry: registry(),
      cwd: test.dir,
    });
    const to = receipt.to as { service_id: string; provider: string; endpoint_url: string };
    assert.equal(to.provider, 'article2.cms.local');
    assert.equal(receipt.items, 1);
    assert.ok((receipt.receipt as { data: { receipt_id: string } }).data.receipt_id);
    const moved = await articles(to.endpoint_url, token, { id });
    assert.equal(moved.status, 200);
    assert.equal(moved.body?.title, 'Moving day');
    const listed = await services({ registry: registry() }, appId, 'cms-article');
    assert.deepEqual(
      listed.filter((r) => r.service_id === serviceId || r.service_id === to.service_id).map((r) => r.provider),
      ['article2.cms.local'],
    );
  });

  it('prints a progress line per step without --json', SLOW, async () => {
    const { serviceId } = await newArticleInstance('Progress');
    const { stderr, code } = await new Promise<{ stderr: string; code: number }>((resolve) => {
      const env = { ...process.env, SWARM_REGISTRY: registry() };
      const args = [BIN, 'move', serviceId, '--to', 'article2.cms.local', '--app', appId, '--key', 'master.pem'];
      execFile(process.execPath, args, { env, cwd: test.dir, timeout: 120_000 }, (error, _stdout, stderr) => {
        resolve({ stderr, code: error ? 1 : 0 });
      });
    });
    assert.equal(code, 0, stderr);
    for (const line of ['provisioned ', 'copying: 1 items', 'verified: 1 items', `switched: ${serviceId} decommissioned`]) {
      assert.ok(stderr.includes(line), `${line} in ${stderr}`);
    }
  });

  it('refuses a provider of another type or none, with the code, and nothing changes', SLOW, async () => {
    const { serviceId } = await newArticleInstance('Stays');
    const [otherType, unknown] = await Promise.all([
      runCli(['move', serviceId, '--to', 'contact2.crm.local', '--app', appId, '--key', 'master.pem'], {
        registry: registry(),
        cwd: test.dir,
      }),
      runCli(['move', serviceId, '--to', 'nowhere.local', '--app', appId, '--key', 'master.pem'], { registry: registry(), cwd: test.dir }),
    ]);
    assert.equal(otherType.json.error?.code, 'invalid_request');
    assert.equal(unknown.json.error?.code, 'unknown_provider');
    assert.ok(
      (await services({ registry: registry() }, appId)).some((r) => r.service_id === serviceId),
      'the instance still serves',
    );
  });
});
