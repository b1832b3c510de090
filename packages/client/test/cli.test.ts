import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { articles, startTestSwarm, type TestSwarm } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> & { error?: { code: string; message: string } };
}

function swarm(args: string[], options: { registry?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...(options.registry ? { SWARM_REGISTRY: options.registry } : {}) };
    execFile(process.execPath, [BIN, ...args, '--json'], { env, cwd: options.cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      let json = {};
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** The README quickstart, step by step, as a user types it (with --json to read the answers). */
describe('the swarm CLI, driven as a user would', () => {
  let test: TestSwarm;
  let registry: string;
  let cwd: string;
  const run = (...args: string[]) => swarm(args, { registry, cwd });
  const ok = async (...args: string[]) => {
    const result = await run(...args);
    assert.equal(result.code, 0, `swarm ${args.join(' ')} failed: ${result.stderr}`);
    return result.json;
  };

  before(async () => {
    test = await startTestSwarm();
    registry = test.swarm.registry.url;
    cwd = test.dir;
  });
  after(() => test.stop());

  // Each step spawns the CLI, which takes a few seconds on a loaded machine.
  const slow = { timeout: 300_000 };
  let appId: string;
  let endpointUrl: string;
  let serviceId: string;

  it('makes keys, claims a namespace and registers an app', slow, async () => {
    const master = await ok('keygen', '--out', 'master.pem');
    assert.match(master.public_key as string, /^ed25519:/);
    await ok('keygen', '--out', 'guardian.pem');

    const namespace = await ok('namespace', 'register', 'alice', '--key', 'master.pem', '--guardian', 'guardian.pem');
    assert.equal(namespace.status, 'active');

    const app = await ok('app', 'register', 'blog', '--namespace', 'alice', '--key', 'master.pem', '--name', 'My Blog');
    appId = app.app_id as string;
    assert.match(appId, /^local\.swarm\.alice\.blog\./);
  });

  it('provisions the trust anchor and a cms-article instance', slow, async () => {
    const anchor = await ok('auth', 'provision', '--app', appId, '--key', 'master.pem');
    assert.equal(anchor.provider, 'auth.swarm.local');

    const offers = (await ok('catalog')).services as Array<{ service_type: string }>;
    assert.equal(offers.length, 4);

    const instance = await ok('provision', 'cms-article', '--app', appId, '--key', 'master.pem', '--tier', 'free', '--region', 'local');
    assert.equal(instance.status, 'active');
    endpointUrl = instance.endpoint_url as string;
    serviceId = instance.service_id as string;

    const listed = (await ok('services', appId)).records as Array<{ service_id: string; service_type: string }>;
    assert.deepEqual(
      listed.map((r) => r.service_type),
      ['cms-article'],
    );
  });

  it('creates an article with a user token, then reads usage, logs and the audit log', slow, async () => {
    const token = await ok('token', '--app', appId, '--sub', 'alice', '--key', 'master.pem', '--roles', 'admin');
    const accessToken = token.access_token as string;
    const created = await articles(endpointUrl, accessToken, { method: 'POST', body: { title: 'Hello, Swarm', body: 'My first article' } });
    assert.equal(created.status, 201);

    await test.swarm.flushReports();
    const usage = await ok('usage', '--app', appId, '--key', 'master.pem');
    assert.ok((usage.reports as number) >= 1, JSON.stringify(usage));
    const logs = await ok('logs', '--app', appId, '--key', 'master.pem');
    assert.ok(Array.isArray(logs.entries));

    const audit = await ok('audit', 'verify', appId);
    assert.equal(audit.ok, true);
  });

  it('updates the backbone and decommissions the instance', slow, async () => {
    const updated = await ok('backbone', 'update', '--app', appId, '--key', 'master.pem', '--billing', test.swarm.urls.billing);
    assert.equal(typeof updated.config_epoch, 'number');

    const gone = await ok('decommission', serviceId, '--app', appId, '--key', 'master.pem');
    assert.equal((gone.receipt as { data: { status: string } }).data.status, 'success');
    assert.deepEqual((await ok('services', appId)).records, []);
  });

  it('rotates the Master key and recovers it with the Guardian key', slow, async () => {
    await ok('keygen', '--out', 'master-2.pem');
    await ok('rotate', '--namespace', 'alice', '--key', 'master.pem', '--new-key', 'master-2.pem');
    await ok('keygen', '--out', 'master-3.pem');
    await ok('recover', '--namespace', 'alice', '--guardian', 'guardian.pem', '--new-key', 'master-3.pem');
    await ok('app', 'register', 'shop', '--namespace', 'alice', '--key', 'master-3.pem');
  });

  it('fails with a non-zero exit, the SPEC code and a hint', slow, async () => {
    const unknown = await run('app', 'register', 'x', '--namespace', 'nobody', '--key', 'master.pem');
    assert.notEqual(unknown.code, 0);
    assert.equal(unknown.json.error?.code, 'unknown_namespace');
    assert.match(unknown.stderr, /error unknown_namespace: /);
    assert.match(unknown.stderr, /swarm namespace register/);

    const stale = await run('app', 'register', 'x', '--namespace', 'alice', '--key', 'master.pem');
    assert.equal(stale.json.error?.code, 'invalid_signature');

    const badApp = await run('services', 'not-an-app-id');
    assert.notEqual(badApp.code, 0);
    assert.equal(badApp.json.error?.code, 'invalid_app_id');

    const tier = await run(
      'provision',
      'cms-article',
      '--app',
      'local.swarm.alice.blog.zzzzzz',
      '--key',
      'master-3.pem',
      '--tier',
      'gold',
      '--region',
      'local',
    );
    assert.equal(tier.json.error?.code, 'unsupported_tier');

    const down = await swarm(['catalog'], { registry: 'http://127.0.0.1:9', cwd });
    assert.notEqual(down.code, 0);
    assert.equal(down.json.error?.code, 'registry_unavailable');
    assert.match(down.stderr, /npm start/);

    const missing = await run('token', '--app', 'x');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /required option/);

    const noKey = await run('app', 'register', 'x', '--namespace', 'alice', '--key', join(cwd, 'nope.pem'));
    assert.equal(noKey.json.error?.code, 'invalid_request');
  });
});
