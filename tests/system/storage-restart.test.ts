// Issue "Fault tolerance" (d): PostgreSQL, then Redis, restarted under load. Both are private
// instances of this test, so nobody else on the machine is disturbed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDeveloper, eventually, type Part, stop, type TestDeveloper, tempDir } from '@swarm/dev-env';
import { appDnsZone, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { ensurePostgresSchema } from '@swarm/runtime';
import pg from 'pg';
import { queryDns } from './dns.js';
import {
  type PrivatePostgres,
  type PrivateRedis,
  privateStoresUnavailable,
  startPrivatePostgres,
  startPrivateRedis,
} from './private-stores.js';
import {
  type Answer,
  CMS_PROVIDER,
  errorCode,
  http,
  type RegistrySummary,
  serviceRecords,
  startCliService,
  startRegistry,
  writeProviderKey,
} from './swarm.js';

const unavailable = privateStoresUnavailable();

type Kind = 'registry read' | 'registry write' | 'dns' | 'provision' | 'user call';
const KINDS: Kind[] = ['registry read', 'registry write', 'dns', 'provision', 'user call'];

interface Outcome {
  kind: Kind;
  ok: boolean;
  unavailable: boolean;
  wrong?: string;
}

describe('PostgreSQL and Redis restarted under load', { skip: unavailable ?? false }, () => {
  const dir = tempDir('storage-restart');
  let postgres: PrivatePostgres | undefined;
  let redis: PrivateRedis | undefined;
  let registry: Part<RegistrySummary> | undefined;
  let service: Part<{ url: string }> | undefined;
  let developer: TestDeveloper;
  let userEndpoint: string;
  let token: string;
  /** Provisionings acknowledged 201 or 202: each must end consistent. */
  const provisioned: Answer[] = [];
  const outcomes: Outcome[] = [];

  const registryUrl = () => registry!.ready.url;
  const provisionUrl = () => `${service!.ready.url}/v1/instances`;

  /** Neither part may die of a storage restart (SPEC §14: nothing stops a process). */
  const assertAlive = () => {
    for (const part of [registry!, service!]) {
      assert.equal(part.child.exitCode ?? part.child.signalCode, null, `${part.name} died; it said: ${part.stderr().slice(-3000)}`);
    }
  };

  /** One request of a kind, judged: success, a clean 503 registry_unavailable, or wrong. */
  async function attempt(kind: Kind): Promise<Outcome> {
    const clean = (answer: Answer) => answer.status === 503 && errorCode(answer) === 'registry_unavailable';
    const judge = (answer: Answer, ok: boolean, check = true): Outcome => {
      if (ok && check) return { kind, ok: true, unavailable: false };
      if (clean(answer)) return { kind, ok: false, unavailable: true };
      return { kind, ok: false, unavailable: false, wrong: `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}` };
    };
    switch (kind) {
      case 'registry read': {
        const known = provisioned.filter((a) => a.status === 201).map((a) => a.body.service_id as string);
        const answer = await http('GET', `${registryUrl()}/v1/apps/${encodeURIComponent(developer.appId)}/services`);
        const listed = new Set<string>((answer.body?.records ?? []).map((r: { service_id: string }) => r.service_id));
        return judge(
          answer,
          answer.status === 200,
          known.every((id) => listed.has(id)),
        );
      }
      case 'registry write': {
        const manifest = signEnvelope(
          'app',
          { owner_namespace: developer.namespace, project_slug: 'load', display_name: 'Load', timestamp: nowSeconds(), nonce: newNonce() },
          developer.master.privateKey,
        );
        const answer = await http('POST', `${registryUrl()}/v1/apps`, manifest);
        return judge(answer, answer.status === 201);
      }
      case 'provision': {
        // One app may hold 100 free instances (the registry's quota): the load stays below it, so a
        // refusal here is a fault of the restart, never the quota.
        if (provisioned.length >= 80) {
          const answer = await http('GET', `${registryUrl()}/v1/apps/${developer.appId}/services`);
          return judge(answer, answer.status === 200);
        }
        const answer = await http('POST', provisionUrl(), developer.provisionRequest(CMS_PROVIDER));
        if (answer.status === 201 || answer.status === 202) provisioned.push(answer);
        return judge(answer, answer.status === 201 || answer.status === 202);
      }
      case 'user call': {
        const answer = await http('GET', `${userEndpoint}/articles`, undefined, { authorization: `Bearer ${token}` });
        return judge(answer, answer.status === 200 && Array.isArray(answer.body.articles));
      }
      case 'dns': {
        // SERVFAIL is DNS's "try again"; NXDOMAIN for a zone that exists would be a wrong answer.
        const name = `_cms-article._tcp.${appDnsZone(developer.appId)}`.replace(/\.$/, '');
        try {
          const answer = await queryDns(registry!.ready.dns_port!, name, 'SRV', 'tcp');
          if (answer.rcode === 'NOERROR' && (answer.answers ?? []).length > 0) return { kind, ok: true, unavailable: false };
          if (answer.rcode === 'SERVFAIL') return { kind, ok: false, unavailable: true };
          return { kind, ok: false, unavailable: false, wrong: `DNS ${answer.rcode} with ${(answer.answers ?? []).length} answers` };
        } catch (error) {
          return { kind, ok: false, unavailable: false, wrong: `DNS: ${String(error)}` };
        }
      }
    }
  }

  /** Workers sending every kind in turn until `running()` turns false. */
  async function load(running: () => boolean, workers = 3): Promise<void> {
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = w; running(); i++) {
          outcomes.push(await attempt(KINDS[i % KINDS.length]!));
          await sleep(40);
        }
      }),
    );
  }

  /** Set when the private PostgreSQL or Redis cannot run here: the tests skip, saying why. */
  let setupProblem: string | undefined;

  before(async () => {
    try {
      postgres = await startPrivatePostgres();
      redis = await startPrivateRedis();
    } catch (error) {
      setupProblem = String((error as Error).message ?? error);
      return;
    }
    for (const schema of ['registry', 'cms']) await ensurePostgresSchema(postgres.url, schema);
    registry = await startRegistry('registry', { dataDir: join(dir.path, 'registry'), databaseUrl: `${postgres.url}?schema=registry` });
    service = await startCliService('cms-article', {
      registry: registry.ready,
      dataDir: join(dir.path, 'cms'),
      providerKeyFile: writeProviderKey(dir.path).file,
      databaseUrl: `${postgres.url}?schema=cms`,
      redisUrl: redis.url,
    });
    developer = await createTestDeveloper(registry.ready.url);
    const first = await http('POST', provisionUrl(), developer.provisionRequest(CMS_PROVIDER));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    provisioned.push(first);
    userEndpoint = first.body.endpoint_url;
    token = await developer.token();
  });

  after(async () => {
    await stop(service);
    await stop(registry);
    await redis?.stop();
    postgres?.stop();
    dir.remove();
  });

  it('answers every request with success or 503 registry_unavailable while PostgreSQL and then Redis restart', async (t) => {
    if (setupProblem) return t.skip(setupProblem);
    let running = true;
    const traffic = load(() => running);
    try {
      await sleep(1500);
      // Twice: a restart that lands between the registry's answer and the service's own write is rare.
      await postgres!.restart();
      await sleep(2000);
      await postgres!.restart();
      await sleep(2000);
      await redis!.restart();
      await sleep(2500);
    } finally {
      running = false;
      await traffic;
    }

    for (const kind of KINDS) {
      const mine = outcomes.filter((o) => o.kind === kind);
      t.diagnostic(
        `${kind}: ${mine.filter((o) => o.ok).length} ok, ${mine.filter((o) => o.unavailable).length} unavailable (503 / SERVFAIL)`,
      );
    }
    assertAlive();
    const wrong = outcomes.filter((o) => o.wrong).map((o) => `${o.kind}: ${o.wrong}`);
    assert.equal(wrong.length, 0, `${wrong.length} wrong answers under restarts, the first:\n${wrong.slice(0, 10).join('\n')}`);
    for (const kind of KINDS)
      assert.ok(
        outcomes.some((o) => o.kind === kind && o.ok),
        `some ${kind} succeeded`,
      );
    assert.ok(
      outcomes.some((o) => o.unavailable),
      'the restarts were felt: some requests were refused as unavailable',
    );
  });

  it('recovers: every kind of request succeeds again', async (t) => {
    if (setupProblem) return t.skip(setupProblem);
    assertAlive();
    for (const kind of KINDS) {
      await eventually(`${kind} to succeed again`, async () => ((await attempt(kind)).ok ? true : undefined), 20_000, 250);
    }
  });

  /** The service's own instance table: what it made, whether or not the answer reached anyone. */
  async function instancesAtService(): Promise<Array<{ service_id: string; status: string }>> {
    const db = new pg.Client({ connectionString: postgres!.url });
    await db.connect();
    try {
      const query = 'select service_id, status from cms.kit_instances where app_id = $1';
      return (await db.query<{ service_id: string; status: string }>(query, [developer.appId])).rows;
    } finally {
      await db.end();
    }
  }

  it('leaves nothing half-done: every instance ends active and bound once, or failed and unbound', async (t) => {
    if (setupProblem) return t.skip(setupProblem);
    assertAlive();
    const settled = await eventually(
      'every instance to leave binding',
      async () => {
        const rows = await instancesAtService();
        return rows.every((row) => row.status !== 'binding') ? rows : undefined;
      },
      60_000,
      500,
    );
    const active = settled.filter((row) => row.status === 'active').map((row) => row.service_id);
    for (const answer of provisioned.filter((a) => a.status === 201))
      assert.ok(active.includes(answer.body.service_id), 'a 201 stays active');
    const bound = (await serviceRecords(registryUrl(), developer.appId)).map((r) => r.service_id);
    const statusOf = (id: string) => settled.find((row) => row.service_id === id)?.status ?? 'no instance';
    const orphans = bound.filter((id) => !active.includes(id)).map((id) => `${id} (${statusOf(id)})`);
    assert.deepEqual(orphans, [], 'bindings at the registry without an active instance at the service');
    assert.deepEqual(
      active.filter((id) => !bound.includes(id)),
      [],
      'active instances without a binding',
    );
    assert.equal(bound.length, new Set(bound).size, 'each instance bound once');
  });
});
