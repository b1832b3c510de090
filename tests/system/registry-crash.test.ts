// Issue "Fault tolerance" (a): the registry is killed with SIGKILL in the middle of a burst of
// provisioning requests and restarted on the same port and data.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crash, eventually, freePort, type Part, stop, tempDir } from '@swarm/dev-env';
import Database from 'better-sqlite3';
import { dnsView } from './dns.js';
import {
  type Answer,
  adminTokenOf,
  type Developer,
  errorCode,
  http,
  newDeveloper,
  provisionRequest,
  type RegistrySummary,
  serviceRecords,
  startFixtureService,
  startRegistry,
  trustOf,
  writeProviderKey,
} from './swarm.js';

const BURST = 30;
const IN_FLIGHT = 6;
const KILL_AFTER = 10;

describe('the registry killed by SIGKILL during a burst of provisionings', () => {
  const dir = tempDir('registry-crash');
  let registryOptions: Parameters<typeof startRegistry>[1];
  let registry: Part<RegistrySummary> | undefined;
  let service: Part<{ url: string; provision_url: string }> | undefined;
  let developer: Developer;
  const answers: Answer[] = [];

  before(async () => {
    registryOptions = { port: await freePort(), dnsPort: await freePort(), dataDir: join(dir.path, 'registry') };
    registry = await startRegistry('registry', registryOptions);
    service = await startFixtureService('cms-article', {
      port: 0,
      dataDir: join(dir.path, 'cms'),
      providerKeyFile: writeProviderKey(dir.path).file,
      trusted: [trustOf(registry.ready)],
      adminToken: adminTokenOf(registry.ready),
      heartbeatIntervalSeconds: 2,
      bindingRetry: { initialMs: 200, maxMs: 1000 },
    });
    developer = await newDeveloper(registry.ready.url);
    // Warms the service's Master key cache, so requests after the kill still pass their checks.
    const warmUp = await http('POST', service.ready.provision_url, provisionRequest(developer));
    assert.equal(warmUp.status, 201, JSON.stringify(warmUp.body));
    answers.push(warmUp);
  });

  after(async () => {
    await stop(service);
    await stop(registry);
    dir.remove();
  });

  it('answers every request 201, 202 or 503 registry_unavailable while the registry dies', async (t) => {
    let next = 0;
    let answered = 0;
    let killed: Promise<void> | undefined;
    const worker = async () => {
      while (next < BURST) {
        next++;
        const answer = await http('POST', service!.ready.provision_url, provisionRequest(developer));
        answers.push(answer);
        if (++answered === KILL_AFTER) killed = crash(registry);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await killed;
    for (const answer of answers) {
      const ok = answer.status === 201 || answer.status === 202 || (answer.status === 503 && errorCode(answer) === 'registry_unavailable');
      assert.ok(ok, `unexpected answer ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const count = (status: number) => answers.filter((a) => a.status === status).length;
    t.diagnostic(`answers: ${count(201)} × 201, ${count(202)} × 202, ${count(503)} × 503`);
    assert.ok(
      answers.some((a) => a.status === 202),
      'some requests came after the kill',
    );
  });

  it('restarted on the same port and data, it lands every 202: each ends active or failed', async (t) => {
    const before = registry!.ready.public_key;
    registry = await startRegistry('registry (restarted)', registryOptions);
    assert.equal(registry.ready.public_key, before);
    const ended: string[] = [];
    for (const answer of answers.filter((a) => a.status === 202)) {
      const final = await eventually(
        `${answer.body.service_id} to leave binding`,
        async () => {
          const status = await http('GET', answer.body.status_url);
          return status.status === 200 && status.body.status !== 'binding' ? status.body : undefined;
        },
        60_000,
      );
      assert.ok(final.status === 'active' || final.status === 'failed', JSON.stringify(final));
      ended.push(final.status);
    }
    t.diagnostic(`202s ended: ${ended.filter((s) => s === 'active').length} active, ${ended.filter((s) => s === 'failed').length} failed`);
  });

  it('has every acknowledged binding exactly once in Service DNS (HTTP and DNS), and nothing half-written', async () => {
    // The service's own table, read beside it (SQLite WAL): also instances whose answer was lost.
    const db = new Database(join(dir.path, 'cms', 'cms-article.db'), { readonly: true });
    const rows = db.prepare('select service_id, status from kit_instances where app_id = ?').all(developer.appId) as Array<{
      service_id: string;
      status: string;
    }>;
    db.close();
    assert.deepEqual(
      rows.filter((row) => row.status === 'binding'),
      [],
      'no instance is left binding',
    );
    const active = rows
      .filter((row) => row.status === 'active')
      .map((row) => row.service_id)
      .sort();
    for (const answer of answers.filter((a) => a.status === 201)) assert.ok(active.includes(answer.body.service_id), 'a 201 stays active');

    // Registry side: one record per active instance, none for a failed or unknown one.
    const records = await serviceRecords(registry!.ready.url, developer.appId);
    assert.deepEqual(records.map((r) => r.service_id).sort(), active);
    const log = await http('GET', `${registry!.ready.url}/v1/apps/${encodeURIComponent(developer.appId)}/log`);
    const bound = log.body.entries.filter((e: { event: string }) => e.event === 'service_bound');
    assert.equal(bound.length, active.length, 'one service_bound audit entry per binding');

    // DNS publishes healthy instances: give heartbeats missed while the registry was down time to land.
    const dnsPort = registry!.ready.dns_port!;
    const published = await eventually('Service DNS to list every active instance', async () => {
      const view = await dnsView(dnsPort, developer.appId, 'cms-article', 'udp');
      return view.serviceIds.length >= active.length ? view.serviceIds : undefined;
    });
    assert.deepEqual([...published].sort(), active);
  });
});
