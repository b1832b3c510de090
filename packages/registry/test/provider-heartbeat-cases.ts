import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@swarm/dev-env';
import { generateSigningKey, MAX_PROVIDER_BEATS, newNonce, nowSeconds, type SigningKey, signEnvelope } from '@swarm/protocol';
import fc from 'fast-check';
import type { RegistryHandle } from '../src/index.js';
import {
  appManifest,
  type Backend,
  boundInstance,
  type Developer,
  developerWithApp,
  get,
  listedProvider,
  makeProvider,
  type Provider,
  post,
  serviceCall,
} from './helpers.js';

type Beat = { app_id: string; service_id: string; status: 'ok' | 'degraded' };

/** Batched liveness (docs/PROTOCOL.md, "Provider heartbeats") against each backend. */
export function providerHeartbeatCases(backendOf: () => Backend): void {
  const backend = backendOf();
  describe(`provider heartbeats on ${backend.name}`, { skip: backend.skip }, () => {
    let registry: RegistryHandle;
    let url: string;
    let dev: Developer;
    let appA: string;
    let appB: string;
    let provider: Provider;
    let rival: Provider;

    before(async () => {
      registry = await backend.start({ heartbeatIntervalSeconds: 1 });
      url = registry.url;
      ({ dev, appId: appA } = await developerWithApp(registry));
      appB = (await post(`${url}/v1/apps`, appManifest(dev, 'second_app'))).body.app_id;
      provider = await listedProvider(registry, makeProvider('cms-article'));
      rival = await listedProvider(registry, makeProvider('cms-article'));
    });
    after(async () => {
      await registry?.close();
      await backend.cleanup();
    });

    const batch = (beats: Beat[], options: { key?: SigningKey; name?: string; timestamp?: number; nonce?: string } = {}) =>
      signEnvelope(
        'provider_heartbeat',
        {
          provider: options.name ?? provider.name,
          timestamp: options.timestamp ?? nowSeconds(),
          nonce: options.nonce ?? newNonce(),
          beats,
        },
        (options.key ?? provider.key).privateKey,
      );
    const send = (body: unknown, name = provider.name) => post(`${url}/v1/providers/${name}/heartbeats`, body);
    const healthOf = async (appId: string, serviceId: string) =>
      (await get(`${url}/v1/apps/${appId}/services`)).body.records.find((r: { service_id: string }) => r.service_id === serviceId)?.health;
    const beatOf = (appId: string, serviceId: string): Beat => ({ app_id: appId, service_id: serviceId, status: 'ok' });

    it('takes one signature for instances of several apps, each answered with its epoch, through the same transitions', async () => {
      const one = await boundInstance(registry, dev, appA, provider);
      const two = await boundInstance(registry, dev, appB, provider);
      const answer = await send(batch([beatOf(appA, one.serviceId), { ...beatOf(appB, two.serviceId), status: 'degraded' }]));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const epochA = (await get(`${url}/v1/apps/${appA}`)).body.config_epoch;
      assert.deepEqual(answer.body.results, [
        { app_id: appA, service_id: one.serviceId, config_epoch: epochA },
        { app_id: appB, service_id: two.serviceId, config_epoch: (await get(`${url}/v1/apps/${appB}`)).body.config_epoch },
      ]);
      assert.equal(await healthOf(appA, one.serviceId), 'healthy');
      // Three missed intervals: unhealthy, as with per-instance beats.
      await new Promise((resolve) => setTimeout(resolve, 4100));
      assert.equal(await healthOf(appA, one.serviceId), 'unhealthy');
      assert.equal(await healthOf(appB, two.serviceId), 'unhealthy');
      // Back on the next batch, at once.
      assert.equal((await send(batch([beatOf(appA, one.serviceId)]))).status, 200);
      assert.equal(await healthOf(appA, one.serviceId), 'healthy');
      assert.equal(await healthOf(appB, two.serviceId), 'unhealthy', 'only the instances the batch names');
      // And a per-instance beat still counts for a provider that does not batch.
      assert.equal(
        (
          await post(
            `${url}/v1/apps/${appB}/services/${two.serviceId}/heartbeat`,
            serviceCall(appB, two.serviceId, two.instanceKey, { status: 'ok' }),
          )
        ).status,
        200,
      );
      assert.equal(await healthOf(appB, two.serviceId), 'healthy');
    });

    it("refuses, entry by entry, another provider's instance, its own under the wrong app and one that does not exist", async () => {
      const own = await boundInstance(registry, dev, appA, provider);
      const theirs = await boundInstance(registry, dev, appA, rival);
      await new Promise((resolve) => setTimeout(resolve, 4100));
      assert.equal(await healthOf(appA, theirs.serviceId), 'unhealthy');
      const answer = await send(
        batch([
          beatOf(appA, theirs.serviceId),
          beatOf(appA, own.serviceId),
          beatOf(appB, own.serviceId),
          beatOf(appA, 'cms-article-ghost'),
        ]),
      );
      assert.equal(answer.status, 200);
      const codes = answer.body.results.map((r: { error?: { code: string } }) => r.error?.code ?? 'taken');
      assert.deepEqual(codes, ['forbidden', 'taken', 'forbidden', 'forbidden']);
      assert.equal(await healthOf(appA, theirs.serviceId), 'unhealthy', "the rival's instance was not kept alive");
      assert.equal(await healthOf(appA, own.serviceId), 'healthy');
      // The rival's own batch for it is taken.
      const rivalBatch = signEnvelope(
        'provider_heartbeat',
        { provider: rival.name, timestamp: nowSeconds(), nonce: newNonce(), beats: [beatOf(appA, theirs.serviceId)] },
        rival.key.privateKey,
      );
      assert.equal((await send(rivalBatch, rival.name)).body.results[0].config_epoch >= 0, true);
    });

    it('refuses a forged, stale, replayed or misaddressed batch as a whole, with the SPEC code', async () => {
      const own = await boundInstance(registry, dev, appA, provider);
      const beats = [beatOf(appA, own.serviceId)];
      const codeOf = async (body: unknown, name?: string) => {
        const answer = await send(body, name);
        return `${answer.status} ${answer.body.error?.code}`;
      };
      assert.equal(await codeOf(batch(beats, { key: generateSigningKey() })), '401 invalid_signature');
      assert.equal(await codeOf(batch(beats, { key: rival.key })), '401 invalid_signature', "signed by another provider's key");
      assert.equal(await codeOf(batch(beats, { name: 'nobody.cms.test' }), 'nobody.cms.test'), '401 invalid_signature');
      assert.equal(await codeOf(batch(beats, { timestamp: nowSeconds() - 3600 })), '401 stale_timestamp');
      assert.equal(await codeOf(batch(beats), rival.name), '400 invalid_request', 'path and data name different providers');
      assert.equal(await codeOf(batch([...beats, ...beats])), '400 invalid_request', 'an instance listed twice');
      const many = Array.from({ length: MAX_PROVIDER_BEATS + 1 }, (_, i) => beatOf(appA, `cms-article-${i}`));
      assert.match(await codeOf(batch(many)), /^(400 invalid_request|413 payload_too_large)$/);
      assert.equal(await codeOf(batch([])), '400 invalid_request');
      const offerSigned = signEnvelope(
        'offer',
        { provider: provider.name, timestamp: nowSeconds(), nonce: newNonce(), beats },
        provider.key.privateKey,
      );
      assert.equal(await codeOf(offerSigned), '401 invalid_signature', 'a signature for another purpose');
      const once = batch(beats);
      assert.equal((await send(once)).status, 200);
      assert.equal(await codeOf(once), '409 nonce_reused');
      const forgedFirst = batch(beats, { key: generateSigningKey(), nonce: 'burn-this-nonce' });
      assert.equal(await codeOf(forgedFirst), '401 invalid_signature');
      assert.equal((await send(batch(beats, { nonce: 'burn-this-nonce' }))).status, 200, 'a forger burns no nonce');
    });

    it('answers any malformed body with a 4xx SPEC code, never a 500 (property)', async () => {
      const own = await boundInstance(registry, dev, appA, provider);
      const valid = () => batch([beatOf(appA, own.serviceId)]) as unknown as Record<string, unknown>;
      const mutations = fc.oneof(
        fc.jsonValue(),
        fc.record({ version: fc.string(), data: fc.jsonValue(), signature: fc.string() }),
        fc.tuple(fc.constantFrom('provider', 'timestamp', 'nonce', 'beats', 'extra'), fc.jsonValue()).map(([field, value]) => {
          const body = valid();
          (body.data as Record<string, unknown>)[field] = value;
          return body;
        }),
      );
      await fc.assert(
        fc.asyncProperty(mutations, async (body) => {
          const answer = await send(body);
          assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${JSON.stringify(answer.body)}`);
          assert.equal(typeof answer.body.error?.code, 'string');
        }),
        { numRuns: 60 },
      );
    });
  });

  const memory = backendOf();
  describe(`provider heartbeats taken from memory on ${memory.name}`, { skip: memory.skip }, () => {
    let registry: RegistryHandle;
    let other: RegistryHandle;
    let dev: Developer;
    let appId: string;
    let provider: Provider;
    let rival: Provider;

    before(async () => {
      // Rows merely due every 6 intervals (the default but for PostgreSQL without Redis): beats live in memory.
      registry = await memory.start({ heartbeatIntervalSeconds: 5, persistBeatsEveryIntervals: 6 });
      // A second registry on the same database: its changes are made elsewhere (another SQLite
      // connection, another PostgreSQL replica announcing on the change channel).
      other = await memory.start({ ...memory.shared(), heartbeatIntervalSeconds: 5, persistBeatsEveryIntervals: 6 });
      ({ dev, appId } = await developerWithApp(registry));
      provider = await listedProvider(registry, makeProvider('cms-article'));
      rival = await listedProvider(registry, makeProvider('cms-article'));
    });
    after(async () => {
      await other?.close();
      await registry?.close();
      await memory.cleanup();
    });

    const send = (by: Provider, serviceIds: string[]) =>
      post(
        `${registry.url}/v1/providers/${by.name}/heartbeats`,
        signEnvelope(
          'provider_heartbeat',
          {
            provider: by.name,
            timestamp: nowSeconds(),
            nonce: newNonce(),
            beats: serviceIds.map((serviceId) => ({ app_id: appId, service_id: serviceId, status: 'ok' })),
          },
          by.key.privateKey,
        ),
      );
    const codes = async (by: Provider, serviceIds: string[]) =>
      (await send(by, serviceIds)).body.results.map((r: { error?: { code: string } }) => r.error?.code ?? 'taken');
    const decommission = (at: RegistryHandle, serviceId: string) =>
      post(
        `${at.url}/v1/apps/${appId}/services/${serviceId}/decommission`,
        signEnvelope(
          'decommission',
          { app_id: appId, service_id: serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
          dev.master.privateKey,
        ),
      );

    it("takes a known instance's beats from memory, but never one of another provider, a revoked one or one revoked elsewhere", async () => {
      const one = await boundInstance(registry, dev, appId, provider);
      const two = await boundInstance(registry, dev, appId, provider);
      const theirs = await boundInstance(registry, dev, appId, rival);
      const liveness = registry.internals.liveness;
      assert.deepEqual(await codes(provider, [one.serviceId, two.serviceId]), ['taken', 'taken']);
      assert.deepEqual(await codes(rival, [theirs.serviceId]), ['taken']);
      const before = liveness.renewals;
      assert.deepEqual(await codes(provider, [one.serviceId, two.serviceId]), ['taken', 'taken']);
      assert.equal(liveness.renewals - before, 2, 'both taken from memory');
      // The rival's instance sits in memory, healthy: still not this provider's.
      assert.deepEqual(await codes(provider, [theirs.serviceId]), ['forbidden']);

      assert.equal((await decommission(registry, one.serviceId)).status, 200);
      assert.deepEqual(await codes(provider, [one.serviceId, two.serviceId]), ['forbidden', 'taken'], 'revoked here');

      assert.equal((await decommission(other, two.serviceId)).status, 200);
      // SQLite: the data version moved, read at the next batch. PostgreSQL: heard on the change channel, within moments.
      await eventually(
        'the beat refused at this registry',
        async () => ((await codes(provider, [two.serviceId]))[0] === 'forbidden' ? true : undefined),
        3000,
      );
      const listed = (await get(`${registry.url}/v1/apps/${appId}/services`)).body.records.map((r: { service_id: string }) => r.service_id);
      assert.deepEqual(listed, [theirs.serviceId]);
    });
  });
}
