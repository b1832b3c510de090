import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnSwarm, stop } from '@swarm/dev-env';
import { generateSigningKey, type SignedAppExport, SwarmError, signEnvelope, verifyAppExport } from '@swarm/protocol';
import { auditLog, claimNamespace, exportApp, keygen, provision, provisionAuth, registerApp } from '../src/index.js';
import { cliOk, runCli, SLOW, startTestSwarm, type TestSwarm } from './helpers.js';

const refusedWith = (code: string) => (error: unknown) => error instanceof SwarmError && error.code === code;

/** `GET /v1/apps/{app_id}/export` and `swarm export` (docs/REGISTRY.md, "Export"). */
describe('an app’s signed export', () => {
  let test: TestSwarm;
  let appId: string;
  let otherAppId: string;
  let serviceIds: string[];
  const client = () => ({ registry: test.swarm.registry.url });

  before(async () => {
    test = await startTestSwarm();
    const master = await keygen(join(test.dir, 'master.pem'));
    const guardian = generateSigningKey();
    await claimNamespace(client(), { namespace: 'carol', master, guardianPublicKeys: [guardian.publicKey] });
    appId = (await registerApp(client(), { namespace: 'carol', slug: 'shop', master })).app_id;
    otherAppId = (await registerApp(client(), { namespace: 'carol', slug: 'other', master })).app_id;
    await provisionAuth(client(), { appId, master });
    serviceIds = [];
    for (const serviceType of ['cms-article', 'crm-contact'] as const) {
      serviceIds.push((await provision(client(), { appId, serviceType, master, tier: 'free', region: 'local' })).service_id);
    }
  });
  after(() => test.stop());

  it('carries the namespace keys, the app, its bindings with keys, their providers and the audit head, signed by the registry', async () => {
    const { signed, document } = await exportApp(client(), appId);
    assert.equal(document.source.authority, test.swarm.registry.authority);
    assert.equal(document.source.public_key, test.swarm.registry.publicKey);
    assert.equal(document.namespace, 'carol');
    assert.equal(document.guardian_public_keys.length, 1);
    assert.ok(!JSON.stringify(document).includes('contact_email'), 'no personal data');
    assert.equal(document.app_id, appId);
    assert.equal(document.app.app_id, appId);
    assert.equal(signed.version, '1.0');
    assert.equal(document.config_epoch, document.operational_context.config_epoch);
    assert.equal(document.operational_context.registry.public_key, test.swarm.registry.publicKey);
    assert.ok(document.operational_context.auth, 'the context carries the auth section');
    assert.deepEqual(document.bindings.map((b) => b.service_id).sort(), [...serviceIds].sort());
    const services = (await (await fetch(`${client().registry}/v1/apps/${appId}/services`)).json()) as {
      records: Array<{ service_id: string; public_key: string }>;
    };
    for (const record of services.records) {
      assert.equal(document.bindings.find((b) => b.service_id === record.service_id)?.public_key, record.public_key);
    }
    assert.deepEqual(document.providers.map((p) => p.service_type).sort(), ['cms-article', 'crm-contact']);
    const log = await auditLog(client(), appId);
    assert.deepEqual(document.audit_head, { seq: log.at(-1)?.seq, hash: log.at(-1)?.hash });
    assert.equal(verifyAppExport(signed, test.swarm.registry.publicKey, appId).app.app_id, appId);
  });

  it('is refused when changed, when checked under another key, or taken for another app', async () => {
    const { signed } = await exportApp(client(), appId);
    const forged: SignedAppExport = structuredClone(signed);
    forged.data.guardian_public_keys = [generateSigningKey().publicKey];
    assert.throws(() => verifyAppExport(forged, test.swarm.registry.publicKey), refusedWith('invalid_signature'));
    // Re-signed by another key that claims to be the source: the reader's own key decides.
    const impostor = generateSigningKey();
    const resigned = { ...forged.data, source: { ...forged.data.source, public_key: impostor.publicKey } };
    const impostorSigned = signEnvelope('export', resigned, impostor.privateKey);
    assert.throws(() => verifyAppExport(impostorSigned, test.swarm.registry.publicKey), refusedWith('invalid_signature'));
    assert.throws(() => verifyAppExport(signed, impostor.publicKey), refusedWith('invalid_signature'));
    assert.throws(() => verifyAppExport(signed, test.swarm.registry.publicKey, otherAppId), refusedWith('invalid_request'));
    assert.throws(
      () => verifyAppExport({ version: '1.0', data: {}, signature: 'x' }, test.swarm.registry.publicKey),
      refusedWith('invalid_request'),
    );
    await assert.rejects(exportApp(client(), appId, impostor.publicKey), refusedWith('invalid_signature'));
    const otherVersion = { ...signed, version: '2.0' };
    assert.throws(() => verifyAppExport(otherVersion, test.swarm.registry.publicKey), refusedWith('unsupported_version'));
  });

  it('answers unknown_app and invalid_app_id like every app route', async () => {
    const unknown = await fetch(`${client().registry}/v1/apps/${appId.replace(/[a-z0-9]{10}$/, '0000000000')}/export`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'unknown_app');
    const bad = await fetch(`${client().registry}/v1/apps/not-an-app/export`);
    assert.equal(bad.status, 400);
  });

  it('lists the namespace’s apps a page at a time, and swarm apps --namespace shows them', SLOW, async () => {
    const base = `${client().registry}/v1/namespaces/carol/apps`;
    const first = (await (await fetch(`${base}?limit=1`)).json()) as { apps: Array<{ app_id: string }>; next: string | null };
    assert.equal(first.apps.length, 1);
    assert.equal(first.next, first.apps[0]?.app_id);
    const second = (await (await fetch(`${base}?limit=1&after=${first.next}`)).json()) as {
      apps: Array<{ app_id: string }>;
      next: string | null;
    };
    assert.equal(second.apps.length, 1);
    assert.equal(second.next, null);
    assert.deepEqual([first.apps[0]?.app_id, second.apps[0]?.app_id].sort(), [appId, otherAppId].sort());
    for (const [query, status] of [
      ['?after=not%20an%20id', 400],
      ['?limit=0', 400],
      ['?limit=x', 400],
    ] as const) {
      assert.equal((await fetch(`${base}${query}`)).status, status, query);
    }
    assert.equal((await fetch(`${client().registry}/v1/namespaces/nobody/apps`)).status, 404);
    assert.equal((await fetch(`${client().registry}/v1/namespaces/NOT%20OK/apps`)).status, 400);
    const listed = await cliOk(['apps', '--namespace', 'carol'], { registry: client().registry, cwd: test.dir });
    assert.deepEqual((listed.apps as Array<{ app_id: string }>).map((a) => a.app_id).sort(), [appId, otherAppId].sort());
    // The console shows a whole namespace when asked for it.
    const console = await spawnSwarm<{ apps: string[] }>('console', [
      ...['console', '--registry', client().registry, '--key', join(test.dir, 'master.pem'), '--namespace', 'carol'],
    ]);
    try {
      assert.deepEqual([...console.ready.apps].sort(), [appId, otherAppId].sort());
    } finally {
      await stop(console);
    }
    const none = await runCli(['console', '--key', join(test.dir, 'master.pem')], { registry: client().registry, cwd: test.dir });
    assert.equal(none.json.error?.code, 'invalid_request');
  });

  it('swarm export writes the checked document to a file (0600) or to standard output', SLOW, async () => {
    const opts = { registry: client().registry, cwd: test.dir };
    const written = await cliOk(['export', '--app', appId, '--out', 'shop-export.json'], opts);
    assert.equal(written.bindings, 2);
    const file = join(test.dir, 'shop-export.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(file, 'utf8')) as SignedAppExport;
    assert.equal(verifyAppExport(saved, test.swarm.registry.publicKey, appId).bindings.length, 2);
    const printed = await runCli(['export', '--app', appId], opts);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal((printed.json as unknown as SignedAppExport).data.app_id, appId);
    assert.match(printed.stderr, /2 binding\(s\)/);
    const pinned = await runCli(['export', '--app', appId, '--registry-key', generateSigningKey().publicKey], opts);
    assert.equal(pinned.json.error?.code, 'invalid_signature');
  });
});
