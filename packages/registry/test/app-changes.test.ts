import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, type SigningKey, sign, signEnvelope } from '@swarm/protocol';
import fc from 'fast-check';
import type { RegistryHandle } from '../src/index.js';
import {
  type Backend,
  boundInstance,
  call,
  type Developer,
  developerWithApp,
  get,
  listedProvider,
  makeDeveloper,
  post,
  postgresBackend,
  sqliteBackend,
} from './helpers.js';

/** Not on the curve's prime-order subgroup (the identity point) and a non-canonical encoding of a good key (SPEC §15). */
const SMALL_ORDER_KEY = 'ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same 32 bytes with one of the two unused low bits of the last character set. */
const nonCanonical = (key: string) => `${key.slice(0, -1)}${BASE64URL[BASE64URL.indexOf(key.slice(-1)) + 1]}`;

for (const backend of [sqliteBackend(), postgresBackend()] satisfies Backend[]) {
  describe(`apps and namespaces change (${backend.name})`, { skip: backend.skip }, () => {
    let registry: RegistryHandle;
    let dev: Developer;
    let appId: string;

    const appUpdate = (fields: Record<string, unknown> = {}, key: SigningKey = dev.master, id = appId) =>
      signEnvelope(
        'app_update',
        { app_id: id, display_name: 'Shop – Zürich', timestamp: nowSeconds(), nonce: newNonce(), context: 'app_update', ...fields },
        key.privateKey,
      );
    const patchApp = (body: unknown, id = appId) => call('PATCH', `${registry.url}/v1/apps/${id}`, body);

    /** A Guardian change signed by `master` and co-signed by `guardian` over the same data. */
    const guardianChange = (
      guardians: string[],
      options: { master?: SigningKey; guardian?: SigningKey; fields?: Record<string, unknown>; namespace?: string } = {},
    ) => {
      const data = {
        namespace: options.namespace ?? dev.namespace,
        guardian_public_keys: guardians,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'guardian_change',
        ...options.fields,
      };
      const guardian = options.guardian ?? dev.guardians[0]!;
      return {
        ...signEnvelope('guardian_change', data, (options.master ?? dev.master).privateKey),
        guardian_approval: { public_key: guardian.publicKey, signature: sign('guardian_change', data, guardian.privateKey) },
      };
    };
    const changeGuardians = (body: unknown, ns = dev.namespace) => post(`${registry.url}/v1/namespaces/${ns}/guardians`, body);
    const recovery = (guardian: SigningKey, newKey: SigningKey) =>
      post(
        `${registry.url}/v1/namespaces/${dev.namespace}/recovery`,
        signEnvelope(
          'identity_recovery',
          {
            namespace: dev.namespace,
            new_master_public_key: newKey.publicKey,
            timestamp: nowSeconds(),
            nonce: newNonce(),
            context: 'identity_recovery',
          },
          guardian.privateKey,
        ),
      );
    /** A grant of every action on the app to a fresh key. */
    const delegatedKey = async (): Promise<SigningKey> => {
      const key = generateSigningKey();
      const grant = signEnvelope(
        'delegation',
        {
          namespace: dev.namespace,
          public_key: key.publicKey,
          apps: [appId],
          actions: ['provision', 'update', 'decommission', 'backbone_update', 'read_usage', 'read_logs'],
          expires_at: nowSeconds() + 3600,
          timestamp: nowSeconds(),
          nonce: newNonce(),
          context: 'delegation',
        },
        dev.master.privateKey,
      );
      const answer = await post(`${registry.url}/v1/namespaces/${dev.namespace}/delegations`, grant);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return key;
    };

    before(async () => {
      registry = await backend.start();
      ({ dev, appId } = await developerWithApp(registry, makeDeveloper(), 'shop'));
    });
    after(async () => {
      await registry.close();
      await backend.cleanup();
    });

    it('app_update changes the display data only, logged; its audit seq reads the entry back', async () => {
      const done = await patchApp(appUpdate({ description: 'Ein Laden ✓' }));
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.display_name, 'Shop – Zürich');
      assert.equal(done.body.description, 'Ein Laden ✓');
      assert.equal(done.body.project_slug, 'shop', 'the slug never changes');
      assert.equal(done.body.config_epoch, 1, 'display data is not in the operational context');
      const record = await get(`${registry.url}/v1/apps/${appId}`);
      assert.equal(record.body.display_name, 'Shop – Zürich');
      const entry = await get(`${registry.url}/v1/apps/${appId}/log/${done.body.audit_seq}`);
      assert.equal(entry.status, 200);
      assert.equal(entry.body.event, 'app_updated');
      assert.equal(entry.body.seq, done.body.audit_seq);
      assert.equal(entry.body.signed_by, dev.master.publicKey);
      const cleared = await patchApp(appUpdate({ display_name: undefined, description: null }));
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      assert.equal(cleared.body.description, null);
      assert.equal(cleared.body.display_name, 'Shop – Zürich', 'an absent field keeps its value');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}/log/999999`)).body.error.code, 'not_found');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}/log/0`)).body.error.code, 'invalid_request');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}/log/1e3`)).body.error.code, 'invalid_request');
    });

    it('app_update is refused to every key but the Master key, and for anything but display data', async () => {
      const other = await developerWithApp(registry, makeDeveloper(), 'other');
      const delegated = await delegatedKey();
      const code = async (body: unknown, id = appId) => (await patchApp(body, id)).body.error?.code;
      assert.equal(await code(appUpdate({}, generateSigningKey())), 'invalid_signature');
      assert.equal(await code(appUpdate({}, other.dev.master)), 'invalid_signature', "another namespace's Master key");
      assert.equal(await code(appUpdate({}, delegated)), 'invalid_signature', 'no grant covers app_update');
      assert.equal(await code(appUpdate({}, dev.guardians[0]!)), 'invalid_signature');
      assert.equal(await code(appUpdate({}, dev.master, other.appId)), 'invalid_request', 'path and data disagree');
      assert.equal(await code(appUpdate({ project_slug: 'renamed' })), 'invalid_request');
      assert.equal(await code(appUpdate({ owner_namespace: other.dev.namespace })), 'invalid_request');
      assert.equal(await code(appUpdate({ public_key: generateSigningKey().publicKey })), 'invalid_request');
      assert.equal(await code(appUpdate({ display_name: undefined })), 'invalid_request', 'nothing to change');
      assert.equal(await code(appUpdate({ display_name: '' })), 'invalid_request');
      assert.equal(await code(appUpdate({ context: 'backbone_update' })), 'invalid_request');
      const signed = appUpdate();
      assert.equal(await code({ ...signed, data: { ...signed.data, display_name: 'x\ud800' } }), 'invalid_request', 'a lone surrogate');
      assert.equal(await code(appUpdate({ timestamp: nowSeconds() - 3600 })), 'stale_timestamp');
      const asApp = appUpdate();
      const forged = { ...asApp, signature: sign('app', asApp.data, dev.master.privateKey) };
      assert.equal(await code(forged), 'invalid_signature', 'a signature for another purpose');
      const once = appUpdate({ display_name: 'Once' });
      assert.equal((await patchApp(once)).status, 200);
      assert.equal(await code(once), 'nonce_reused');
      assert.equal((await get(`${registry.url}/v1/apps/${appId}`)).body.display_name, 'Once');
    });

    it('changes the Guardian set with the Master key and a current Guardian; recovery then takes the new set only', async () => {
      const [kept, removed] = dev.guardians as [SigningKey, SigningKey];
      const added = generateSigningKey();
      const done = await changeGuardians(guardianChange([kept.publicKey, added.publicKey], { guardian: removed }));
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.deepEqual(done.body.guardian_public_keys, [kept.publicKey, added.publicKey]);
      assert.deepEqual((await get(`${registry.url}/v1/namespaces/${dev.namespace}`)).body.guardian_public_keys, [
        kept.publicKey,
        added.publicKey,
      ]);
      const log = await get(`${registry.url}/v1/apps/${appId}/log?limit=1000`);
      const entry = log.body.entries.find((e: { event: string }) => e.event === 'guardians_changed');
      assert.ok(entry, 'logged in the app');
      assert.equal(entry.approved_by, removed.publicKey);
      assert.deepEqual(entry.previous_guardian_public_keys, [kept.publicKey, removed.publicKey]);

      const stolen = generateSigningKey();
      const byRemoved = await recovery(removed, stolen);
      assert.equal(byRemoved.status, 401, 'a removed Guardian recovers nothing');
      assert.equal(byRemoved.body.error.code, 'invalid_signature');
      const newMaster = generateSigningKey();
      const byAdded = await recovery(added, newMaster);
      assert.equal(byAdded.status, 200, JSON.stringify(byAdded.body));
      assert.equal(byAdded.body.public_key, newMaster.publicKey);
      dev = { ...dev, master: newMaster, guardians: [kept, added] };
    });

    it('refuses a Guardian change from the Master key alone, a Guardian alone, or any other key', async () => {
      const [current] = dev.guardians as [SigningKey, SigningKey];
      const fresh = generateSigningKey();
      const target = [current.publicKey, fresh.publicKey];
      const code = async (body: unknown, ns?: string) => (await changeGuardians(body, ns)).body.error?.code;
      const masterOnly = guardianChange(target);
      const { guardian_approval: _dropped, ...withoutApproval } = masterOnly;
      assert.equal(await code(withoutApproval), 'invalid_request', 'the co-signature is required');
      assert.equal(await code(guardianChange(target, { guardian: dev.master })), 'invalid_signature', 'the Master key co-signing itself');
      assert.equal(await code(guardianChange(target, { master: current })), 'invalid_signature', 'a Guardian alone');
      assert.equal(await code(guardianChange(target, { guardian: generateSigningKey() })), 'invalid_signature', 'not a current Guardian');
      const delegated = await delegatedKey();
      assert.equal(await code(guardianChange(target, { master: delegated })), 'invalid_signature', 'a delegated key');
      assert.equal(await code(guardianChange(target, { guardian: delegated })), 'invalid_signature');
      const other = await developerWithApp(registry, makeDeveloper(), 'else');
      assert.equal(await code(guardianChange(target, { master: other.dev.master })), 'invalid_signature', "another namespace's Master key");
      assert.equal(await code(guardianChange(target, { namespace: other.dev.namespace })), 'invalid_request', 'path and data disagree');
      // The co-signature must be over the same data: a Guardian's signature of other data does not carry.
      const elsewhere = guardianChange([current.publicKey, generateSigningKey().publicKey]);
      const swapped = { ...guardianChange(target), guardian_approval: elsewhere.guardian_approval };
      assert.equal(await code(swapped), 'invalid_signature');
      assert.equal(await code(guardianChange([SMALL_ORDER_KEY])), 'invalid_request', 'a small-order key');
      assert.equal(await code(guardianChange([nonCanonical(current.publicKey)])), 'invalid_request', 'a non-canonical key');
      assert.equal(await code(guardianChange([dev.master.publicKey])), 'invalid_request', 'the Master key as a Guardian');
      assert.equal(await code(guardianChange([delegated.publicKey])), 'invalid_request', 'a delegated key as a Guardian');
      assert.equal(await code(guardianChange([])), 'invalid_request', 'an empty set');
      assert.equal(await code(guardianChange([current.publicKey, current.publicKey])), 'invalid_request', 'repeated keys');
      const six = Array.from({ length: 6 }, () => generateSigningKey().publicKey);
      assert.equal(await code(guardianChange(six)), 'invalid_request', 'more than five');
      assert.equal(await code(guardianChange(target, { fields: { context: 'identity_recovery' } })), 'invalid_request');
      assert.equal(await code(guardianChange(target, { fields: { timestamp: nowSeconds() - 3600 } })), 'stale_timestamp');
      const once = guardianChange(target);
      assert.equal((await changeGuardians(once)).status, 200);
      assert.equal(await code(once), 'nonce_reused', 'a replay');
      assert.deepEqual((await get(`${registry.url}/v1/namespaces/${dev.namespace}`)).body.guardian_public_keys, target);
      dev = { ...dev, guardians: [current, fresh] };
    });

    it('takes a Guardian change only when the Master key signs and a current Guardian co-signs (any pair of keys)', async () => {
      const current = dev.guardians as SigningKey[];
      const delegated = await delegatedKey();
      const keys = [dev.master, ...current, generateSigningKey(), delegated];
      // The set asked for is the current one, so a change that passes every signature check is
      // refused after them as unchanged, and the property leaves the namespace as it was.
      const same = current.map((key) => key.publicKey);
      await fc.assert(
        fc.asyncProperty(fc.nat(keys.length - 1), fc.nat(keys.length - 1), async (signer, approver) => {
          const master = keys[signer]!;
          const guardian = keys[approver]!;
          const answer = await changeGuardians(guardianChange(same, { master, guardian }));
          const valid = master === dev.master && current.includes(guardian);
          assert.equal(answer.body.error?.code, valid ? 'invalid_request' : 'invalid_signature', `${signer}/${approver}`);
          if (valid) assert.match(answer.body.error.message, /current one/);
        }),
        { numRuns: 25 },
      );
    });

    it('lists when each instance last changed: its binding, then an instance key rotation', async () => {
      const provider = await listedProvider(registry);
      const bound = await boundInstance(registry, dev, appId, provider);
      const listed = await get(`${registry.url}/v1/apps/${appId}/services`);
      const record = listed.body.records.find((r: { service_id: string }) => r.service_id === bound.serviceId);
      assert.equal(record.updated_at, record.bound_at);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const newKey = generateSigningKey();
      const data = {
        app_id: appId,
        service_id: bound.serviceId,
        new_public_key: newKey.publicKey,
        rotation_timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'key_rotation',
      };
      const rotation = {
        ...signEnvelope('key_rotation', data, bound.instanceKey.privateKey),
        new_key_signature: sign('key_rotation', data, newKey.privateKey),
      };
      const rotated = await post(`${registry.url}/v1/apps/${appId}/services/${bound.serviceId}/key`, rotation);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const after = await get(`${registry.url}/v1/apps/${appId}/services`);
      const changed = after.body.records.find((r: { service_id: string }) => r.service_id === bound.serviceId);
      assert.ok(changed.updated_at > changed.bound_at, JSON.stringify(changed));
    });

    it('app_update of a retired app is 410 gone', async () => {
      const { dev: owner, appId: retiring } = await developerWithApp(registry, makeDeveloper(), 'old');
      const retire = signEnvelope(
        'app_retirement',
        { app_id: retiring, timestamp: nowSeconds(), nonce: newNonce(), context: 'app_retirement' },
        owner.master.privateKey,
      );
      assert.equal((await post(`${registry.url}/v1/apps/${retiring}/retire`, retire)).status, 200);
      const refused = await patchApp(appUpdate({}, owner.master, retiring), retiring);
      assert.equal(refused.status, 410);
      assert.equal(refused.body.error.code, 'gone');
    });
  });
}
