import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { articles, cliOk, SLOW, startTestSwarm, type TestSwarm } from './helpers.js';

/** The README quickstart, step by step, as a user types it (with --json to read the answers). */
describe('the README quickstart through the swarm CLI', () => {
  let test: TestSwarm;
  const ok = (...args: string[]) => cliOk(args, { registry: test.swarm.registry.url, cwd: test.dir });
  let appId: string;
  let endpointUrl: string;

  before(async () => {
    test = await startTestSwarm();
  });
  after(() => test.stop());

  it('makes keys, claims a namespace and registers an app', SLOW, async () => {
    const [master] = await Promise.all([ok('keygen', '--out', 'master.pem'), ok('keygen', '--out', 'guardian.pem')]);
    assert.match(master.public_key as string, /^ed25519:/);
    const namespace = await ok('namespace', 'register', 'alice', '--key', 'master.pem', '--guardian', 'guardian.pem');
    assert.equal(namespace.status, 'active');
    const app = await ok('app', 'register', 'blog', '--namespace', 'alice', '--key', 'master.pem', '--name', "Alice's blog");
    appId = app.app_id as string;
    assert.match(appId, /^local\.swarm\.alice\.blog\./);
  });

  it('provisions the trust anchor, lists the catalog and provisions cms-article', SLOW, async () => {
    const [anchor, offers] = await Promise.all([ok('auth', 'provision', '--app', appId, '--key', 'master.pem'), ok('catalog')]);
    assert.equal(anchor.provider, 'auth.swarm.local');
    assert.equal((offers.services as unknown[]).length, 4);
    const instance = await ok('provision', 'cms-article', '--app', appId, '--key', 'master.pem', '--tier', 'free', '--region', 'local');
    assert.equal(instance.status, 'active');
    endpointUrl = instance.endpoint_url as string;
  });

  it('lists the service, creates an article with a user token, then reads usage, logs and the audit log', SLOW, async () => {
    const [listed, token] = await Promise.all([
      ok('services', appId),
      ok('token', '--app', appId, '--sub', 'alice', '--key', 'master.pem', '--roles', 'admin'),
    ]);
    assert.deepEqual(
      (listed.records as Array<{ service_type: string }>).map((r) => r.service_type),
      ['cms-article'],
    );
    const created = await articles(endpointUrl, token.access_token as string, {
      method: 'POST',
      body: { title: 'Hello, Swarm', body: 'My first article' },
    });
    assert.equal(created.status, 201);

    await test.swarm.flushReports();
    const [usage, logs, audit] = await Promise.all([
      ok('usage', '--app', appId, '--key', 'master.pem'),
      ok('logs', '--app', appId, '--key', 'master.pem'),
      ok('audit', 'verify', appId),
    ]);
    assert.ok((usage.reports as number) >= 1, JSON.stringify(usage));
    assert.ok((usage.app_totals as Array<{ metric: string }>).length > 0);
    assert.ok(Array.isArray(logs.entries));
    assert.equal(audit.ok, true);
  });
});
