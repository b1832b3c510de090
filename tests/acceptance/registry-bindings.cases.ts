import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Ctx, uniqueName } from './fixtures/context.js';
import { bindingRequest, type Instance, newInstance, serviceCall } from './spec-client/binding.js';
import { checkContext } from './spec-client/context.js';
import { Developer } from './spec-client/developer.js';
import { type Data, type Envelope, envelope, fresh, now } from './spec-client/envelope.js';
import { call, get, outcome, post } from './spec-client/http.js';
import { generateSigningKey, signObject, verifyObject } from './spec-client/keys.js';
import { Provider } from './spec-client/provider.js';
import { Receiver } from './spec-client/receiver.js';
import { AuthKey } from './spec-client/tokens.js';

export function bindingCases(ctx: Ctx): void {
  describe('SPEC §5.2–§5.3 binding handshake directly against the registry', () => {
    const events = new Receiver();
    let provider: Provider;
    let dev: Developer;
    let appId: string;
    let auth: AuthKey;
    const bindings = () => `${ctx().registryUrl}/v1/bindings`;
    const instance = () => newInstance(provider.serviceType, uniqueName('probe'), events.url);
    const proof = (extra: Data = {}) =>
      dev.provisioning(appId, provider.provider, { service_tier: 'basic', region: 'local', storage_limit_gb: 3, ...extra });
    const bind = (developerProof: Envelope, target: Instance, serviceBinding: Data = {}) =>
      post(bindings(), bindingRequest(developerProof, target, { providerKey: provider.key, serviceBinding }));

    before(async () => {
      await events.start();
      const name = uniqueName('bind');
      provider = new Provider(ctx().registryUrl, `${name}.acceptance.test`, `acc-${name}`, events.url);
      const put = await provider.put(provider.offer(), ctx().swarm.registry.adminToken);
      assert.ok([200, 201].includes(put.status), put.text);
      dev = new Developer(ctx().registryUrl, uniqueName('binder'));
      assert.equal((await dev.claim()).status, 201);
      appId = await dev.registerApp('bound_app');
      auth = await AuthKey.create(`https://auth.acceptance.test/apps/${appId}`, appId);
      assert.equal((await dev.delegate(appId, auth.key.publicKey, auth.issuer)).status, 200);
    });
    after(() => events.close());

    test('201 with the binding and a context signed by the registry key; listed in Service DNS', async () => {
      const target = instance();
      const answer = await bind(proof(), target);
      assert.equal(answer.status, 201, answer.text);
      const { binding, operational_context: context } = answer.body;
      assert.deepEqual(
        { ...binding, bound_at: 0 },
        {
          app_id: appId,
          service_id: target.serviceId,
          service_type: provider.serviceType,
          provider: provider.provider,
          endpoint_url: target.endpointUrl,
          public_key: target.key.publicKey,
          service_tier: 'basic',
          region: 'local',
          storage_limit_gb: 3,
          bound_at: 0,
          status: 'active',
        },
      );
      assert.deepEqual(await checkContext(answer.body, ctx().wellKnown.public_key, appId), []);
      assert.equal(context.auth.auth_provider_url, auth.issuer);
      assert.deepEqual(
        context.auth.jwks.keys.map((key: Data) => [key.kid, key.x]),
        [[auth.kid, auth.jwk().x]],
      );
      assert.equal(context.registry.authority, ctx().wellKnown.authority);
      for (const field of ['billing_provider_url', 'logging_service_url', 'services']) assert.ok(field in context, field);

      const dns = await get(`${ctx().registryUrl}/v1/apps/${appId}/services?type=${provider.serviceType}`);
      assert.equal(dns.status, 200);
      const record = dns.body.records.find((item: Data) => item.service_id === target.serviceId);
      assert.equal(record?.public_key, target.key.publicKey);
      const none = await get(`${ctx().registryUrl}/v1/apps/${appId}/services?type=cms-article`);
      assert.deepEqual(none.body.records, []);
      const log = await get(`${ctx().registryUrl}/v1/apps/${appId}/log`);
      assert.ok(log.body.entries.some((entry: Data) => entry.event === 'service_bound'));
    });

    test('the same proof: same service_id → 200 (idempotent retry), another → 409 proof_reused; a verbatim resend → 409 nonce_reused', async () => {
      const target = instance();
      const developerProof = proof();
      const request = bindingRequest(developerProof, target, { providerKey: provider.key });
      const first = await post(bindings(), request);
      assert.equal(first.status, 201, first.text);
      assert.equal(outcome(await post(bindings(), request)), '409 nonce_reused');
      const retry = await bind(developerProof, target);
      assert.equal(retry.status, 200, retry.text);
      assert.deepEqual(retry.body.binding, first.body.binding);
      assert.equal(outcome(await bind(developerProof, instance())), '409 proof_reused');
    });

    test('a forged binding does not burn the service nonce', async () => {
      const target = instance();
      const request = bindingRequest(proof(), target, { providerKey: provider.key });
      const forged = {
        ...request,
        binding_signature: signObject('binding', pick(request, ['developer_proof', 'service_binding']), generateSigningKey()),
      };
      assert.equal(outcome(await post(bindings(), forged)), '401 invalid_signature');
      assert.equal((await post(bindings(), request)).status, 201);
    });

    test('unknown_provider, wrong_provider, invalid binding signatures, in SPEC order', async () => {
      const elsewhere = dev.provisioning(appId, 'nobody.acceptance.test', { service_tier: 'basic', region: 'local' });
      assert.equal(outcome(await bind(elsewhere, instance())), '404 unknown_provider');
      const unknownAndForged = bindingRequest(elsewhere, instance(), { providerKey: generateSigningKey() });
      assert.equal(outcome(await post(bindings(), unknownAndForged)), '404 unknown_provider', 'provider is checked before the signature');
      assert.equal(outcome(await bind(proof(), instance(), { service_type: 'cms-article' })), '403 wrong_provider');
      const wrongAndForged = bindingRequest(proof(), instance(), {
        providerKey: generateSigningKey(),
        serviceBinding: { service_type: 'cms-article' },
      });
      assert.equal(outcome(await post(bindings(), wrongAndForged)), '403 wrong_provider', 'type is checked before the signature');
      const byOther = bindingRequest(proof(), instance(), { providerKey: generateSigningKey() });
      assert.equal(outcome(await post(bindings(), byOther)), '401 invalid_signature');
      const request = bindingRequest(proof(), instance(), { providerKey: provider.key });
      const asOffer = {
        ...request,
        binding_signature: signObject('offer', pick(request, ['developer_proof', 'service_binding']), provider.key),
      };
      assert.equal(outcome(await post(bindings(), asOffer)), '401 invalid_signature', 'purpose swapped');
      const stale = bindingRequest(proof(), instance(), { providerKey: provider.key, serviceBinding: { timestamp: now() - 400 } });
      assert.equal(outcome(await post(bindings(), stale)), '401 stale_timestamp');
    });

    test('a provider cannot bind with a proof meant for another provider → 401 invalid_signature', async () => {
      const cms = ctx().catalog.find((entry) => entry.service_type === 'cms-article');
      const meantForCms = dev.provisioning(appId, cms.provider, { service_tier: 'free', region: 'local' });
      const hijack = bindingRequest(meantForCms, newInstance('cms-article', uniqueName('cms-article'), events.url), {
        providerKey: provider.key,
      });
      assert.equal(outcome(await post(bindings(), hijack)), '401 invalid_signature');
    });

    test('the developer proof: unknown app, foreign or swapped signature, 15-minute limit', async () => {
      const unknownApp = appId.replace(/\.[a-z0-9]+$/, '.zzzzzz999');
      const forUnknown = dev.provisioning(unknownApp, provider.provider, { service_tier: 'basic', region: 'local' });
      assert.equal(outcome(await bind(forUnknown, instance())), '404 unknown_app');
      const malformed = dev.provisioning('not.an.app', provider.provider, { service_tier: 'basic', region: 'local' });
      assert.equal(outcome(await bind(malformed, instance())), '400 invalid_app_id');

      const mallory = new Developer(ctx().registryUrl, uniqueName('mallory'));
      await mallory.claim();
      const foreign = mallory.provisioning(appId, provider.provider, { service_tier: 'basic', region: 'local' });
      assert.equal(outcome(await bind(foreign, instance())), '401 invalid_signature', "another namespace's Master key");
      const swapped = proof();
      swapped.signature = signObject('app', swapped.data, dev.master);
      assert.equal(outcome(await bind(swapped, instance())), '401 invalid_signature', 'purpose swapped');

      const old = proof({ timestamp: now() - 16 * 60 });
      assert.equal(outcome(await bind(old, instance())), '401 stale_timestamp', '16 minutes old');
      const recent = proof({ timestamp: now() - 10 * 60 });
      assert.equal((await bind(recent, instance())).status, 201, '10 minutes old still binds (202 retry)');
    });

    test('body rules and version on the binding', async () => {
      const request = bindingRequest(proof(), instance(), { providerKey: provider.key });
      assert.equal(outcome(await post(bindings(), { ...request, version: '2.0' })), '400 unsupported_version');
      assert.equal(outcome(await post(bindings(), { ...request, extra: true })), '400 invalid_request');
      assert.equal(
        outcome(await post(bindings(), JSON.stringify(request).replace('"service_binding":{', '"service_binding":{"__proto__":{},'))),
        '400 invalid_request',
      );
      const badId = bindingRequest(proof(), { ...instance(), serviceId: 'AB' }, { providerKey: provider.key });
      assert.equal(outcome(await post(bindings(), badId)), '400 invalid_request', 'service_id per SPEC §2');
      const badKey = bindingRequest(proof(), instance(), { providerKey: provider.key, serviceBinding: { public_key: 'ed25519:AAAA' } });
      assert.equal(outcome(await post(bindings(), badKey)), '400 invalid_request', 'public key per SPEC §3');
      const unsignedField = bindingRequest(proof(), instance(), { providerKey: provider.key, serviceBinding: { weight: 1 } });
      assert.equal(outcome(await post(bindings(), unsignedField)), '400 invalid_request');
    });

    describe('SPEC §9.1–§9.2, §10.2, §9.4, §11 for our bound instance', () => {
      let target: Instance;
      const instanceUrl = (path: string) => `${ctx().registryUrl}/v1/apps/${appId}/services/${target.serviceId}${path}`;

      before(async () => {
        target = instance();
        assert.equal((await bind(proof(), target)).status, 201);
      });

      test('context refresh → 200 with a context verifying under the registry key', async () => {
        const answer = await post(instanceUrl('/context'), serviceCall(appId, target));
        assert.equal(answer.status, 200, answer.text);
        assert.deepEqual(await checkContext(answer.body, ctx().wellKnown.public_key, appId), []);
      });

      test('§4.3 retire_previous_after: the previous Auth key stays in the context JWKS that long, then leaves', async () => {
        const next = await AuthKey.create(auth.issuer, appId);
        assert.equal((await dev.delegate(appId, next.key.publicKey, next.issuer, { retire_previous_after: 3 })).status, 200);
        const kids = async () => {
          const answer = await post(instanceUrl('/context'), serviceCall(appId, target));
          assert.deepEqual(await checkContext(answer.body, ctx().wellKnown.public_key, appId), []);
          return answer.body.operational_context.auth.jwks.keys.map((key: Data) => key.kid).sort();
        };
        assert.deepEqual(await kids(), [auth.kid, next.kid].sort(), 'both keys during the overlap');
        await new Promise((resolve) => setTimeout(resolve, 4500));
        assert.deepEqual(await kids(), [next.kid], 'only the new key after 3 s');
        auth = next;
      });

      test('heartbeat → 200 { config_epoch }; foreign key → 401; unknown instance → 403 forbidden', async () => {
        const beat = await post(instanceUrl('/heartbeat'), serviceCall(appId, target, { status: 'ok' }));
        assert.equal(beat.status, 200, beat.text);
        assert.ok(Number.isInteger(beat.body.config_epoch));
        assert.equal(outcome(await post(instanceUrl('/heartbeat'), serviceCall(appId, target, { status: 'bad' }))), '400 invalid_request');
        const foreign = serviceCall(appId, target, { status: 'ok' }, generateSigningKey());
        assert.equal(outcome(await post(instanceUrl('/heartbeat'), foreign)), '401 invalid_signature');
        const stranger = newInstance(provider.serviceType, uniqueName('ghost'), events.url);
        const ghost = `${ctx().registryUrl}/v1/apps/${appId}/services/${stranger.serviceId}`;
        assert.equal(outcome(await post(`${ghost}/context`, serviceCall(appId, stranger))), '403 forbidden');
        assert.equal(outcome(await post(`${ghost}/heartbeat`, serviceCall(appId, stranger, { status: 'ok' }))), '403 forbidden');
      });

      test('backbone update → epoch grows, heartbeat sees it, BACKBONE_UPDATE reaches our events_url signed by the registry', async () => {
        const before = (await post(instanceUrl('/heartbeat'), serviceCall(appId, target, { status: 'ok' }))).body.config_epoch;
        const update = dev.backboneUpdate(appId, {
          billing_provider_url: `${events.url}/billing`,
          services: { search: 'https://search.acceptance.test' },
        });
        const patched = await fetchPatch(`${ctx().registryUrl}/v1/apps/${appId}/operational-context`, update);
        assert.equal(patched.status, 200, patched.text);
        const beat = await post(instanceUrl('/heartbeat'), serviceCall(appId, target, { status: 'ok' }));
        assert.ok(beat.body.config_epoch > before, `${beat.body.config_epoch} > ${before}`);
        const context = (await post(instanceUrl('/context'), serviceCall(appId, target))).body.operational_context;
        assert.equal(context.billing_provider_url, `${events.url}/billing`);
        assert.deepEqual(context.services, { search: 'https://search.acceptance.test' });

        await events.waitFor((items) => items.some((item) => item.path === '/v1/events' && item.body?.data?.event === 'BACKBONE_UPDATE'));
        const broadcast = events.on('/v1/events').find((item) => item.body.data.event === 'BACKBONE_UPDATE')!.body;
        assert.equal(broadcast.version, '1.0');
        assert.equal(broadcast.data.app_id, appId);
        assert.ok(verifyObject('broadcast', broadcast.data, broadcast.signature, ctx().wellKnown.public_key), 'broadcast signature');

        const wrongContext = envelope('backbone_update', { ...update.data, nonce: fresh({}).nonce, context: 'decommission' }, dev.master);
        assert.equal(
          outcome(await fetchPatch(`${ctx().registryUrl}/v1/apps/${appId}/operational-context`, wrongContext)),
          '400 invalid_request',
        );
        assert.equal(outcome(await fetchPatch(`${ctx().registryUrl}/v1/apps/${appId}/operational-context`, update)), '409 nonce_reused');
      });

      test('emergency decommission → revoked, out of Service DNS, SERVICE_REVOKED broadcast, instance calls → 403', async () => {
        const data = fresh({ app_id: appId, service_id: target.serviceId, context: 'decommission' });
        const answer = await post(instanceUrl('/decommission'), envelope('decommission', data, dev.master));
        assert.equal(answer.status, 200, answer.text);
        const dns = await get(`${ctx().registryUrl}/v1/apps/${appId}/services`);
        assert.ok(!dns.body.records.some((record: Data) => record.service_id === target.serviceId));
        assert.equal(outcome(await post(instanceUrl('/heartbeat'), serviceCall(appId, target, { status: 'ok' }))), '403 forbidden');
        assert.equal(
          outcome(await post(instanceUrl('/context'), serviceCall(appId, target))),
          '403 forbidden',
          'no context for a revoked instance',
        );
        await events.waitFor((items) =>
          items.some((item) => item.body?.data?.event === 'SERVICE_REVOKED' && item.body.data.service_id === target.serviceId),
        );
      });
    });
  });
}

function pick(value: Data, keys: string[]): Data {
  return Object.fromEntries(keys.filter((key) => key in (value ?? {})).map((key) => [key, value[key]]));
}

const fetchPatch = (url: string, body: unknown) => call('PATCH', url, { body });
