import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AuditEntry,
  auditEntryHash,
  MigrationRecord,
  type MigrationSuccessor,
  migratedZone,
  newNonce,
  nowSeconds,
  RebindAnswer,
  signEnvelope,
  TrustedRegistries,
  verifySuccessor,
} from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import { bindingRequest, developerProof, get, post, serviceCall } from './helpers.js';
import { appWithInstances, control, exportOf, type MovingApp, proofOf, Registries, rebind } from './migration-fixture.js';
import { BroadcastReceiver } from './receiver.js';

/**
 * One app moves from S (`swarm.local`) to T (`swarm.other`), two real registries with their own
 * SQLite files, authorities and keys, each trusting the other: prepare → release → activate →
 * rebind, with the source's tombstone, the audit chain across both, and the old zone's DNAME.
 */
describe('registry migration: the release path between two registries', () => {
  const registries = new Registries();
  let source: RegistryHandle;
  let target: RegistryHandle;
  let app: MovingApp;
  let successor: MigrationSuccessor;
  let proof: ReturnType<typeof proofOf>;
  let receiver: BroadcastReceiver;

  before(async () => {
    source = await registries.start('swarm.local', { dnsPort: 0 });
    target = await registries.start('swarm.other', { dnsPort: 0 });
    await registries.trustEachOther(source, target);
    receiver = await new BroadcastReceiver().start();
    receiver.trust(source.authority, source.url, source.publicKey);
    app = await appWithInstances(source, 2, `${receiver.url}/provider/v1/events`);
  });
  after(async () => {
    await registries.closeAll();
    await receiver.close();
  });

  it('prepare at the target creates the app importing, out of Service DNS, with its instances imported', async () => {
    const signed = await exportOf(source, app.appId);
    proof = proofOf(signed, target.authority, app.dev.master);
    const prepared = await post(`${target.url}/v1/apps/${app.appId}/migration`, { export: signed, proof });
    assert.equal(prepared.status, 201, JSON.stringify(prepared.body));
    const record = MigrationRecord.parse(prepared.body);
    assert.equal(record.state, 'importing');
    assert.equal(record.source, 'swarm.local');
    assert.equal(record.path, 'release');
    assert.ok(record.contest_ends_at !== null && record.contest_ends_at >= record.prepared_at + 72 * 3600);
    assert.deepEqual(
      record.instances.map((instance) => instance.state),
      ['imported', 'imported'],
    );
    // A retry of the same prepare answers the same, and nothing is created twice.
    const again = await post(`${target.url}/v1/apps/${app.appId}/migration`, { export: signed, proof });
    assert.equal(again.status, 201);
    assert.deepEqual(MigrationRecord.parse(again.body).instances, record.instances);
    assert.equal((await get(`${target.url}/v1/apps/${app.appId}`)).body.status, 'importing');
    assert.deepEqual((await get(`${target.url}/v1/apps/${app.appId}/services`)).body.records, []);
    // No provisioning and no context while importing.
    const provider = app.provider;
    const binding = bindingRequest(provider, developerProof(app.dev, app.appId, provider.name));
    const refused = await post(`${target.url}/v1/bindings`, binding.body);
    assert.equal(refused.status, 409);
    const [first] = app.instances;
    const context = await post(
      `${target.url}/v1/apps/${app.appId}/services/${first?.serviceId}/context`,
      serviceCall(app.appId, first?.serviceId ?? '', first!.instanceKey),
    );
    assert.equal(context.status, 403);
  });

  it('the routes are described in the OpenAPI document', async () => {
    const doc = (await get(`${target.url}/openapi.json`)).body;
    for (const path of [
      '/v1/apps/{app_id}/migration',
      '/v1/apps/{app_id}/migration/activate',
      '/v1/apps/{app_id}/release',
      '/v1/apps/{app_id}/services/{service_id}/rebind',
    ]) {
      assert.ok(doc.paths[path], path);
    }
  });

  it('activation before the release, without a Guardian and inside the contest window, is refused', async () => {
    const early = await post(`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'conflict');
    assert.match(early.body.error.message, /contest window/);
  });

  it('release at the source answers a successor signed by the source that names the target', async () => {
    const before = await get(`${source.url}/v1/apps/${app.appId}/log`);
    // One proof goes to both registries: the one prepared with.
    const released = await post(`${source.url}/v1/apps/${app.appId}/release`, proof);
    assert.equal(released.status, 200, JSON.stringify(released.body));
    successor = released.body.successor as MigrationSuccessor;
    const trust = new TrustedRegistries([
      { authority: source.authority, baseUrl: source.url, publicKey: source.publicKey },
      { authority: target.authority, baseUrl: target.url, publicKey: target.publicKey },
    ]);
    const verified = verifySuccessor(successor, trust, app.appId);
    assert.equal(verified.data.successor, 'swarm.other');
    assert.equal(verified.data.successor_url, target.url);
    // The source's final entry is the release, and the successor names it as the chain head.
    const log = await get(`${source.url}/v1/apps/${app.appId}/log`);
    const entries = log.body.entries as AuditEntry[];
    const last = entries.at(-1);
    assert.equal(last?.event, 'app_migrated');
    assert.equal(entries.length, (before.body.entries as AuditEntry[]).length + 1);
    assert.deepEqual(verified.data.audit_head, { seq: last?.seq, hash: last?.hash });
    // A retry of the release gets the same successor.
    const retry = await post(`${source.url}/v1/apps/${app.appId}/release`, proof);
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body.successor, successor);
  });

  it('the source answers 410 app_migrated with the successor on every write and the app lookup; export and log stay readable', async () => {
    const [first] = app.instances;
    const serviceId = first?.serviceId ?? '';
    const key = first!.instanceKey;
    const writes = [
      () => get(`${source.url}/v1/apps/${app.appId}`),
      () => get(`${source.url}/v1/apps/${app.appId}/master-key`),
      () => get(`${source.url}/v1/apps/${app.appId}/services`),
      () => post(`${source.url}/v1/apps/${app.appId}/services/${serviceId}/heartbeat`, serviceCall(app.appId, serviceId, key)),
      () => post(`${source.url}/v1/apps/${app.appId}/services/${serviceId}/context`, serviceCall(app.appId, serviceId, key)),
      () => post(`${source.url}/v1/bindings`, bindingRequest(app.provider, developerProof(app.dev, app.appId, app.provider.name)).body),
    ];
    for (const write of writes) {
      const answer = await write();
      assert.equal(answer.status, 410, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, 'app_migrated');
      assert.deepEqual(answer.body.successor, successor);
    }
    // A provider's batched beat for the moved app is refused entry by entry.
    const batch = signEnvelope(
      'provider_heartbeat',
      {
        provider: app.provider.name,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        beats: [{ app_id: app.appId, service_id: serviceId, status: 'ok' }],
      },
      app.provider.key.privateKey,
    );
    const beats = await post(`${source.url}/v1/providers/${app.provider.name}/heartbeats`, batch);
    assert.equal(beats.status, 200);
    assert.equal(beats.body.results[0].error.code, 'app_migrated');
    assert.equal((await get(`${source.url}/v1/apps/${app.appId}/export`)).status, 200);
    assert.equal((await get(`${source.url}/v1/apps/${app.appId}/log`)).status, 200);
    // The move is broadcast through the outbox to the app's providers, signed by the source.
    const deliveries = await receiver.waitFor((all) => all.some((delivery) => delivery.data.event === 'APP_MIGRATED'));
    const moved = deliveries.find((delivery) => delivery.data.event === 'APP_MIGRATED')?.data;
    assert.equal(moved?.event === 'APP_MIGRATED' ? moved.successor.signature : null, successor.signature);
  });

  it('activation after the release continues the audit chain from the source and raises config_epoch', async () => {
    const exported = await exportOf(source, app.appId);
    const activated = await post(`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    const record = MigrationRecord.parse(activated.body);
    assert.equal(record.state, 'active');
    assert.equal(record.path, 'release');
    const appAtTarget = await get(`${target.url}/v1/apps/${app.appId}`);
    assert.equal(appAtTarget.body.status, 'active');
    assert.equal(appAtTarget.body.config_epoch, exported.data.config_epoch + 1);
    const log = await get(`${target.url}/v1/apps/${app.appId}/log`);
    const [first, ...rest] = log.body.entries as AuditEntry[];
    assert.equal(rest.length, 0);
    assert.equal(first?.event, 'migration_activated');
    assert.equal(first?.seq, successor.data.audit_head.seq + 1);
    assert.equal(first?.prev_hash, successor.data.audit_head.hash);
    const { hash, ...body } = first as AuditEntry;
    assert.equal(auditEntryHash(body), hash);
    // Walk both chains as one: the source's entries, then the target's.
    const sourceEntries = (await get(`${source.url}/v1/apps/${app.appId}/log?limit=1000`)).body.entries as AuditEntry[];
    let previous = sourceEntries[0]?.prev_hash;
    for (const entry of [...sourceEntries, first as AuditEntry]) {
      const { hash: entryHash, ...rest } = entry;
      assert.equal(entry.prev_hash, previous);
      assert.equal(auditEntryHash(rest), entryHash);
      previous = entryHash;
    }
  });

  it('rebind: refused for another provider, another instance key, a signature swap; then each instance re-binds and beats at the target', async () => {
    const wrongProvider = await post(
      `${target.url}/v1/apps/${app.appId}/services/${app.instances[0]?.serviceId}/rebind`,
      rebind(app, 0, 'swarm.local', { data: { provider: 'other.cms.test' } }),
    );
    assert.equal(wrongProvider.status, 403);
    assert.equal(wrongProvider.body.error.code, 'wrong_provider');
    const { generateSigningKey } = await import('@swarm/protocol');
    const stranger = generateSigningKey();
    for (const keys of [
      { instance: stranger },
      { provider: stranger },
      { instance: app.provider.key, provider: app.instances[0]!.instanceKey },
    ]) {
      const refused = await post(
        `${target.url}/v1/apps/${app.appId}/services/${app.instances[0]?.serviceId}/rebind`,
        rebind(app, 0, 'swarm.local', keys),
      );
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'invalid_signature');
    }
    const changedKey = await post(
      `${target.url}/v1/apps/${app.appId}/services/${app.instances[0]?.serviceId}/rebind`,
      rebind(app, 0, 'swarm.local', { instance: stranger, data: { public_key: stranger.publicKey } }),
    );
    assert.equal(changedKey.status, 401);

    for (const [index, instance] of app.instances.entries()) {
      const rebound = await post(
        `${target.url}/v1/apps/${app.appId}/services/${instance.serviceId}/rebind`,
        rebind(app, index, 'swarm.local'),
      );
      assert.equal(rebound.status, 200, JSON.stringify(rebound.body));
      const answer = RebindAnswer.parse(rebound.body);
      assert.equal(answer.context_url, `${target.url}/v1/apps/${app.appId}/services/${instance.serviceId}/context`);
      const beat = await post(
        `${target.url}/v1/apps/${app.appId}/services/${instance.serviceId}/heartbeat`,
        serviceCall(app.appId, instance.serviceId, instance.instanceKey, { status: 'ok' }),
      );
      assert.equal(beat.status, 200, JSON.stringify(beat.body));
      const context = await post(answer.context_url, serviceCall(app.appId, instance.serviceId, instance.instanceKey));
      assert.equal(context.status, 200);
      assert.equal(context.body.operational_context.registry.authority, 'swarm.other');
    }
    const record = MigrationRecord.parse((await get(`${target.url}/v1/apps/${app.appId}/migration`)).body);
    assert.deepEqual(
      record.instances.map((instance) => instance.state),
      ['rebound', 'rebound'],
    );
    const services = await get(`${target.url}/v1/apps/${app.appId}/services`);
    assert.equal((services.body.records as unknown[]).length, 2);
    const log = (await get(`${target.url}/v1/apps/${app.appId}/log`)).body.entries as AuditEntry[];
    assert.deepEqual(
      log.map((entry) => entry.event),
      ['migration_activated', 'service_rebound', 'service_rebound'],
    );
  });

  it('Service DNS: the old zone answers a DNAME to the new one and a TXT successor; the new zone serves the instances', async () => {
    const { queryDns } = await import('./dns-client.js');
    const oldZone = `${app.appId.split('.').slice(2).reverse().join('.')}.swarm.local`;
    const newZone = migratedZone(app.appId, 'swarm.other');
    const name = `_cms-article._tcp.${oldZone}`;
    const answer = await queryDns(source.dnsPort as number, name, 'SRV');
    const records = (answer.answers ?? []) as Array<{ type: string; name: string; data: unknown }>;
    const dname = records.find((record) => record.type === 'DNAME');
    const cname = records.find((record) => record.type === 'CNAME');
    assert.equal(dname?.name, oldZone);
    assert.equal(dname?.data, newZone);
    assert.equal(cname?.name, name);
    assert.equal(cname?.data, `_cms-article._tcp.${newZone}`);
    const txt = await queryDns(source.dnsPort as number, oldZone, 'TXT');
    const strings = txt.answers?.flatMap((record) => (record.type === 'TXT' ? (record.data as Buffer[]).map(String) : []));
    assert.deepEqual(strings, ['successor=swarm.other']);
    // Following the CNAME to the target's name servers: both instances.
    const followed = await queryDns(target.dnsPort as number, cname?.data as string, 'SRV');
    assert.equal(followed.answers?.filter((record) => record.type === 'SRV').length, 2);
  });
});
