import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Ctx, uniqueName } from './fixtures/context.js';
import { Developer } from './spec-client/developer.js';
import { envelope, fresh, now } from './spec-client/envelope.js';
import { get, outcome, post } from './spec-client/http.js';
import { generateSigningKey, signObject } from './spec-client/keys.js';

const APP_ID = /^([a-z]{2,63})\.([a-z0-9-]{1,63})\.([a-z0-9_-]{1,63})\.([a-z0-9_-]{1,63})\.([a-z0-9]{6,32})$/;

export function identityCases(ctx: Ctx): void {
  const url = (path: string) => `${ctx().registryUrl}${path}`;
  const developer = (prefix = 'dev') => new Developer(ctx().registryUrl, uniqueName(prefix));

  describe('SPEC §6 well-known and §4.1 namespaces', () => {
    test('the registry names its authority, key, version and DNS port', () => {
      const { wellKnown, swarm } = ctx();
      assert.equal(wellKnown.version, '1.0');
      assert.equal(wellKnown.authority, swarm.registry.authority);
      assert.match(wellKnown.public_key, /^ed25519:[A-Za-z0-9_-]{43}$/);
      assert.equal(typeof wellKnown.dns_port, 'number');
    });

    test('a self-signed claim → 201 and the record reads back', async () => {
      const dev = developer();
      const answer = await dev.claim();
      assert.equal(answer.status, 201, answer.text);
      assert.deepEqual(
        { ...answer.body, created_at: 0 },
        {
          namespace: dev.namespace,
          public_key: dev.master.publicKey,
          guardian_public_keys: dev.guardians.map((key) => key.publicKey),
          status: 'active',
          created_at: 0,
        },
      );
      assert.equal(Number.isInteger(answer.body.created_at), true);
      const read = await get(url(`/v1/namespaces/${dev.namespace}`));
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, answer.body);
    });

    test('a taken namespace → 409 namespace_taken', async () => {
      const first = developer();
      assert.equal((await first.claim()).status, 201);
      const second = new Developer(ctx().registryUrl, first.namespace);
      assert.equal(outcome(await second.claim()), '409 namespace_taken');
    });

    test('a claim signed by another key than the claimed one → 401 invalid_signature', async () => {
      const dev = developer();
      const claim = dev.namespaceClaim();
      claim.signature = signObject('namespace', claim.data, generateSigningKey());
      assert.equal(outcome(await post(url('/v1/namespaces'), claim)), '401 invalid_signature');
    });

    test('Guardian rules: 1–5 keys, none equal to the Master key → else 400 invalid_request', async () => {
      const dev = developer();
      const cases = [[], Array.from({ length: 6 }, () => generateSigningKey().publicKey), [dev.master.publicKey]];
      for (const guardians of cases) {
        const claim = envelope('namespace', { ...dev.namespaceClaim().data, guardian_public_keys: guardians }, dev.master);
        assert.equal(outcome(await post(url('/v1/namespaces'), claim)), '400 invalid_request', `${guardians.length} guardians`);
      }
    });

    test('an invalid namespace name → 400 invalid_request', async () => {
      const dev = new Developer(ctx().registryUrl, 'Not.Valid');
      assert.equal(outcome(await dev.claim()), '400 invalid_request');
    });

    test('an unknown namespace reads → 404 unknown_namespace', async () => {
      assert.equal(outcome(await get(url(`/v1/namespaces/${uniqueName('nobody')}`))), '404 unknown_namespace');
    });
  });

  describe('SPEC §3 body rules, version, signatures and freshness (on POST /v1/namespaces)', () => {
    const send = (body: unknown) => post(url('/v1/namespaces'), body);

    test('not JSON, a non-object top level → 400 invalid_request', async () => {
      assert.equal(outcome(await send('{"version":"1.0",')), '400 invalid_request');
      assert.equal(outcome(await send('[1,2]')), '400 invalid_request');
      assert.equal(outcome(await send('"text"')), '400 invalid_request');
    });

    test('duplicate keys, also nested and escaped → 400 invalid_request', async () => {
      const text = JSON.stringify(developer().namespaceClaim());
      assert.equal(outcome(await send(text.replace('"data":{', '"data":{"nonce":"aaaaaaaaaa",'))), '400 invalid_request');
      assert.equal(outcome(await send(text.replace('"metadata":{', '"metadata":{"website":"https://x.test",'))), '400 invalid_request');
      assert.equal(outcome(await send(text.replace('"data":{', '"data":{"\\u006eonce":"aaaaaaaaaa",'))), '400 invalid_request');
    });

    for (const key of ['__proto__', 'constructor', 'prototype']) {
      test(`the key ${key} → 400 invalid_request`, async () => {
        const text = JSON.stringify(developer().namespaceClaim());
        assert.equal(outcome(await send(text.replace('"metadata":{', `"metadata":{"${key}":{"x":1},`))), '400 invalid_request');
        assert.equal(outcome(await send(text.replace('{"version"', `{"${key}":{},"version"`))), '400 invalid_request');
      });
    }

    test('unknown fields in data, wrong types, missing fields (all validly signed) → 400 invalid_request', async () => {
      const dev = developer();
      const base = dev.namespaceClaim().data;
      const variants = [
        { ...base, extra: 1 },
        { ...base, timestamp: String(base.timestamp) },
        { ...base, timestamp: (base.timestamp as number) + 0.5 },
        { ...base, guardian_public_keys: dev.guardians[0]!.publicKey },
        { ...base, public_key: 'ed25519:short' },
        { ...base, nonce: 'short' },
        Object.fromEntries(Object.entries(base).filter(([name]) => name !== 'contact_email')),
        { ...base, metadata: { website: 'https://x.test', twitter: '@x' } },
        { ...base, nonce: 'a'.repeat(65) },
        { ...base, nonce: 'bad nonce!' },
        { ...base, namespace_claim: 'UPPER' },
      ];
      for (const data of variants) {
        assert.equal(outcome(await send(envelope('namespace', data, dev.master))), '400 invalid_request', JSON.stringify(data));
      }
    });

    test('a signature not in 128 lowercase hex is refused', async () => {
      const claim = developer().namespaceClaim();
      const answer = await send({ ...claim, signature: claim.signature.toUpperCase() });
      assert.ok(['400 invalid_request', '401 invalid_signature'].includes(outcome(answer)), outcome(answer));
    });

    test('version other than "1.0" → 400 unsupported_version', async () => {
      for (const version of ['2.0', '1.1']) {
        assert.equal(outcome(await send({ ...developer().namespaceClaim(), version })), '400 unsupported_version');
      }
    });

    test('a body over 64 KiB → 413 payload_too_large', async () => {
      const claim = developer().namespaceClaim({ contact_email: `${'a'.repeat(70 * 1024)}@example.test` });
      assert.equal(outcome(await send(claim)), '413 payload_too_large');
    });

    test('timestamps more than 300 s away → 401 stale_timestamp', async () => {
      for (const shift of [-301, 400]) {
        const claim = developer().namespaceClaim({ timestamp: now() + shift });
        assert.equal(outcome(await send(claim)), '401 stale_timestamp', `shift ${shift}`);
      }
      assert.equal((await send(developer().namespaceClaim({ timestamp: now() - 200 }))).status, 201, 'inside the window');
    });

    test('a forged claim does not burn the nonce: the real one with the same nonce → 201', async () => {
      const dev = developer();
      const real = dev.namespaceClaim();
      const forged = { ...real, signature: signObject('namespace', real.data, generateSigningKey()) };
      assert.equal(outcome(await send(forged)), '401 invalid_signature');
      assert.equal((await send(real)).status, 201);
    });

    test('a claim signed for another purpose → 401 invalid_signature', async () => {
      const dev = developer();
      const claim = dev.namespaceClaim();
      claim.signature = signObject('app', claim.data, dev.master);
      assert.equal(outcome(await send(claim)), '401 invalid_signature');
    });
  });

  describe('SPEC §4.2 apps and §6 public records', () => {
    test('registration → 201; app_id per SPEC §2 under the registry authority; public records', async () => {
      const dev = developer();
      assert.equal((await dev.claim()).status, 201);
      const manifest = { ...dev.appManifest('shop_app', { description: 'Ünïcode shop' }), public_key_hint: dev.master.publicKey };
      const answer = await post(url('/v1/apps'), manifest);
      assert.equal(answer.status, 201, answer.text);
      const { app_id } = answer.body;
      const parts = APP_ID.exec(app_id);
      assert.ok(parts, app_id);
      assert.equal(`${parts[2]}.${parts[1]}`, ctx().wellKnown.authority);
      assert.equal(parts[3], dev.namespace);
      assert.equal(parts[4], 'shop_app');
      assert.deepEqual(
        { ...answer.body, created_at: 0 },
        { app_id, owner_namespace: dev.namespace, project_slug: 'shop_app', display_name: 'App shop_app', status: 'active', created_at: 0 },
      );
      assert.equal((await get(url(`/v1/apps/${app_id}`))).status, 200);
      const master = await get(url(`/v1/apps/${app_id}/master-key`));
      assert.deepEqual(master.body, { app_id, namespace: dev.namespace, public_key: dev.master.publicKey, status: 'active' });
      const services = await get(url(`/v1/apps/${app_id}/services`));
      assert.deepEqual(services.body, { app_id, records: [] }, 'no services yet');
      const log = await get(url(`/v1/apps/${app_id}/log`));
      assert.equal(log.status, 200);
      assert.equal(log.body.entries[0].seq, 1);
    });

    test('a replayed manifest → 409 nonce_reused; the same nonce in other data → 409 nonce_reused', async () => {
      const dev = developer();
      await dev.claim();
      const manifest = dev.appManifest('replayed');
      assert.equal((await post(url('/v1/apps'), manifest)).status, 201);
      assert.equal(outcome(await post(url('/v1/apps'), manifest)), '409 nonce_reused');
      const sameNonce = dev.appManifest('other', { nonce: manifest.data.nonce });
      assert.equal(outcome(await post(url('/v1/apps'), sameNonce)), '409 nonce_reused');
    });

    test('manifest body rules → 400 invalid_request', async () => {
      const dev = developer();
      await dev.claim();
      const base = dev.appManifest('fine').data;
      const variants = [
        { ...base, project_slug: 'Upper' },
        { ...base, project_slug: 'has.dot' },
        { ...base, display_name: '' },
        Object.fromEntries(Object.entries(base).filter(([name]) => name !== 'display_name')),
        { ...base, owner_namespace: 7 },
      ];
      for (const data of variants) {
        assert.equal(outcome(await post(url('/v1/apps'), envelope('app', data, dev.master))), '400 invalid_request', JSON.stringify(data));
      }
      assert.equal(outcome(await post(url('/v1/apps'), { ...dev.appManifest('x'), unknown_envelope_field: 1 })), '400 invalid_request');
    });

    test('an unknown namespace → 404 unknown_namespace', async () => {
      const dev = developer();
      assert.equal(outcome(await post(url('/v1/apps'), dev.appManifest('orphan'))), '404 unknown_namespace');
    });

    test("signed by another namespace's Master key, or for another purpose → 401 invalid_signature", async () => {
      const alice = developer('alice');
      const mallory = developer('mallory');
      await alice.claim();
      await mallory.claim();
      const stolen = alice.appManifest('stolen', {}, mallory.master);
      assert.equal(outcome(await post(url('/v1/apps'), stolen)), '401 invalid_signature');
      const swapped = alice.appManifest('swapped');
      swapped.signature = signObject('provision', swapped.data, alice.master);
      assert.equal(outcome(await post(url('/v1/apps'), swapped)), '401 invalid_signature');
      assert.equal((await post(url('/v1/apps'), { ...swapped, signature: signObject('app', swapped.data, alice.master) })).status, 201);
    });

    test('malformed app ids → 400 invalid_app_id; well-formed unknown → 404 unknown_app', async () => {
      for (const bad of ['not-an-app', 'local.swarm.alice.shop.abc', 'LOCAL.swarm.alice.shop.abcdef', 'local.swarm.alice.shop.abcdef.x']) {
        assert.equal(outcome(await get(url(`/v1/apps/${bad}`))), '400 invalid_app_id', bad);
        assert.equal(outcome(await get(url(`/v1/apps/${bad}/master-key`))), '400 invalid_app_id', bad);
      }
      const unknown = `${ctx().wellKnown.authority.split('.').reverse().join('.')}.nobody.shop.abcdef123`;
      assert.equal(outcome(await get(url(`/v1/apps/${unknown}`))), '404 unknown_app');
      assert.equal(outcome(await get(url(`/v1/apps/${unknown}/master-key`))), '404 unknown_app');
    });
  });

  describe('SPEC §4.3 step 3: auth delegation at the registry', () => {
    test('delegating our own Auth key → 200 { app_id, config_epoch } and the epoch grows', async () => {
      const dev = developer();
      await dev.claim();
      const appId = await dev.registerApp('delegating');
      const authUrl = `https://auth.acceptance.test/apps/${appId}`;
      const first = await dev.delegate(appId, generateSigningKey().publicKey, authUrl);
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(Object.keys(first.body).sort(), ['app_id', 'config_epoch']);
      assert.equal(first.body.app_id, appId);
      const second = await dev.delegate(appId, generateSigningKey().publicKey, authUrl, { retire_previous_after: 0 });
      assert.equal(second.status, 200, second.text);
      assert.ok(second.body.config_epoch > first.body.config_epoch);
    });

    test('attacks on the delegation', async () => {
      const alice = developer('alice');
      const mallory = developer('mallory');
      await alice.claim();
      await mallory.claim();
      const appId = await alice.registerApp('target');
      const authKey = generateSigningKey().publicKey;
      const authUrl = `https://auth.acceptance.test/apps/${appId}`;
      const to = (id: string) => url(`/v1/apps/${id}/auth`);

      const byMallory = envelope('delegate_authority', alice.delegation(appId, authKey, authUrl).data, mallory.master);
      assert.equal(outcome(await post(to(appId), byMallory)), '401 invalid_signature', "another namespace's key");
      const swapped = alice.delegation(appId, authKey, authUrl);
      const asProvision = { ...swapped, signature: signObject('provision', swapped.data, alice.master) };
      assert.equal(outcome(await post(to(appId), asProvision)), '401 invalid_signature', 'purpose swapped');
      assert.equal((await post(to(appId), swapped)).status, 200, 'the real one, same nonce, after the forgeries');
      assert.equal(outcome(await post(to(appId), swapped)), '409 nonce_reused');

      const stale = envelope(
        'delegate_authority',
        { ...alice.delegation(appId, authKey, authUrl).data, timestamp: now() - 600 },
        alice.master,
      );
      assert.equal(outcome(await post(to(appId), stale)), '401 stale_timestamp');
      const wrongAction = envelope(
        'delegate_authority',
        { ...alice.delegation(appId, authKey, authUrl).data, action: 'TAKE_OVER' },
        alice.master,
      );
      assert.equal(outcome(await post(to(appId), wrongAction)), '400 invalid_request');
      const unknownField = envelope('delegate_authority', { ...alice.delegation(appId, authKey, authUrl).data, admin: true }, alice.master);
      assert.equal(outcome(await post(to(appId), unknownField)), '400 invalid_request');

      const unknownApp = appId.replace(/\.[a-z0-9]+$/, '.zzzzzz999');
      assert.equal(outcome(await post(to(unknownApp), alice.delegation(unknownApp, authKey, authUrl))), '404 unknown_app');
      assert.equal(outcome(await post(to('bad-id'), alice.delegation('bad-id', authKey, authUrl))), '400 invalid_app_id');
      assert.equal(
        outcome(
          await post(
            to(appId),
            envelope('delegate_authority', { ...alice.delegation(appId, authKey, authUrl).data, nonce: 'ab' }, alice.master),
          ),
        ),
        '400 invalid_request',
      );
      assert.equal(
        outcome(await post(to(appId), { ...alice.delegation(appId, authKey, authUrl), version: '0.9' })),
        '400 unsupported_version',
      );
    });
  });

  test('SPEC §4.1 nonce scope: a nonce is per signing key', async () => {
    const a = developer();
    const b = developer();
    const shared = fresh({}).nonce;
    assert.equal((await post(url('/v1/namespaces'), a.namespaceClaim({ nonce: shared }))).status, 201);
    assert.equal((await post(url('/v1/namespaces'), b.namespaceClaim({ nonce: shared }))).status, 201);
  });
}
