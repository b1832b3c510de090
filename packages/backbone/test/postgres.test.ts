import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '@swarm/protocol';
import { dropPostgresSchema, ensurePostgresSchema } from '@swarm/runtime';
import { startAuthProvider, startBilling, startLogging } from '../src/index.js';
import { adminRequest, setSignup } from './auth-admin.js';
import {
  bindInstance,
  type Developer,
  get,
  logsReport,
  masterSigned,
  post,
  registerDeveloperApp,
  registerTestProvider,
  startTestNetwork,
  type TestNetwork,
  usageReport,
} from './network.js';

const url = process.env.SWARM_TEST_POSTGRES_URL;

describe('backbone on PostgreSQL', { skip: url ? false : 'SWARM_TEST_POSTGRES_URL is not set' }, () => {
  const schema = `backbone_test_${process.pid}`;
  let network: TestNetwork;
  let dataDir: string;
  let developer: Developer;

  before(async () => {
    await ensurePostgresSchema(url as string, schema);
    network = await startTestNetwork();
    dataDir = await mkdtemp(join(tmpdir(), 'swarm-backbone-pg-'));
    developer = await registerDeveloperApp(network.registry.url);
  });
  after(async () => {
    await network?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await dropPostgresSchema(url as string, schema);
  });

  it('provisions auth, counts usage once and stores logs once, all three parts sharing one schema', async () => {
    const common = {
      port: 0,
      dataDir,
      databaseUrl: url as string,
      databaseSchema: schema,
      trustedRegistries: [network.trusted],
      logLevel: false as const,
    };
    const started: Array<{ close(): Promise<void> }> = [];
    try {
      const auth = await startAuthProvider({ ...common, provider: 'auth.swarm.local' });
      started.push(auth);
      const billing = await startBilling(common);
      started.push(billing);
      const logging = await startLogging(common);
      started.push(logging);
      const provisioned = await post(
        `${auth.url}/v1/provision`,
        masterSigned('provision', developer, { target_provider: 'auth.swarm.local' }),
      );
      assert.equal(provisioned.status, 201, JSON.stringify(provisioned.body));
      const again = await post(`${auth.url}/v1/provision`, masterSigned('provision', developer, { target_provider: 'auth.swarm.local' }));
      assert.equal(again.status, 200);
      assert.equal(again.body.auth_public_key, provisioned.body.auth_public_key);
      const issuer = provisioned.body.auth_provider_url;
      await setSignup(issuer, developer, 'open');
      assert.equal((await post(`${issuer}/v1/users`, { username: 'pg-user', password: 'a long password' })).status, 201);
      assert.equal((await post(`${issuer}/v1/login`, { username: 'pg-user', password: 'a long password' })).status, 200);
      // One invite, two sign-ups at once: the row lock lets exactly one use it.
      await setSignup(issuer, developer, 'invite');
      for (let round = 0; round < 3; round++) {
        const invite = (await adminRequest(issuer, developer, '/v1/admin/invites', 'invite_create')).body.invite;
        const both = await Promise.all(
          ['a', 'b'].map((side) => post(`${issuer}/v1/users`, { username: `pg-${round}-${side}`, password: 'a long password', invite })),
        );
        assert.deepEqual(both.map((answer) => answer.status).sort(), [201, 403], JSON.stringify(both.map((answer) => answer.body)));
      }
      const removed = await adminRequest(issuer, developer, '/v1/admin/users/remove', 'user_remove', { username: 'pg-user' });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.equal((await get(`${issuer}/v1/revoked-subjects`)).body.subjects.length, 1);

      const provider = await registerTestProvider(network, 'pg.meter.test.local');
      const instance = await bindInstance(network, developer, provider);
      const report = usageReport(instance, { requests: 4 });
      const answers = await Promise.all(Array.from({ length: 4 }, () => post(`${billing.url}/v1/usage`, report)));
      assert.ok(
        answers.every((answer) => answer.status === 202),
        JSON.stringify(answers.map((a) => a.body)),
      );
      const usage = await post(`${billing.url}/v1/usage/query`, masterSigned('owner_query', developer, { audience: billing.url }));
      assert.equal(usage.body.reports, 1);
      assert.deepEqual(usage.body.app_totals, [{ metric: 'requests', value: 4 }]);

      const batch = logsReport(instance, [{ level: 'error', message: 'on postgres\u0000', at: nowSeconds(), fields: { nul: '\u0000' } }]);
      assert.equal((await post(`${logging.url}/v1/logs`, batch)).status, 202);
      assert.equal((await post(`${logging.url}/v1/logs`, batch)).status, 202);
      const logs = await post(`${logging.url}/v1/logs/query`, masterSigned('owner_query', developer, { audience: logging.url }));
      assert.equal(logs.status, 200);
      assert.equal(logs.body.entries.length, 1);
      assert.equal(typeof logs.body.entries[0].at, 'number');
      assert.equal(logs.body.entries[0].message, 'on postgres\ufffd');
      assert.deepEqual(logs.body.entries[0].fields, { nul: '\u0000' });
    } finally {
      await Promise.allSettled(started.map((part) => part.close()));
    }
  });
});
