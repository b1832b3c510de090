import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AuditEntry, MigrationRecord, type MigrationSuccessor } from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import { bearer, call, get, post, postgresBackend } from './helpers.js';
import { appWithInstances, control, exportOf, proofOf, rebind, veto } from './migration-fixture.js';

const sourceDb = postgresBackend();
const targetDb = postgresBackend();

/** The release path with both registries on PostgreSQL, each in a schema of its own. */
describe('registry migration on PostgreSQL', { skip: sourceDb.skip }, () => {
  let source: RegistryHandle;
  let target: RegistryHandle;

  before(async () => {
    source = await sourceDb.start({ authority: 'swarm.local' });
    target = await targetDb.start({ authority: 'swarm.other' });
    for (const [registry, peer] of [
      [source, target],
      [target, source],
    ] as const) {
      const trust = { registries: [{ authority: peer.authority, baseUrl: peer.url, publicKey: peer.publicKey }] };
      assert.equal((await call('PUT', `${registry.url}/v1/admin/trust`, trust, bearer(registry.adminToken))).status, 200);
    }
  });
  after(async () => {
    await source?.close();
    await target?.close();
    await sourceDb.cleanup();
    await targetDb.cleanup();
  });

  it('prepare → release → activate → rebind, a veto, and an abort with a new prepare', async () => {
    const app = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const proof = proofOf(signed, target.authority, app.dev.master);
    assert.equal((await post(`${target.url}/v1/apps/${app.appId}/migration`, { export: signed, proof })).status, 201);
    const released = await post(`${source.url}/v1/apps/${app.appId}/release`, proof);
    assert.equal(released.status, 200, JSON.stringify(released.body));
    const successor = released.body.successor as MigrationSuccessor;
    assert.equal((await get(`${source.url}/v1/apps/${app.appId}`)).status, 410);
    const activated = await post(`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    const [first] = (await get(`${target.url}/v1/apps/${app.appId}/log`)).body.entries as AuditEntry[];
    assert.equal(first?.prev_hash, successor.data.audit_head.hash);
    const rebound = await post(
      `${target.url}/v1/apps/${app.appId}/services/${app.instances[0]?.serviceId}/rebind`,
      rebind(app, 0, 'swarm.local'),
    );
    assert.equal(rebound.status, 200, JSON.stringify(rebound.body));
    assert.deepEqual(
      MigrationRecord.parse((await get(`${target.url}/v1/apps/${app.appId}/migration`)).body).instances.map((i) => i.state),
      ['rebound'],
    );

    const other = await appWithInstances(source, 1);
    const otherExport = await exportOf(source, other.appId);
    const otherProof = proofOf(otherExport, target.authority, other.dev.master);
    assert.equal((await post(`${target.url}/v1/apps/${other.appId}/migration`, { export: otherExport, proof: otherProof })).status, 201);
    assert.equal(
      (await post(`${target.url}/v1/apps/${other.appId}/migration/veto`, veto(other.appId, other.dev.guardians[0]!))).status,
      200,
    );
    assert.equal(
      (await post(`${target.url}/v1/apps/${other.appId}/migration/activate`, control(other.appId, 'activate', other.dev.master))).status,
      409,
    );
    assert.equal(
      (await post(`${target.url}/v1/apps/${other.appId}/migration/abort`, control(other.appId, 'abort', other.dev.master))).status,
      200,
    );
    assert.equal(
      (await post(`${target.url}/v1/apps/${other.appId}/migration`, { export: otherExport, proof: otherProof })).body.error.code,
      'proof_reused',
    );
    const again = await post(`${target.url}/v1/apps/${other.appId}/migration`, {
      export: otherExport,
      proof: proofOf(otherExport, target.authority, other.dev.master),
    });
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });
});
