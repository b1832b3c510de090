import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, type SigningKey, sign, signEnvelope, verifyAuditChain } from '@swarm/protocol';
import type { RegistryHandle } from '../src/index.js';
import {
  appManifest,
  type Backend,
  boundInstance,
  call,
  type Developer,
  developerWithApp,
  get,
  listedProvider,
  makeProvider,
  type Provider,
  post,
  serviceCall,
} from './helpers.js';
import { BroadcastReceiver, type Delivery } from './receiver.js';

const has = (event: string, path: string) => (list: Delivery[]) => list.some((d) => d.data.event === event && d.path === path);

/** Life and exit (SPEC §9.2, §9.4, §10, §11) with a real broadcast receiver, against each backend. */
export function lifeCases(backend: Backend): void {
  describe(`life and exit on ${backend.name}`, { skip: backend.skip }, () => {
    let registry: RegistryHandle;
    let url: string;
    let receiver: BroadcastReceiver;
    let dev: Developer;
    let appId: string;
    let provider: Provider;

    before(async () => {
      receiver = await new BroadcastReceiver().start();
      registry = await backend.start({
        heartbeatIntervalSeconds: 1,
        defaultBillingUrl: `${receiver.url}/billing`,
        defaultLoggingUrl: `${receiver.url}/logging`,
        broadcastRetry: { initialMs: 20, maxMs: 100, pollMs: 50 },
      });
      url = registry.url;
      receiver.trust(registry.authority, url, registry.publicKey);
      ({ dev, appId } = await developerWithApp(registry));
      provider = await listedProvider(registry, makeProvider('cms-article', `${receiver.url}/provider/v1/events`));
    });
    after(async () => {
      await registry?.close();
      await receiver?.close();
      await backend.cleanup();
    });

    const heartbeat = (serviceId: string, key: SigningKey, extra: Record<string, unknown> = {}) =>
      post(`${url}/v1/apps/${appId}/services/${serviceId}/heartbeat`, serviceCall(appId, serviceId, key, { status: 'ok', ...extra }));
    const record = async (serviceId: string) =>
      (await get(`${url}/v1/apps/${appId}/services`)).body.records.find((r: { service_id: string }) => r.service_id === serviceId);

    it('broadcasts BACKBONE_UPDATE to auth, billing and logging on auth delegation', async () => {
      const delegation = signEnvelope(
        'delegate_authority',
        {
          action: 'DELEGATE_AUTHORITY',
          app_id: appId,
          auth_public_key: generateSigningKey().publicKey,
          auth_provider_url: `${receiver.url}/auth/apps/${appId}`,
          timestamp: nowSeconds(),
          nonce: newNonce(),
        },
        dev.master.privateKey,
      );
      const answer = await post(`${url}/v1/apps/${appId}/auth`, delegation);
      assert.equal(answer.status, 200);
      // A change that queued broadcasts gives them their first attempt before it answers.
      assert.ok(has('BACKBONE_UPDATE', `/auth/apps/${appId}/v1/events`)(receiver.deliveries), 'delivered before the answer');
      const list = await receiver.waitFor(
        (l) =>
          has('BACKBONE_UPDATE', `/auth/apps/${appId}/v1/events`)(l) &&
          has('BACKBONE_UPDATE', '/billing/v1/events')(l) &&
          has('BACKBONE_UPDATE', '/logging/v1/events')(l),
      );
      const event = list.find((d) => d.path === '/billing/v1/events')!.data;
      assert.equal(event.origin, 'swarm.local');
      assert.equal(event.app_id, appId);
      assert.equal((event as { config_epoch: number }).config_epoch, answer.body.config_epoch);
    });

    it('takes heartbeats, answers config_epoch, marks missed ones unhealthy and back', async () => {
      const bound = await boundInstance(registry, dev, appId, provider);
      const beat = await heartbeat(bound.serviceId, bound.instanceKey);
      assert.equal(beat.status, 200);
      assert.equal(typeof beat.body.config_epoch, 'number');
      assert.equal((await heartbeat(bound.serviceId, generateSigningKey())).body.error.code, 'invalid_signature');
      const unknown = await post(
        `${url}/v1/apps/${appId}/services/cms-article-ghost/heartbeat`,
        serviceCall(appId, 'cms-article-ghost', bound.instanceKey),
      );
      assert.deepEqual([unknown.status, unknown.body.error.code], [403, 'forbidden']);
      assert.equal((await heartbeat(bound.serviceId, bound.instanceKey, { status: 'sleepy' })).body.error.code, 'invalid_request');
      assert.equal((await record(bound.serviceId)).health, 'healthy');
      await new Promise((resolve) => setTimeout(resolve, 4100));
      assert.equal((await record(bound.serviceId)).health, 'unhealthy');
      assert.equal((await heartbeat(bound.serviceId, bound.instanceKey)).status, 200);
      assert.equal((await record(bound.serviceId)).health, 'healthy');
    });

    it('rotates an instance key: both signatures needed, old key valid in grace, KEY_ROTATION broadcast', async () => {
      const bound = await boundInstance(registry, dev, appId, provider);
      const next = generateSigningKey();
      const path = `${url}/v1/apps/${appId}/services/${bound.serviceId}/key`;
      const rotation = (signer: SigningKey, newSigner: SigningKey, newKey = next.publicKey) => {
        const data = {
          app_id: appId,
          service_id: bound.serviceId,
          new_public_key: newKey,
          rotation_timestamp: nowSeconds(),
          nonce: newNonce(),
          context: 'key_rotation',
        };
        return {
          version: '1.0',
          data,
          signature: sign('key_rotation', data, signer.privateKey),
          new_key_signature: sign('key_rotation', data, newSigner.privateKey),
        };
      };
      assert.equal((await post(path, rotation(next, next))).body.error.code, 'invalid_signature');
      assert.equal((await post(path, rotation(bound.instanceKey, generateSigningKey()))).body.error.code, 'invalid_signature');
      const bad = rotation(bound.instanceKey, next);
      (bad.data as Record<string, unknown>).context = 'decommission';
      assert.equal((await post(path, bad)).body.error.code, 'invalid_request');
      const good = rotation(bound.instanceKey, next);
      const answer = await post(path, good);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.public_key, next.publicKey);
      // Replayed, it is signed by the replaced key: refused as a replay.
      assert.equal((await post(path, good)).body.error.code, 'nonce_reused');
      const listed = await record(bound.serviceId);
      assert.equal(listed.public_key, next.publicKey);
      assert.equal(listed.previous_public_key, bound.instanceKey.publicKey);
      assert.ok(listed.previous_key_expires_at >= nowSeconds() + 299);
      const context = `${url}/v1/apps/${appId}/services/${bound.serviceId}/context`;
      assert.equal((await post(context, serviceCall(appId, bound.serviceId, bound.instanceKey))).status, 200);
      assert.equal((await post(context, serviceCall(appId, bound.serviceId, next))).status, 200);
      // The key in grace cannot rotate again.
      const third = generateSigningKey();
      assert.equal((await post(path, rotation(bound.instanceKey, third, third.publicKey))).body.error.code, 'invalid_signature');
      const list = await receiver.waitFor(
        (l) => has('KEY_ROTATION', '/provider/v1/events')(l) && has('KEY_ROTATION', '/billing/v1/events')(l),
      );
      const event = list.find((d) => d.data.event === 'KEY_ROTATION')!.data as Record<string, unknown>;
      assert.equal(event.service_id, bound.serviceId);
      assert.equal(event.old_public_key, bound.instanceKey.publicKey);
      assert.equal(event.new_public_key, next.publicKey);
    });

    it('updates the backbone: config_epoch grows, contexts follow, old and new billing hear of it', async () => {
      const bound = await boundInstance(registry, dev, appId, provider);
      const before = (await heartbeat(bound.serviceId, bound.instanceKey)).body.config_epoch;
      const update = (key: SigningKey) =>
        signEnvelope(
          'backbone_update',
          {
            app_id: appId,
            operational_context: { billing_provider_url: `${receiver.url}/billing2`, services: { search: 'http://127.0.0.1:9/search' } },
            timestamp: nowSeconds(),
            nonce: newNonce(),
            context: 'backbone_update',
          },
          key.privateKey,
        );
      const patch = (body: unknown) => call('PATCH', `${url}/v1/apps/${appId}/operational-context`, body);
      assert.equal((await patch(update(generateSigningKey()))).body.error.code, 'invalid_signature');
      const answer = await patch(update(dev.master));
      assert.deepEqual(answer.body, { app_id: appId, config_epoch: before + 1 });
      assert.equal((await heartbeat(bound.serviceId, bound.instanceKey)).body.config_epoch, before + 1);
      const context = (
        await post(`${url}/v1/apps/${appId}/services/${bound.serviceId}/context`, serviceCall(appId, bound.serviceId, bound.instanceKey))
      ).body;
      assert.equal(context.operational_context.billing_provider_url, `${receiver.url}/billing2`);
      assert.deepEqual(context.operational_context.services, { search: 'http://127.0.0.1:9/search' });
      await receiver.waitFor(
        (l) => has('BACKBONE_UPDATE', '/billing2/v1/events')(l) && l.filter((d) => d.path === '/billing/v1/events').length >= 2,
      );
    });

    it('decommissions with a verified receipt or in an emergency; SERVICE_REVOKED reaches the provider', async () => {
      const bound = await boundInstance(registry, dev, appId, provider);
      const path = `${url}/v1/apps/${appId}/services/${bound.serviceId}/decommission`;
      const receipt = (key: SigningKey, serviceId = bound.serviceId) =>
        signEnvelope(
          'termination_receipt',
          { app_id: appId, service_id: serviceId, status: 'success', message: 'wiped', receipt_id: 'r-1', timestamp: nowSeconds() },
          key.privateKey,
        );
      const decommission = (key: SigningKey, providerReceipt?: unknown) =>
        signEnvelope(
          'decommission',
          {
            app_id: appId,
            service_id: bound.serviceId,
            timestamp: nowSeconds(),
            nonce: newNonce(),
            context: 'decommission',
            ...(providerReceipt ? { provider_receipt: providerReceipt } : {}),
          },
          key.privateKey,
        );
      assert.equal((await post(path, decommission(generateSigningKey()))).body.error.code, 'invalid_signature');
      assert.equal((await post(path, decommission(dev.master, receipt(generateSigningKey())))).body.error.code, 'invalid_signature');
      assert.equal(
        (await post(path, decommission(dev.master, receipt(bound.instanceKey, 'cms-article-other')))).body.error.code,
        'invalid_request',
      );
      assert.equal((await record(bound.serviceId)).status, 'active');
      const answer = await post(path, decommission(dev.master, receipt(bound.instanceKey)));
      assert.equal(answer.status, 200);
      assert.equal(answer.body.binding.status, 'revoked');
      assert.equal(await record(bound.serviceId), undefined);
      assert.equal((await heartbeat(bound.serviceId, bound.instanceKey)).body.error.code, 'forbidden');
      assert.equal(
        (await post(`${url}/v1/apps/${appId}/services/${bound.serviceId}/context`, serviceCall(appId, bound.serviceId, bound.instanceKey)))
          .status,
        403,
      );
      await receiver.waitFor((l) =>
        l.some(
          (d) =>
            d.data.event === 'SERVICE_REVOKED' &&
            d.path === '/provider/v1/events' &&
            (d.data as { service_id: string }).service_id === bound.serviceId,
        ),
      );

      const emergency = await boundInstance(registry, dev, appId, provider);
      const kill = signEnvelope(
        'decommission',
        { app_id: appId, service_id: emergency.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
        dev.master.privateKey,
      );
      assert.equal((await post(`${url}/v1/apps/${appId}/services/${emergency.serviceId}/decommission`, kill)).status, 200);
      const entries = (await get(`${url}/v1/apps/${appId}/log`)).body.entries;
      assert.equal(entries.at(-1).event, 'service_revoked');
      assert.equal(entries.at(-1).emergency, true);
      assert.deepEqual(verifyAuditChain(entries), { ok: true });
    });

    it('rotates the Master key: the old key is refused from then on; MASTER_KEY_ROTATION broadcast', async () => {
      const { dev: owner, appId: app } = await developerWithApp(registry);
      const next = generateSigningKey();
      const rotation = (signer: SigningKey, newSigner: SigningKey) => {
        const data = {
          namespace: owner.namespace,
          new_master_public_key: next.publicKey,
          timestamp: nowSeconds(),
          nonce: newNonce(),
          context: 'master_key_rotation',
        };
        return {
          version: '1.0',
          data,
          signature: sign('master_key_rotation', data, signer.privateKey),
          new_key_signature: sign('master_key_rotation', data, newSigner.privateKey),
        };
      };
      const path = `${url}/v1/namespaces/${owner.namespace}/master-key`;
      assert.equal((await post(path, rotation(next, next))).body.error.code, 'invalid_signature');
      assert.equal((await post(path, rotation(owner.master, generateSigningKey()))).body.error.code, 'invalid_signature');
      assert.equal((await post(path, rotation(owner.guardians[0]!, next))).body.error.code, 'invalid_signature');
      const answer = await post(path, rotation(owner.master, next));
      assert.equal(answer.status, 200);
      assert.equal(answer.body.public_key, next.publicKey);
      assert.equal((await get(`${url}/v1/apps/${app}/master-key`)).body.public_key, next.publicKey);
      assert.equal((await post(`${url}/v1/apps`, appManifest(owner))).body.error.code, 'invalid_signature');
      assert.equal((await post(`${url}/v1/apps`, appManifest({ ...owner, master: next }))).status, 201);
      const entries = (await get(`${url}/v1/apps/${app}/log`)).body.entries;
      assert.equal(entries.at(-1).event, 'master_key_rotated');
      await receiver.waitFor((l) => l.some((d) => d.data.event === 'MASTER_KEY_ROTATION' && d.data.app_id === app));
    });

    it('recovers with a genesis Guardian key only; MASTER_IDENTITY_RECOVERY broadcast', async () => {
      const { dev: owner, appId: app } = await developerWithApp(registry);
      const next = generateSigningKey();
      const recovery = (signer: SigningKey, newKey = next.publicKey) =>
        signEnvelope(
          'identity_recovery',
          {
            namespace: owner.namespace,
            new_master_public_key: newKey,
            timestamp: nowSeconds(),
            nonce: newNonce(),
            context: 'identity_recovery',
          },
          signer.privateKey,
        );
      const path = `${url}/v1/namespaces/${owner.namespace}/recovery`;
      assert.equal((await post(path, recovery(owner.master))).body.error.code, 'invalid_signature');
      assert.equal((await post(path, recovery(generateSigningKey()))).body.error.code, 'invalid_signature');
      assert.equal((await post(path, recovery(owner.guardians[0]!, owner.guardians[1]!.publicKey))).body.error.code, 'invalid_request');
      const other = `${url}/v1/namespaces/nobody-here/recovery`;
      assert.equal((await post(other, recovery(owner.guardians[0]!))).body.error.code, 'invalid_request');
      const answer = await post(path, recovery(owner.guardians[1]!));
      assert.equal(answer.status, 200);
      assert.equal((await get(`${url}/v1/apps/${app}/master-key`)).body.public_key, next.publicKey);
      await receiver.waitFor((l) => l.some((d) => d.data.event === 'MASTER_IDENTITY_RECOVERY' && d.data.app_id === app));
      const entries = (await get(`${url}/v1/apps/${app}/log`)).body.entries;
      assert.equal(entries.at(-1).event, 'master_identity_recovered');
      assert.equal(entries.at(-1).signed_by, owner.guardians[1]!.publicKey);
    });

    it('retries refused deliveries with backoff until a 2xx', async () => {
      receiver.failNext = 3;
      const bound = await boundInstance(registry, dev, appId, provider);
      const kill = signEnvelope(
        'decommission',
        { app_id: appId, service_id: bound.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
        dev.master.privateKey,
      );
      assert.equal((await post(`${url}/v1/apps/${appId}/services/${bound.serviceId}/decommission`, kill)).status, 200);
      await receiver.waitFor((l) =>
        ['/provider/v1/events', '/billing2/v1/events', '/logging/v1/events'].every((p) =>
          l.some(
            (d) => d.path === p && d.data.event === 'SERVICE_REVOKED' && (d.data as { service_id: string }).service_id === bound.serviceId,
          ),
        ),
      );
      assert.equal(receiver.failNext, 0);
    });
  });
}
