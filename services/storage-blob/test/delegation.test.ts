import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { appManifest, provisionInstance, type TestDeveloper } from '@swarm/dev-env';
import { type DelegableAction, generateSigningKey, newNonce, nowSeconds, type SigningKey, sign, signEnvelope } from '@swarm/protocol';
import { getJson, postJson, requestJson } from '@swarm/runtime';
import { type BlobSetup, startBlobSetup } from './helpers.js';

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A CI-style delegated key against a real registry and provider (docs/PROTOCOL.md, "Delegated keys"). */
describe('delegated keys: a CI key that may provision but not decommission', () => {
  let setup: BlobSetup;
  let developer: TestDeveloper;
  let otherApp: string;
  const ci = generateSigningKey();

  const grant = (fields: Record<string, unknown> = {}, key: SigningKey = developer.master) =>
    signEnvelope(
      'delegation',
      {
        namespace: developer.namespace,
        public_key: ci.publicKey,
        apps: [developer.appId],
        actions: ['provision', 'read_usage'] satisfies DelegableAction[],
        expires_at: nowSeconds() + 3600,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'delegation',
        ...fields,
      },
      key.privateKey,
    );
  const delegationsUrl = () => `${setup.registry.url}/v1/namespaces/${developer.namespace}/delegations`;
  const provisionAs = (key: SigningKey, appId = developer.appId) =>
    postJson(
      setup.service.catalogEntry.provision_url,
      developer.masterSigned(
        'provision',
        { app_id: appId, target_provider: setup.service.provider, service_tier: 'free', region: 'local' },
        key,
      ),
    );
  const revoke = (id: string, key: SigningKey = developer.master) =>
    postJson(
      `${delegationsUrl()}/${id}/revoke`,
      signEnvelope(
        'delegation_revocation',
        { namespace: developer.namespace, delegation_id: id, timestamp: nowSeconds(), nonce: newNonce(), context: 'delegation_revocation' },
        key.privateKey,
      ),
    );
  let delegationId: string;

  before(async () => {
    setup = await startBlobSetup('delegation');
    developer = setup.developer;
    const registered = await postJson(`${setup.registry.url}/v1/apps`, appManifest(developer, 'second'));
    otherApp = (registered.body as { app_id: string }).app_id;
    const granted = await postJson(delegationsUrl(), grant());
    assert.equal(granted.status, 201, JSON.stringify(granted.body));
    delegationId = (granted.body as { delegation_id: string }).delegation_id;
  });
  after(() => setup.close());

  it('provisions with the delegated key: the provider and the registry both take it', async () => {
    const answer = await provisionAs(ci);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const listed = await getJson(`${setup.registry.url}/v1/apps/${developer.appId}/delegations`);
    assert.deepEqual(
      (listed.body as { delegations: Array<{ delegation_id: string }> }).delegations.map((d) => d.delegation_id),
      [delegationId],
    );
  });

  it('refuses every action outside the grant (403 forbidden) and every other app (invalid_signature)', async () => {
    const instance = await provisionInstance(setup.service, developer, { service_tier: 'free', region: 'local' });
    const url = `${setup.service.catalogEntry.provision_url}/${instance.service_id}`;
    const terminate = developer.masterSigned(
      'permanent_termination',
      { service_id: instance.service_id, context: 'permanent_termination', data_handling: 'wipe' },
      ci,
    );
    const atProvider = await requestJson('DELETE', url, terminate);
    assert.equal(atProvider.status, 403, JSON.stringify(atProvider.body));
    assert.equal(code(atProvider.body), 'forbidden');
    const decommission = developer.masterSigned('decommission', { service_id: instance.service_id, context: 'decommission' }, ci);
    const atRegistry = await postJson(
      `${setup.registry.url}/v1/apps/${developer.appId}/services/${instance.service_id}/decommission`,
      decommission,
    );
    assert.equal(code(atRegistry.body), 'forbidden');
    const update = developer.masterSigned(
      'instance_update',
      {
        service_id: instance.service_id,
        target_provider: setup.service.provider,
        service_tier: 'pro_cluster',
        storage_limit_gb: 10,
        context: 'instance_update',
      },
      ci,
    );
    assert.equal(code((await requestJson('PATCH', url, update)).body), 'forbidden');
    const backbone = developer.masterSigned(
      'backbone_update',
      { operational_context: { billing_provider_url: 'http://127.0.0.1:9' }, context: 'backbone_update' },
      ci,
    );
    assert.equal(
      code((await requestJson('PATCH', `${setup.registry.url}/v1/apps/${developer.appId}/operational-context`, backbone)).body),
      'forbidden',
    );
    assert.equal(code((await provisionAs(ci, otherApp)).body), 'invalid_signature', 'an app the grant does not list');
    assert.equal((await getJson(`${url}`)).body && ((await getJson(url)).body as { status: string }).status, 'active');
  });

  it('never lets the delegated key delegate further, rotate the Master key or retire the app', async () => {
    const further = await postJson(delegationsUrl(), grant({ public_key: generateSigningKey().publicKey }, ci));
    assert.equal(code(further.body), 'invalid_signature');
    const next = generateSigningKey();
    const data = {
      namespace: developer.namespace,
      new_master_public_key: next.publicKey,
      timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'master_key_rotation',
    };
    const rotation = {
      version: '1.0',
      data,
      signature: sign('master_key_rotation', data, ci.privateKey),
      new_key_signature: sign('master_key_rotation', data, next.privateKey),
    };
    const rotated = await postJson(`${setup.registry.url}/v1/namespaces/${developer.namespace}/master-key`, rotation);
    assert.equal(code(rotated.body), 'invalid_signature');
    const retire = developer.masterSigned('app_retirement', { context: 'app_retirement' }, ci);
    assert.equal(code((await postJson(`${setup.registry.url}/v1/apps/${developer.appId}/retire`, retire)).body), 'invalid_signature');
    assert.equal(code((await revoke(delegationId, ci)).body), 'invalid_signature', 'nor revoke grants');
  });

  it('checks each grant: a future expiry within 90 days, not the Master key, only the namespace’s apps, known actions', async () => {
    const foreign = 'local.swarm.somebody.app.abcdef';
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ expires_at: nowSeconds() - 1 }, 'invalid_request'],
      [{ expires_at: nowSeconds() + 91 * 86400 }, 'invalid_request'],
      [{ public_key: developer.master.publicKey }, 'invalid_request'],
      [{ public_key: 'ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, 'invalid_request'],
      [{ actions: ['rotate'] }, 'invalid_request'],
      [{ actions: ['provision', 'provision'] }, 'invalid_request'],
      [{ apps: [] }, 'invalid_request'],
      [{ apps: ['nonsense'] }, 'invalid_app_id'],
      [{ apps: [foreign] }, 'unknown_app'],
      [{ context: 'delegate_authority' }, 'invalid_request'],
      [{ namespace: 'someone-else' }, 'invalid_request'],
    ];
    for (const [fields, expected] of cases) {
      assert.equal(code((await postJson(delegationsUrl(), grant(fields))).body), expected, JSON.stringify(fields));
    }
  });

  it('stops at its expiry', async () => {
    const shortLived = generateSigningKey();
    const granted = await postJson(delegationsUrl(), grant({ public_key: shortLived.publicKey, expires_at: nowSeconds() + 2 }));
    assert.equal(granted.status, 201);
    assert.equal((await provisionAs(shortLived)).status, 201);
    await sleep(3100);
    assert.equal(code((await provisionAs(shortLived)).body), 'invalid_signature');
    const list = await getJson(delegationsUrl());
    const record = (list.body as { delegations: Array<{ public_key: string; status: string }> }).delegations.find(
      (d) => d.public_key === shortLived.publicKey,
    );
    assert.equal(record?.status, 'expired');
  });

  it('stops at once when the owner revokes it; grant and revocation are in the audit log', async () => {
    const revoked = await revoke(delegationId);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((revoked.body as { status: string }).status, 'revoked');
    assert.equal(code((await provisionAs(ci)).body), 'invalid_signature');
    assert.equal((await revoke(delegationId)).status, 200, 'revoking again answers the same');
    const log = await getJson(`${setup.registry.url}/v1/apps/${developer.appId}/log`);
    const events = (log.body as { entries: Array<{ event: string; delegation_id?: string }> }).entries.filter(
      (e) => e.delegation_id === delegationId,
    );
    assert.deepEqual(
      events.map((e) => e.event),
      ['delegation_granted', 'delegation_revoked'],
    );
  });

  // Last: it replaces the developer's Master key.
  it('a Guardian recovery revokes every grant the lost Master key made; a planned rotation keeps them', async () => {
    const kept = generateSigningKey();
    assert.equal((await postJson(delegationsUrl(), grant({ public_key: kept.publicKey }))).status, 201);
    const rotated = generateSigningKey();
    const rotationData = {
      namespace: developer.namespace,
      new_master_public_key: rotated.publicKey,
      timestamp: nowSeconds(),
      nonce: newNonce(),
      context: 'master_key_rotation',
    };
    const rotation = {
      ...signEnvelope('master_key_rotation', rotationData, developer.master.privateKey),
      new_key_signature: sign('master_key_rotation', rotationData, rotated.privateKey),
    };
    const rotatedAnswer = await postJson(`${setup.registry.url}/v1/namespaces/${developer.namespace}/master-key`, rotation);
    assert.equal(rotatedAnswer.status, 200, JSON.stringify(rotatedAnswer.body));
    assert.equal((await provisionAs(kept)).status, 201, 'a planned rotation keeps the grants');

    const recovered = generateSigningKey();
    const guardian = developer.guardians[0] as SigningKey;
    const recovery = signEnvelope(
      'identity_recovery',
      {
        namespace: developer.namespace,
        new_master_public_key: recovered.publicKey,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'identity_recovery',
      },
      guardian.privateKey,
    );
    const answer = await postJson(`${setup.registry.url}/v1/namespaces/${developer.namespace}/recovery`, recovery);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(code((await provisionAs(kept)).body), 'invalid_signature', 'the grant went with the lost key');
    const list = await getJson(delegationsUrl());
    const record = (list.body as { delegations: Array<{ public_key: string; status: string }> }).delegations.find(
      (d) => d.public_key === kept.publicKey,
    );
    assert.equal(record?.status, 'revoked');
    const log = await getJson(`${setup.registry.url}/v1/apps/${developer.appId}/log?limit=1000`);
    const entry = (log.body as { entries: Array<{ event: string; delegations_revoked?: number }> }).entries.find(
      (e) => e.event === 'master_identity_recovered',
    );
    assert.equal(entry?.delegations_revoked, 1);
  });
});
