import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, type Purpose, type SigningKey, sign } from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import { type Backend, bearer, boundInstance, call, type Developer, developerWithApp, listedProvider, type Provider } from './helpers.js';

interface Target {
  name: string;
  method: string;
  path: string;
  purpose: Purpose;
  /** The data with its time field set; `timeField` names it. */
  data(time: number): Record<string, unknown>;
  timeField?: string;
  signer: SigningKey;
  /** A second signature over the same data, by the new key (rotations). */
  newKey?: SigningKey;
  headers?: Record<string, string>;
  /** What a verbatim replay of an accepted request gets: always nonce_reused, even once the signing key was replaced. */
  replay: string;
}

function envelope(target: Target, time: number, purpose = target.purpose) {
  const data = target.data(time);
  return {
    version: '1.0',
    data,
    signature: sign(purpose, data, target.signer.privateKey),
    ...(target.newKey ? { new_key_signature: sign(purpose, data, target.newKey.privateKey) } : {}),
  };
}

/** Every Master-, instance- and provider-signed write refuses stale and future timestamps, other purposes, and replays. */
export function signedEndpointCases(backend: Backend): void {
  describe(`signed writes on ${backend.name}: time, purpose and replay`, { skip: backend.skip }, () => {
    let registry: RegistryHandle;
    let dev: Developer;
    let appId: string;
    let provider: Provider;
    let targets: Target[];

    before(async () => {
      registry = await backend.start();
      ({ dev, appId } = await developerWithApp(registry));
      provider = await listedProvider(registry);
      const [a, b, c] = [
        await boundInstance(registry, dev, appId, provider),
        await boundInstance(registry, dev, appId, provider),
        await boundInstance(registry, dev, appId, provider),
      ];
      const { dev: rotating } = await developerWithApp(registry);
      const { dev: recovering } = await developerWithApp(registry);
      const nextInstance = generateSigningKey();
      const nextMaster = generateSigningKey();
      const recovered = generateSigningKey();
      const s = (id: string) => `/v1/apps/${appId}/services/${id}`;
      targets = [
        {
          name: 'app registration',
          method: 'POST',
          path: '/v1/apps',
          purpose: 'app',
          signer: dev.master,
          data: (t) => ({ owner_namespace: dev.namespace, project_slug: 'again', display_name: 'Again', timestamp: t, nonce: newNonce() }),
          replay: 'nonce_reused',
        },
        {
          name: 'backbone update',
          method: 'PATCH',
          path: `/v1/apps/${appId}/operational-context`,
          purpose: 'backbone_update',
          signer: dev.master,
          data: (t) => ({ app_id: appId, operational_context: {}, timestamp: t, nonce: newNonce(), context: 'backbone_update' }),
          replay: 'nonce_reused',
        },
        {
          name: 'app display data',
          method: 'PATCH',
          path: `/v1/apps/${appId}`,
          purpose: 'app_update',
          signer: dev.master,
          data: (t) => ({ app_id: appId, display_name: 'Renamed', timestamp: t, nonce: newNonce(), context: 'app_update' }),
          replay: 'nonce_reused',
        },
        {
          name: 'heartbeat',
          method: 'POST',
          path: `${s(a.serviceId)}/heartbeat`,
          purpose: 'service_call',
          signer: a.instanceKey,
          data: (t) => ({ app_id: appId, service_id: a.serviceId, timestamp: t, nonce: newNonce(), status: 'degraded' }),
          replay: 'nonce_reused',
        },
        {
          name: 'instance key rotation',
          method: 'POST',
          path: `${s(b.serviceId)}/key`,
          purpose: 'key_rotation',
          signer: b.instanceKey,
          newKey: nextInstance,
          timeField: 'rotation_timestamp',
          data: (t) => ({
            app_id: appId,
            service_id: b.serviceId,
            new_public_key: nextInstance.publicKey,
            rotation_timestamp: t,
            nonce: newNonce(),
            context: 'key_rotation',
          }),
          replay: 'nonce_reused',
        },
        {
          name: 'decommission',
          method: 'POST',
          path: `${s(c.serviceId)}/decommission`,
          purpose: 'decommission',
          signer: dev.master,
          data: (t) => ({ app_id: appId, service_id: c.serviceId, timestamp: t, nonce: newNonce(), context: 'decommission' }),
          replay: 'nonce_reused',
        },
        {
          name: 'catalog update',
          method: 'PUT',
          path: `/v1/catalog/${provider.name}`,
          purpose: 'offer',
          signer: provider.key,
          headers: bearer(registry.adminToken),
          data: (t) => ({
            service_type: provider.serviceType,
            provider: provider.name,
            provision_url: 'http://127.0.0.1:9/v1/instances',
            events_url: provider.eventsUrl,
            public_key: provider.key.publicKey,
            tiers: [{ name: 'free', storage_limit_gb_max: 1, storage_limit_gb_default: 1 }],
            regions: ['local'],
            description: 'updated',
            timestamp: t,
            nonce: newNonce(),
          }),
          replay: 'nonce_reused',
        },
        {
          name: 'Master key rotation',
          method: 'POST',
          path: `/v1/namespaces/${rotating.namespace}/master-key`,
          purpose: 'master_key_rotation',
          signer: rotating.master,
          newKey: nextMaster,
          data: (t) => ({
            namespace: rotating.namespace,
            new_master_public_key: nextMaster.publicKey,
            timestamp: t,
            nonce: newNonce(),
            context: 'master_key_rotation',
          }),
          replay: 'nonce_reused',
        },
        {
          name: 'identity recovery',
          method: 'POST',
          path: `/v1/namespaces/${recovering.namespace}/recovery`,
          purpose: 'identity_recovery',
          signer: recovering.guardians[0]!,
          data: (t) => ({
            namespace: recovering.namespace,
            new_master_public_key: recovered.publicKey,
            timestamp: t,
            nonce: newNonce(),
            context: 'identity_recovery',
          }),
          replay: 'nonce_reused',
        },
      ];
    });
    after(async () => {
      await registry?.close();
      await backend.cleanup();
    });

    it('refuses stale and far-future timestamps, signatures for another purpose, and replays', async () => {
      for (const target of targets) {
        const send = (body: unknown) => call(target.method, `${registry.url}${target.path}`, body, target.headers);
        const codeOf = async (body: unknown) => (await send(body)).body?.error?.code;
        assert.equal(await codeOf(envelope(target, nowSeconds() - 330)), 'stale_timestamp', `${target.name}: stale`);
        assert.equal(await codeOf(envelope(target, nowSeconds() + 330)), 'stale_timestamp', `${target.name}: future`);
        assert.equal(await codeOf(envelope(target, nowSeconds(), 'broadcast')), 'invalid_signature', `${target.name}: purpose`);
        const accepted = envelope(target, nowSeconds());
        const first = await send(accepted);
        assert.ok(first.status === 200 || first.status === 201, `${target.name}: ${JSON.stringify(first.body)}`);
        const replay = await send(accepted);
        assert.equal(replay.body?.error?.code, target.replay, `${target.name}: replay`);
      }
    });
  });
}
