import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AUDIT_GENESIS_HASH,
  BindingAnswer,
  generateSigningKey,
  jwkThumbprint,
  newNonce,
  nowSeconds,
  OperationalContext,
  SignedContext,
  sign,
  signEnvelope,
  verify,
  verifyAuditChain,
} from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import {
  appManifest,
  type Backend,
  bearer,
  bindingRequest,
  boundInstance,
  call,
  developerProof,
  developerWithApp,
  get,
  listedProvider,
  makeDeveloper,
  makeProvider,
  namespaceClaim,
  offer,
  post,
  serviceCall,
} from './helpers.js';

/** The registry's behaviour, run against each storage backend. */
export function registryCases(backend: Backend): void {
  describe(`registry on ${backend.name}`, { skip: backend.skip }, () => {
    let registry: RegistryHandle;
    let url: string;
    before(async () => {
      registry = await backend.start();
      url = registry.url;
    });
    after(async () => {
      await registry?.close();
      await backend.cleanup();
    });

    it('describes itself at /.well-known/swarm-registry', async () => {
      const answer = await get(`${url}/.well-known/swarm-registry`);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { authority: 'swarm.local', public_key: registry.publicKey, version: '1.0', dns_port: null });
    });

    describe('namespaces (§4.1)', () => {
      it('registers a self-signed claim and serves the record', async () => {
        const dev = makeDeveloper();
        const answer = await post(`${url}/v1/namespaces`, namespaceClaim(dev));
        assert.equal(answer.status, 201);
        assert.equal(answer.body.namespace, dev.namespace);
        assert.equal(answer.body.status, 'active');
        assert.deepEqual(
          answer.body.guardian_public_keys,
          dev.guardians.map((g) => g.publicKey),
        );
        assert.deepEqual((await get(`${url}/v1/namespaces/${dev.namespace}`)).body, answer.body);
        const taken = await post(`${url}/v1/namespaces`, namespaceClaim({ ...makeDeveloper(dev.namespace) }));
        assert.equal(taken.status, 409);
        assert.equal(taken.body.error.code, 'namespace_taken');
      });

      it('refuses claims signed by another key, stale, replayed, or with a Guardian equal to the Master', async () => {
        const dev = makeDeveloper();
        const forged = namespaceClaim(dev);
        forged.signature = sign('namespace', forged.data, generateSigningKey().privateKey);
        assert.equal((await post(`${url}/v1/namespaces`, forged)).body.error.code, 'invalid_signature');
        const wrongPurpose = namespaceClaim(dev);
        wrongPurpose.signature = sign('app', wrongPurpose.data, dev.master.privateKey);
        assert.equal((await post(`${url}/v1/namespaces`, wrongPurpose)).body.error.code, 'invalid_signature');
        const stale = await post(`${url}/v1/namespaces`, namespaceClaim(dev, { timestamp: nowSeconds() - 301 }));
        assert.deepEqual([stale.status, stale.body.error.code], [401, 'stale_timestamp']);
        const same = await post(`${url}/v1/namespaces`, namespaceClaim(dev, { guardian_public_keys: [dev.master.publicKey] }));
        assert.equal(same.body.error.code, 'invalid_request');
        const version = { ...namespaceClaim(dev), version: '2.0' };
        assert.equal((await post(`${url}/v1/namespaces`, version)).body.error.code, 'unsupported_version');
        assert.equal((await get(`${url}/v1/namespaces/${dev.namespace}`)).status, 404);
        // Replaying a claim whose namespace was freed never happens: a nonce works once per key.
        const claim = namespaceClaim(dev);
        assert.equal((await post(`${url}/v1/namespaces`, claim)).status, 201);
        const other = makeDeveloper();
        const replay = namespaceClaim(
          { ...other, master: dev.master },
          { nonce: claim.data.nonce, guardian_public_keys: other.guardians.map((g) => g.publicKey) },
        );
        assert.equal((await post(`${url}/v1/namespaces`, replay)).body.error.code, 'nonce_reused');
      });

      it('requires the admission token when one is configured', async () => {
        const gated = await backend.start({ admissionToken: 'let-me-in', ...backend.shared() });
        try {
          const dev = makeDeveloper();
          const refused = await post(`${gated.url}/v1/namespaces`, namespaceClaim(dev));
          assert.deepEqual([refused.status, refused.body.error.code], [403, 'forbidden']);
          const wrong = await post(`${gated.url}/v1/namespaces`, namespaceClaim(dev), bearer('nope'));
          assert.equal(wrong.status, 403);
          assert.equal((await post(`${gated.url}/v1/namespaces`, namespaceClaim(dev), bearer('let-me-in'))).status, 201);
        } finally {
          await gated.close();
        }
      });
    });

    describe('apps (§4.2) and the public record', () => {
      it('registers an app with a random 10-character hash under the authority', async () => {
        const { dev, appId } = await developerWithApp(registry);
        assert.match(appId, new RegExp(`^local\\.swarm\\.${dev.namespace}\\.business_app\\.[a-z0-9]{10}$`));
        const record = (await get(`${url}/v1/apps/${appId}`)).body;
        assert.equal(record.app_id, appId);
        assert.equal(record.owner_namespace, dev.namespace);
        assert.equal(record.status, 'active');
        assert.equal(record.auth, null);
        assert.deepEqual(record.services, {});
        const master = (await get(`${url}/v1/apps/${appId}/master-key`)).body;
        assert.deepEqual(master, { app_id: appId, namespace: dev.namespace, public_key: dev.master.publicKey, status: 'active' });
      });

      it('refuses unknown namespaces, foreign keys and malformed app ids', async () => {
        const dev = makeDeveloper();
        const unknown = await post(`${url}/v1/apps`, appManifest(dev));
        assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'unknown_namespace']);
        const { dev: owner } = await developerWithApp(registry);
        const foreign = appManifest(owner);
        foreign.signature = sign('app', foreign.data, dev.master.privateKey);
        assert.equal((await post(`${url}/v1/apps`, foreign)).body.error.code, 'invalid_signature');
        for (const bad of ['nope', 'local.swarm.a.b.SHORT', 'local.swarm.a.b.abc', 'a..b', 'LOCAL.swarm.a.b.abcdef1234', 'x'.repeat(400)]) {
          const answer = await get(`${url}/v1/apps/${encodeURIComponent(bad)}/master-key`);
          assert.deepEqual([answer.status, answer.body.error.code], [400, 'invalid_app_id'], bad);
        }
        assert.equal((await get(`${url}/v1/apps/local.swarm.none.none.abcdef1234`)).body.error.code, 'unknown_app');
      });

      it('suspends and resumes behind the admin token; master-key answers app_suspended', async () => {
        const { appId } = await developerWithApp(registry);
        assert.equal((await post(`${url}/v1/admin/apps/${appId}/suspend`, undefined)).body.error.code, 'forbidden');
        assert.equal((await post(`${url}/v1/admin/apps/${appId}/suspend`, undefined, bearer('wrong'))).status, 403);
        assert.equal((await post(`${url}/v1/admin/apps/${appId}/suspend`, undefined, bearer(registry.adminToken))).status, 200);
        const suspended = await get(`${url}/v1/apps/${appId}/master-key`);
        assert.deepEqual([suspended.status, suspended.body.error.code], [403, 'app_suspended']);
        assert.equal((await post(`${url}/v1/admin/apps/${appId}/resume`, undefined, bearer(registry.adminToken))).status, 200);
        assert.equal((await get(`${url}/v1/apps/${appId}/master-key`)).status, 200);
        const events = (await get(`${url}/v1/apps/${appId}/log`)).body.entries.map((e: { event: string }) => e.event);
        assert.deepEqual(events, ['app_registered', 'app_suspended', 'app_resumed']);
      });
    });

    describe('catalog (§6)', () => {
      it('lists an offer put with the admin token and the offered key, and updates it with the stored key alone', async () => {
        const provider = makeProvider('crm-contact');
        const path = `${url}/v1/catalog/${provider.name}`;
        assert.equal((await call('PUT', path, offer(provider))).body.error.code, 'forbidden');
        const notTheOfferedKey = offer(provider, {}, generateSigningKey());
        assert.equal((await call('PUT', path, notTheOfferedKey, bearer(registry.adminToken))).body.error.code, 'invalid_signature');
        const first = await call('PUT', path, offer(provider), bearer(registry.adminToken));
        assert.equal(first.status, 201);
        assert.equal(first.body.provider, provider.name);
        const listed = (await get(`${url}/v1/catalog/crm-contact`)).body.services;
        assert.ok(listed.some((s: { provider: string }) => s.provider === provider.name));
        assert.ok(!('timestamp' in listed[0]));
        // An update signed by a new key it names is refused; signed by the stored key it may hand over.
        const next = generateSigningKey();
        const hijack = offer(provider, { public_key: next.publicKey, description: 'mine' }, next);
        assert.equal((await call('PUT', path, hijack, bearer(registry.adminToken))).body.error.code, 'invalid_signature');
        const handover = await call('PUT', path, offer(provider, { public_key: next.publicKey, description: 'v2' }));
        assert.equal(handover.status, 200);
        assert.equal((await call('PUT', path, offer(provider, { description: 'v3' }))).body.error.code, 'invalid_signature');
        const retype = offer({ ...provider, key: next }, { public_key: next.publicKey, service_type: 'storage-blob' });
        assert.equal((await call('PUT', path, retype)).body.error.code, 'conflict');
        const mismatch = await call('PUT', `${url}/v1/catalog/other.example`, offer(provider), bearer(registry.adminToken));
        assert.equal(mismatch.body.error.code, 'invalid_request');
      });
    });

    describe('auth delegation (§4.3 step 3)', () => {
      it('publishes the Auth key as a JWKS, keeps the previous one for retire_previous_after, and grows config_epoch', async () => {
        const { dev, appId } = await developerWithApp(registry);
        const delegate = (authKey: string, extra: Record<string, unknown> = {}) =>
          signEnvelope(
            'delegate_authority',
            {
              action: 'DELEGATE_AUTHORITY',
              app_id: appId,
              auth_public_key: authKey,
              auth_provider_url: `http://127.0.0.1:7401/apps/${appId}`,
              timestamp: nowSeconds(),
              nonce: newNonce(),
              ...extra,
            },
            dev.master.privateKey,
          );
        const first = generateSigningKey();
        const one = await post(`${url}/v1/apps/${appId}/auth`, delegate(first.publicKey));
        assert.deepEqual(one.body, { app_id: appId, config_epoch: 2 });
        let auth = (await get(`${url}/v1/apps/${appId}`)).body.auth;
        assert.equal(auth.issuer, auth.auth_provider_url);
        assert.equal(auth.audience, appId);
        assert.deepEqual(
          auth.jwks.keys.map((k: { kid: string }) => k.kid),
          [jwkThumbprint(first.publicKey)],
        );
        const second = generateSigningKey();
        assert.equal((await post(`${url}/v1/apps/${appId}/auth`, delegate(second.publicKey))).body.config_epoch, 3);
        auth = (await get(`${url}/v1/apps/${appId}`)).body.auth;
        assert.deepEqual(
          auth.jwks.keys.map((k: { kid: string }) => k.kid),
          [jwkThumbprint(second.publicKey), jwkThumbprint(first.publicKey)],
        );
        const third = generateSigningKey();
        await post(`${url}/v1/apps/${appId}/auth`, delegate(third.publicKey, { retire_previous_after: 0 }));
        auth = (await get(`${url}/v1/apps/${appId}`)).body.auth;
        assert.deepEqual(
          auth.jwks.keys.map((k: { kid: string }) => k.kid),
          [jwkThumbprint(third.publicKey)],
        );

        const stranger = makeDeveloper();
        const forged = delegate(generateSigningKey().publicKey);
        forged.signature = sign('delegate_authority', forged.data, stranger.master.privateKey);
        assert.equal((await post(`${url}/v1/apps/${appId}/auth`, forged)).body.error.code, 'invalid_signature');
        const replayed = delegate(first.publicKey);
        assert.equal((await post(`${url}/v1/apps/${appId}/auth`, replayed)).status, 200);
        assert.equal((await post(`${url}/v1/apps/${appId}/auth`, replayed)).body.error.code, 'nonce_reused');
        const { appId: otherApp } = await developerWithApp(registry);
        assert.equal((await post(`${url}/v1/apps/${otherApp}/auth`, delegate(first.publicKey))).body.error.code, 'invalid_request');
      });
    });

    describe('binding handshake (§5.2, §5.3)', () => {
      let dev: ReturnType<typeof makeDeveloper>;
      let appId: string;
      let provider: Awaited<ReturnType<typeof listedProvider>>;
      before(async () => {
        ({ dev, appId } = await developerWithApp(registry));
        provider = await listedProvider(registry);
      });

      it('binds, answers a signed context that parses, and lists the instance in Service DNS', async () => {
        const request = bindingRequest(provider, developerProof(dev, appId, provider.name, { service_tier: 'pro_cluster' }));
        const answer = await post(`${url}/v1/bindings`, request.body);
        assert.equal(answer.status, 201);
        const parsed = BindingAnswer.parse(answer.body);
        assert.equal(parsed.binding.status, 'active');
        assert.equal(parsed.binding.storage_limit_gb, 10);
        assert.equal(parsed.binding.public_key, request.instanceKey.publicKey);
        OperationalContext.parse(parsed.operational_context);
        assert.ok(verify('operational_context', parsed.operational_context, parsed.context_signature, registry.publicKey));
        assert.deepEqual(parsed.operational_context.registry, { authority: 'swarm.local', public_key: registry.publicKey });
        const services = (await get(`${url}/v1/apps/${appId}/services?type=${provider.serviceType}`)).body;
        const record = services.records.find((r: { service_id: string }) => r.service_id === request.serviceId);
        assert.equal(record.health, 'healthy');
        assert.equal(typeof record.last_heartbeat_at, 'number');
        assert.equal((await get(`${url}/v1/apps/${appId}/services?type=storage-blob`)).body.records.length, 0);
        const log = (await get(`${url}/v1/apps/${appId}/log`)).body.entries;
        assert.equal(log.at(-1).event, 'service_bound');
        assert.equal(log.at(-1).service_id, request.serviceId);
      });

      it('is idempotent for the same proof and service_id, and refuses the proof for another (proof_reused)', async () => {
        const proof = developerProof(dev, appId, provider.name);
        const first = bindingRequest(provider, proof);
        assert.equal((await post(`${url}/v1/bindings`, first.body)).status, 201);
        const retry = bindingRequest(provider, proof, { serviceId: first.serviceId, instanceKey: first.instanceKey });
        const again = await post(`${url}/v1/bindings`, retry.body);
        assert.equal(again.status, 200);
        assert.equal(again.body.binding.service_id, first.serviceId);
        assert.ok(verify('operational_context', again.body.operational_context, again.body.context_signature, registry.publicKey));
        const other = await post(`${url}/v1/bindings`, bindingRequest(provider, proof).body);
        assert.deepEqual([other.status, other.body.error.code], [409, 'proof_reused']);
        const replay = await post(`${url}/v1/bindings`, retry.body);
        assert.equal(replay.body.error.code, 'nonce_reused');
      });

      it('refuses a service_id the app or the provider already holds (409 conflict); another provider may use it', async () => {
        const first = bindingRequest(provider, developerProof(dev, appId, provider.name));
        assert.equal((await post(`${url}/v1/bindings`, first.body)).status, 201);
        const expectConflict = async (body: unknown) => {
          const answer = await post(`${url}/v1/bindings`, body);
          assert.deepEqual([answer.status, answer.body?.error?.code], [409, 'conflict'], JSON.stringify(answer.body));
        };
        // Same app, a new proof, the same service_id.
        await expectConflict(bindingRequest(provider, developerProof(dev, appId, provider.name), { serviceId: first.serviceId }).body);
        // Another app of another developer, the same provider and service_id.
        const other = await developerWithApp(registry);
        await expectConflict(
          bindingRequest(provider, developerProof(other.dev, other.appId, provider.name), { serviceId: first.serviceId }).body,
        );
        // Another provider's instances are its own to name.
        const second = await listedProvider(registry);
        const elsewhere = await post(
          `${url}/v1/bindings`,
          bindingRequest(second, developerProof(other.dev, other.appId, second.name), { serviceId: first.serviceId }).body,
        );
        assert.equal(elsewhere.status, 201, JSON.stringify(elsewhere.body));
      });

      it('checks in SPEC order, each failure with its own code', async () => {
        const proof = () => developerProof(dev, appId, provider.name);
        const expect = async (body: unknown, status: number, code: string) => {
          const answer = await post(`${url}/v1/bindings`, body);
          assert.deepEqual([answer.status, answer.body?.error?.code], [status, code], JSON.stringify(answer.body));
        };
        await expect({ ...bindingRequest(provider, proof()).body, extra: 1 }, 400, 'invalid_request');
        await expect({ ...bindingRequest(provider, proof()).body, version: '0.9' }, 400, 'unsupported_version');
        // unknown provider wins over everything after it, even a wrong service type and a bad signature
        const ghost = makeProvider();
        await expect(
          bindingRequest(ghost, developerProof(dev, appId, ghost.name), { serviceType: 'crm-contact' }).body,
          404,
          'unknown_provider',
        );
        // wrong service type wins over a bad binding signature
        await expect(
          bindingRequest(provider, proof(), { serviceType: 'crm-contact', signer: generateSigningKey() }).body,
          403,
          'wrong_provider',
        );
        // another listed provider presenting a proof made out to this one
        const rival = await listedProvider(registry);
        await expect(bindingRequest(provider, proof(), { signer: rival.key }).body, 401, 'invalid_signature');
        // a binding signed by another key, or by the right key for another purpose
        await expect(bindingRequest(provider, proof(), { signer: generateSigningKey() }).body, 401, 'invalid_signature');
        const wrongPurpose = bindingRequest(provider, proof());
        wrongPurpose.body.binding_signature = sign(
          'offer',
          { developer_proof: wrongPurpose.body.developer_proof, service_binding: wrongPurpose.body.service_binding },
          provider.key.privateKey,
        );
        await expect(wrongPurpose.body, 401, 'invalid_signature');
        // a binding signature checked before the service timestamp: a stale, unsigned swap is a bad signature
        const swapped = bindingRequest(provider, proof());
        swapped.body.service_binding.public_key = generateSigningKey().publicKey;
        await expect(swapped.body, 401, 'invalid_signature');
        // stale service timestamp, then a replayed service nonce
        const stale = bindingRequest(provider, proof());
        stale.body.service_binding.timestamp = nowSeconds() - 400;
        stale.body.binding_signature = sign(
          'binding',
          { developer_proof: stale.body.developer_proof, service_binding: stale.body.service_binding },
          provider.key.privateKey,
        );
        await expect(stale.body, 401, 'stale_timestamp');
        // the app: malformed, unknown, suspended — all after the provider's nonce is spent
        await expect(bindingRequest(provider, developerProof(dev, 'not-an-app', provider.name)).body, 400, 'invalid_app_id');
        await expect(
          bindingRequest(provider, developerProof(dev, 'local.swarm.nobody.none.abcdef1234', provider.name)).body,
          404,
          'unknown_app',
        );
        // the developer signature: another key, another purpose, another app's Master key
        await expect(
          bindingRequest(provider, developerProof(dev, appId, provider.name, {}, generateSigningKey())).body,
          401,
          'invalid_signature',
        );
        const otherPurpose = proof();
        otherPurpose.signature = sign('app', otherPurpose.payload, dev.master.privateKey);
        await expect(bindingRequest(provider, otherPurpose).body, 401, 'invalid_signature');
        const tampered = proof();
        tampered.payload = { ...tampered.payload, storage_limit_gb: 1000 };
        await expect(bindingRequest(provider, tampered).body, 401, 'invalid_signature');
        // a developer proof older than 15 minutes
        await expect(
          bindingRequest(provider, developerProof(dev, appId, provider.name, { timestamp: nowSeconds() - 901 })).body,
          401,
          'stale_timestamp',
        );
        // 14 minutes is fine (a 202 retry)
        assert.equal(
          (
            await post(
              `${url}/v1/bindings`,
              bindingRequest(provider, developerProof(dev, appId, provider.name, { timestamp: nowSeconds() - 840 })).body,
            )
          ).status,
          201,
        );
        // a replayed provider nonce
        const once = bindingRequest(provider, proof());
        assert.equal((await post(`${url}/v1/bindings`, once.body)).status, 201);
        await expect(once.body, 409, 'nonce_reused');
      });

      it('refuses binding for a suspended app', async () => {
        const { dev: owner, appId: suspended } = await developerWithApp(registry);
        await post(`${url}/v1/admin/apps/${suspended}/suspend`, undefined, bearer(registry.adminToken));
        const answer = await post(`${url}/v1/bindings`, bindingRequest(provider, developerProof(owner, suspended, provider.name)).body);
        assert.deepEqual([answer.status, answer.body.error.code], [403, 'app_suspended']);
        assert.equal((await get(`${url}/v1/apps/${suspended}/services`)).body.records.length, 0);
      });

      it('serves a signed context to the instance key only (§9.1)', async () => {
        const bound = await boundInstance(registry, dev, appId, provider);
        const path = `${url}/v1/apps/${appId}/services/${bound.serviceId}/context`;
        const answer = await post(path, serviceCall(appId, bound.serviceId, bound.instanceKey));
        assert.equal(answer.status, 200);
        const signed = SignedContext.parse(answer.body);
        assert.ok(verify('operational_context', signed.operational_context, signed.context_signature, registry.publicKey));
        assert.equal((await post(path, serviceCall(appId, bound.serviceId, generateSigningKey()))).body.error.code, 'invalid_signature');
        assert.equal((await post(path, serviceCall(appId, 'cms-article-other1', bound.instanceKey))).body.error.code, 'invalid_request');
        const unknown = await post(
          `${url}/v1/apps/${appId}/services/cms-article-nope1/context`,
          serviceCall(appId, 'cms-article-nope1', bound.instanceKey),
        );
        assert.deepEqual([unknown.status, unknown.body.error.code], [403, 'forbidden']);
        const once = serviceCall(appId, bound.serviceId, bound.instanceKey);
        assert.equal((await post(path, once)).status, 200);
        assert.equal((await post(path, once)).body.error.code, 'nonce_reused');
        const stale = serviceCall(appId, bound.serviceId, bound.instanceKey, { timestamp: nowSeconds() - 1000 });
        assert.equal((await post(path, stale)).body.error.code, 'stale_timestamp');
        // a call for the same service_id signed for the heartbeat purpose... is a service_call too; another purpose fails
        const wrongPurpose = serviceCall(appId, bound.serviceId, bound.instanceKey);
        wrongPurpose.signature = sign('key_rotation', wrongPurpose.data, bound.instanceKey.privateKey);
        assert.equal((await post(path, wrongPurpose)).body.error.code, 'invalid_signature');
      });
    });

    describe('audit log (hash chain)', () => {
      it('chains every entry from the genesis hash and verifies', async () => {
        const { dev, appId } = await developerWithApp(registry);
        const provider = await listedProvider(registry);
        await boundInstance(registry, dev, appId, provider);
        const entries = (await get(`${url}/v1/apps/${appId}/log`)).body.entries;
        assert.equal(entries[0].prev_hash, AUDIT_GENESIS_HASH);
        assert.deepEqual(
          entries.map((e: { seq: number }) => e.seq),
          [1, 2],
        );
        assert.deepEqual(verifyAuditChain(entries), { ok: true });
      });
    });

    it('serves OpenAPI built from the schemas', async () => {
      const doc = (await get(`${url}/openapi.json`)).body;
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/v1/bindings'].post.requestBody.content['application/json'].schema.properties.developer_proof);
      // The routes of every section are described, path parameters as {name}.
      const described = new Set(Object.keys(doc.paths).map((path) => path.replace(/\{[^}]+\}/g, '*')));
      const expected = ['/v1/apps/*/services/*/decommission', '/v1/catalog/*', '/v1/namespaces/*/recovery', '/.well-known/swarm-registry'];
      for (const path of expected) assert.ok(described.has(path), path);
    });
  });
}
