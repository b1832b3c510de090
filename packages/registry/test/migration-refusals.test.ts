import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AuditEntry,
  canonicalDigest,
  generateSigningKey,
  MigrationProofData,
  MigrationRecord,
  newNonce,
  nowSeconds,
  signEnvelope,
  verifyContestActivation,
} from '@swarm/protocol';
import { openDatabase } from '@swarm/runtime';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { RegistryHandle } from '../src/index.js';
import { bearer, call, get, post } from './helpers.js';
import { appWithInstances, control, exportOf, guardianApproval, proofOf, Registries, rebind, veto } from './migration-fixture.js';

/**
 * What a migration must refuse, each with a real source S and target T (separate SQLite files,
 * authorities and keys, trusting each other), plus the paths without the source's release: a
 * Guardian's co-signature with S stopped, and the contest window.
 */
describe('registry migration: refusals and the paths without a release', () => {
  const registries = new Registries();
  let source: RegistryHandle;
  let target: RegistryHandle;

  before(async () => {
    source = await registries.start('swarm.local');
    target = await registries.start('swarm.other');
    await registries.trustEachOther(source, target);
  });
  after(() => registries.closeAll());

  const prepare = (appId: string, body: unknown) => post(`${target.url}/v1/apps/${appId}/migration`, body);

  it('a forged export is invalid_signature; an export from a registry the target does not trust is unknown_registry', async () => {
    const app = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const forged = { ...signed, data: { ...signed.data, config_epoch: signed.data.config_epoch + 5 } };
    const refused = await prepare(app.appId, { export: forged, proof: proofOf(forged, target.authority, app.dev.master) });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'invalid_signature');

    const stranger = await registries.start('swarm.third');
    try {
      const elsewhere = await appWithInstances(stranger, 1);
      const exported = await exportOf(stranger, elsewhere.appId);
      const unknown = await prepare(elsewhere.appId, {
        export: exported,
        proof: proofOf(exported, target.authority, elsewhere.dev.master),
      });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'unknown_registry');
    } finally {
      await registries.close(stranger);
    }
  });

  it('a proof that changes the Guardian set, names another target, or misses the export digest is refused', async () => {
    const app = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const swapped = [generateSigningKey().publicKey, ...signed.data.guardian_public_keys.slice(1)];
    const guardians = await prepare(app.appId, {
      export: signed,
      proof: proofOf(signed, target.authority, app.dev.master, { guardian_public_keys: swapped }),
    });
    assert.equal(guardians.status, 400);
    assert.equal(guardians.body.error.code, 'invalid_request');
    assert.match(guardians.body.error.message, /never change the Guardian set/);
    const elsewhere = await prepare(app.appId, { export: signed, proof: proofOf(signed, 'swarm.nowhere', app.dev.master) });
    assert.equal(elsewhere.status, 400);
    const digest = await prepare(app.appId, {
      export: signed,
      proof: proofOf(signed, target.authority, app.dev.master, { export_digest: 'A'.repeat(43) }),
    });
    assert.equal(digest.status, 400);
    // At the source too: another Guardian set, and a target the source does not trust.
    const releaseSwapped = await post(
      `${source.url}/v1/apps/${app.appId}/release`,
      proofOf(signed, target.authority, app.dev.master, { guardian_public_keys: swapped }),
    );
    assert.equal(releaseSwapped.status, 400);
    const untrusted = await post(`${source.url}/v1/apps/${app.appId}/release`, proofOf(signed, 'swarm.nowhere', app.dev.master));
    assert.equal(untrusted.status, 404);
    assert.equal(untrusted.body.error.code, 'unknown_registry');
    assert.equal((await get(`${source.url}/v1/apps/${app.appId}`)).body.status, 'active');
  });

  it('the Master key of another app, and a delegated key, never move an app (at the target and at the source)', async () => {
    const app = await appWithInstances(source, 1);
    const other = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const claimed = await prepare(app.appId, { export: signed, proof: proofOf(signed, target.authority, other.dev.master) });
    assert.equal(claimed.status, 401);
    const named = await prepare(app.appId, {
      export: signed,
      proof: proofOf(signed, target.authority, other.dev.master, { master_public_key: other.dev.master.publicKey }),
    });
    assert.equal(named.status, 401);
    assert.equal(
      (await post(`${source.url}/v1/apps/${app.appId}/release`, proofOf(signed, target.authority, other.dev.master))).status,
      401,
    );

    const delegate = generateSigningKey();
    const grant = signEnvelope(
      'delegation',
      {
        namespace: app.dev.namespace,
        public_key: delegate.publicKey,
        apps: [app.appId],
        actions: ['provision', 'update', 'decommission', 'backbone_update'],
        expires_at: nowSeconds() + 3600,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'delegation',
      },
      app.dev.master.privateKey,
    );
    assert.equal((await post(`${source.url}/v1/namespaces/${app.dev.namespace}/delegations`, grant)).status, 201);
    const delegated = proofOf(signed, target.authority, delegate);
    assert.equal((await prepare(app.appId, { export: signed, proof: delegated })).status, 401);
    const release = await post(`${source.url}/v1/apps/${app.appId}/release`, delegated);
    assert.equal(release.status, 401);
    assert.equal(release.body.error.code, 'invalid_signature');
    // Nor activate or abort one: the target asks the Master key only.
    assert.equal((await prepare(app.appId, { export: signed, proof: proofOf(signed, target.authority, app.dev.master) })).status, 201);
    for (const context of ['activate', 'abort'] as const) {
      const refused = await post(`${target.url}/v1/apps/${app.appId}/migration/${context}`, control(app.appId, context, delegate));
      assert.equal(refused.status, 401, context);
    }
    assert.equal(
      (await post(`${target.url}/v1/apps/${app.appId}/migration/abort`, control(app.appId, 'abort', app.dev.master))).status,
      200,
    );
  });

  it('a replayed proof is proof_reused; a second prepare of a held app is a conflict; abort then a new prepare works', async () => {
    const app = await appWithInstances(source, 2);
    const signed = await exportOf(source, app.appId);
    const proof = proofOf(signed, target.authority, app.dev.master);
    assert.equal((await prepare(app.appId, { export: signed, proof })).status, 201);
    const second = await prepare(app.appId, { export: signed, proof: proofOf(signed, target.authority, app.dev.master) });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'conflict');
    // Only the Master key aborts.
    const foreign = await post(`${target.url}/v1/apps/${app.appId}/migration/abort`, control(app.appId, 'abort', app.dev.guardians[0]!));
    assert.equal(foreign.status, 401);
    const aborted = await post(`${target.url}/v1/apps/${app.appId}/migration/abort`, control(app.appId, 'abort', app.dev.master));
    assert.equal(aborted.status, 200, JSON.stringify(aborted.body));
    assert.equal(MigrationRecord.parse(aborted.body).state, 'aborted');
    assert.equal((await get(`${target.url}/v1/apps/${app.appId}`)).status, 404);
    assert.equal((await get(`${target.url}/v1/namespaces/${app.dev.namespace}`)).status, 404);
    // Nothing changed at the source.
    assert.equal((await get(`${source.url}/v1/apps/${app.appId}`)).body.status, 'active');
    const replayed = await prepare(app.appId, { export: signed, proof });
    assert.equal(replayed.status, 409);
    assert.equal(replayed.body.error.code, 'proof_reused');
    const again = await prepare(app.appId, { export: signed, proof: proofOf(signed, target.authority, app.dev.master) });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(MigrationRecord.parse(again.body).instances.length, 2);
  });

  it('a Guardian veto makes activation impossible, even after the release; only a Guardian key vetoes', async () => {
    const app = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const proof = proofOf(signed, target.authority, app.dev.master);
    assert.equal((await prepare(app.appId, { export: signed, proof })).status, 201);
    const byMaster = await post(`${target.url}/v1/apps/${app.appId}/migration/veto`, veto(app.appId, app.dev.master));
    assert.equal(byMaster.status, 401);
    const vetoed = await post(`${target.url}/v1/apps/${app.appId}/migration/veto`, veto(app.appId, app.dev.guardians[1]!));
    assert.equal(vetoed.status, 200, JSON.stringify(vetoed.body));
    assert.equal(MigrationRecord.parse(vetoed.body).state, 'vetoed');
    assert.equal((await post(`${source.url}/v1/apps/${app.appId}/release`, proof)).status, 200);
    const activate = await post(`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(activate.status, 409);
    assert.match(activate.body.error.message, /vetoed/);
    const rebound = await post(
      `${target.url}/v1/apps/${app.appId}/services/${app.instances[0]?.serviceId}/rebind`,
      rebind(app, 0, 'swarm.local'),
    );
    assert.equal(rebound.status, 409);
  });

  it('activation takes the successor from the owner too: a tampered one is refused, the signed one accepted', async () => {
    const app = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const proof = proofOf(signed, target.authority, app.dev.master);
    assert.equal((await prepare(app.appId, { export: signed, proof })).status, 201);
    const released = await post(`${source.url}/v1/apps/${app.appId}/release`, proof);
    const successor = released.body.successor as { data: Record<string, unknown> };
    const tampered = { ...successor, data: { ...successor.data, audit_head: { seq: 1, hash: 'ab'.repeat(32) } } };
    const activate = (extra: Record<string, unknown>) =>
      post(`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master, extra));
    const refused = await activate({ successor: tampered });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'invalid_signature');
    const accepted = await activate({ successor });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(MigrationRecord.parse(accepted.body).path, 'release');
  });

  it('the Guardian path: with the source stopped, a Guardian co-signed prepare activates and the chain goes on from the export', async () => {
    const gone = await registries.start('swarm.gone');
    await registries.trustEachOther(source, target, gone);
    const app = await appWithInstances(gone, 2);
    const signed = await exportOf(gone, app.appId);
    await registries.close(gone);
    const proof = proofOf(signed, target.authority, app.dev.master);
    const outsider = await prepare(app.appId, { export: signed, proof, guardian_approval: guardianApproval(proof, generateSigningKey()) });
    assert.equal(outsider.status, 401);
    // The outsider's approval was refused before the nonce was spent: the same proof still prepares.
    const prepared = await prepare(app.appId, { export: signed, proof, guardian_approval: guardianApproval(proof, app.dev.guardians[0]!) });
    assert.equal(prepared.status, 201, JSON.stringify(prepared.body));
    const record = MigrationRecord.parse(prepared.body);
    assert.equal(record.path, 'guardian');
    assert.equal(record.contest_ends_at, null);
    const activated = await post(`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    assert.equal(MigrationRecord.parse(activated.body).path, 'guardian');
    const [first] = (await get(`${target.url}/v1/apps/${app.appId}/log`)).body.entries as AuditEntry[];
    assert.equal(first?.prev_hash, signed.data.audit_head.hash);
    assert.equal(first?.seq, signed.data.audit_head.seq + 1);
    const rebound = await post(
      `${target.url}/v1/apps/${app.appId}/services/${app.instances[1]?.serviceId}/rebind`,
      rebind(app, 1, 'swarm.gone'),
    );
    assert.equal(rebound.status, 200, JSON.stringify(rebound.body));
    // Seven days after activation, an instance that never re-bound shows as stale to its owner.
    const db = openDatabase<{ migration_imports: { app_id: string; activated_at: number } }>({ file: registries.databaseFile(target) });
    try {
      await sql`update migration_imports set activated_at = activated_at - ${8 * 86400} where app_id = ${app.appId}`.execute(db.db);
    } finally {
      await db.close();
    }
    const later = MigrationRecord.parse((await get(`${target.url}/v1/apps/${app.appId}/migration`)).body);
    const states = Object.fromEntries(later.instances.map((instance) => [instance.service_id, instance.state]));
    assert.deepEqual(states, { [app.instances[0]?.serviceId as string]: 'stale', [app.instances[1]?.serviceId as string]: 'rebound' });
    await registries.trustEachOther(source, target);
  });

  it('the contest path: without release or Guardian, activation waits for the window, then succeeds', async () => {
    const patient = await registries.start('swarm.patient', { migrationContestSeconds: 1 });
    await registries.trustEachOther(source, patient);
    const app = await appWithInstances(source, 1);
    const signed = await exportOf(source, app.appId);
    const proof = proofOf(signed, patient.authority, app.dev.master);
    const prepared = await post(`${patient.url}/v1/apps/${app.appId}/migration`, { export: signed, proof });
    assert.equal(prepared.status, 201, JSON.stringify(prepared.body));
    assert.equal(MigrationRecord.parse(prepared.body).activation, undefined, 'nothing is signed before activation');
    const early = await post(`${patient.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(early.status, 409);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const late = await post(`${patient.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master));
    assert.equal(late.status, 200, JSON.stringify(late.body));
    const activated = MigrationRecord.parse(late.body);
    assert.equal(activated.path, 'contest');
    // T's signed activation, served with the proof it names, is the evidence the parts follow on.
    const served = MigrationRecord.parse((await get(`${patient.url}/v1/apps/${app.appId}/migration`)).body);
    assert.deepEqual(served.activation, activated.activation, 'the same signed bytes on every read');
    assert.deepEqual(served.proof, proof);
    const data = verifyContestActivation(
      served.activation,
      patient.publicKey,
      MigrationProofData.parse(proof.data),
      canonicalDigest(proof),
    );
    assert.deepEqual(
      [data.registry, data.previous_registry, data.activated_at >= (data.contest_ends_at ?? Infinity)],
      [patient.authority, source.authority, true],
    );
    await registries.close(patient);
    await registries.trustEachOther(source, target);
  });

  it('trust: the admin route needs the admin token and a whole valid list; a trust file is followed live', async () => {
    const peers = { registries: [{ authority: 'swarm.other', baseUrl: target.url, publicKey: target.publicKey }] };
    assert.equal((await call('PUT', `${source.url}/v1/admin/trust`, peers)).status, 403);
    const bad = await call(
      'PUT',
      `${source.url}/v1/admin/trust`,
      { registries: [{ authority: 'x.y', baseUrl: 'ftp://a', publicKey: 'no' }] },
      bearer(source.adminToken),
    );
    assert.equal(bad.status, 400);
    const listed = await call('GET', `${source.url}/v1/admin/trust`, undefined, bearer(source.adminToken));
    assert.deepEqual(
      (listed.body.registries as Array<{ authority: string }>).map((entry) => entry.authority),
      ['swarm.other'],
    );

    const file = join(tmpdir(), `swarm-trust-${newNonce()}.json`);
    writeFileSync(file, '[]');
    const followed = await registries.start('swarm.follow', { trustFile: file });
    assert.equal(followed.trust.list().length, 0);
    writeFileSync(file, JSON.stringify([{ authority: 'swarm.local', baseUrl: source.url, publicKey: source.publicKey }]));
    process.kill(process.pid, 'SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      followed.trust.list().map((entry) => entry.authority),
      ['swarm.local'],
    );
    await registries.close(followed);
  });

  it('property: any body at any migration route is a clear 4xx, never a 500', async () => {
    const app = await appWithInstances(source, 1);
    const routes = [
      `${target.url}/v1/apps/${app.appId}/migration`,
      `${target.url}/v1/apps/${app.appId}/migration/activate`,
      `${target.url}/v1/apps/${app.appId}/migration/abort`,
      `${target.url}/v1/apps/${app.appId}/migration/veto`,
      `${target.url}/v1/apps/${app.appId}/services/${app.instances[0]?.serviceId}/rebind`,
      `${source.url}/v1/apps/${app.appId}/release`,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
        async (url, body) => {
          const answer = await post(url, body);
          assert.ok(answer.status >= 400 && answer.status < 500, `${url} answered ${answer.status} ${JSON.stringify(answer.body)}`);
        },
      ),
      { numRuns: 40 },
    );
  });
});
