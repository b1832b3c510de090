import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newNonce, nowSeconds, type SigningKey, signEnvelope } from '@swarm/protocol';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import { answerGzipBomb, type CountingServer, peakArrayBuffers, startCountingServer } from '@swarm/runtime/testing';
import type { RegistryHandle } from '../src/index.js';
import {
  boundInstance,
  call,
  type Developer,
  developerWithApp,
  get,
  listedProvider,
  makeProvider,
  post,
  sqliteBackend,
} from './helpers.js';

const retry = { initialMs: 20, maxMs: 100, pollMs: 20 };

function backboneUpdate(dev: Developer, appId: string, operationalContext: Record<string, unknown>) {
  return signEnvelope(
    'backbone_update',
    { app_id: appId, operational_context: operationalContext, timestamp: nowSeconds(), nonce: newNonce(), context: 'backbone_update' },
    dev.master.privateKey,
  );
}

function delegation(master: SigningKey, appId: string, authProviderUrl: string) {
  return signEnvelope(
    'delegate_authority',
    {
      action: 'DELEGATE_AUTHORITY',
      app_id: appId,
      auth_public_key: master.publicKey,
      auth_provider_url: authProviderUrl,
      timestamp: nowSeconds(),
      nonce: newNonce(),
    },
    master.privateKey,
  );
}

/** Revokes a bound instance: SERVICE_REVOKED goes to the app's backbone and to the provider's events URL. */
async function revoke(registry: RegistryHandle, dev: Developer, appId: string, serviceId: string): Promise<void> {
  const kill = signEnvelope(
    'decommission',
    { app_id: appId, service_id: serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
    dev.master.privateKey,
  );
  assert.equal((await post(`${registry.url}/v1/apps/${appId}/services/${serviceId}/decommission`, kill)).status, 200);
}

async function until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('egress policy of the registry (tenant-chosen URLs)', () => {
  // One database each: registries on one database would deliver each other's broadcasts.
  const backends = [sqliteBackend(), sqliteBackend()];
  const listeners: CountingServer[] = [];
  const registries: RegistryHandle[] = [];
  const listen = async (answer?: Parameters<typeof startCountingServer>[0]) => {
    const listener = await startCountingServer(answer);
    listeners.push(listener);
    return listener;
  };
  after(async () => {
    for (const registry of registries) await registry.close().catch(() => {});
    for (const listener of listeners) await listener.close();
    for (const backend of backends) await backend.cleanup();
  });

  describe('a registry that refuses internal addresses (the default)', () => {
    let registry: RegistryHandle;
    let operator: CountingServer;
    before(async () => {
      operator = await listen();
      // The default Billing is the operator's own choice: it is sent to although it is on loopback.
      registry = await backends[0]!.start({ egress: undefined, defaultBillingUrl: operator.url, broadcastRetry: retry });
      registries.push(registry);
    });

    it('refuses internal backbone URLs when the owner sets them, naming the rule', async () => {
      const { dev, appId } = await developerWithApp(registry);
      const patch = (context: Record<string, unknown>) =>
        call('PATCH', `${registry.url}/v1/apps/${appId}/operational-context`, backboneUpdate(dev, appId, context));
      const refused: Array<[string, RegExp]> = [
        ['http://127.0.0.1:7402', /loopback 127\.0\.0\.0\/8/],
        ['http://169.254.169.254/latest/meta-data', /link-local 169\.254\.0\.0\/16/],
        ['http://10.1.2.3', /private 10\.0\.0\.0\/8/],
        ['http://192.168.0.10:8080', /private 192\.168\.0\.0\/16/],
        ['http://100.64.0.1', /CGNAT/],
        ['http://[fd00::1]', /unique local fc00::\/7/],
        ['http://[fe80::1]', /link-local fe80::\/10/],
        ['http://[::ffff:127.0.0.1]', /loopback 127\.0\.0\.0\/8/],
        ['http://[::1]:7402', /loopback ::1\/128/],
        ['http://0.0.0.0:7402', /unspecified/],
        ['http://0x7f.1', /loopback/],
        ['http://localhost:7402', /localhost is loopback/],
        ['http://224.0.0.1', /multicast/],
      ];
      for (const [url, rule] of refused) {
        const answer = await patch({ billing_provider_url: url });
        assert.equal(answer.status, 400, url);
        assert.equal(answer.body.error.code, 'invalid_request', url);
        assert.match(answer.body.error.message, /billing_provider_url/, url);
        assert.match(answer.body.error.message, rule, url);
      }
      const logging = await patch({ logging_service_url: 'http://172.16.5.5' });
      assert.match(logging.body.error.message, /logging_service_url .*private 172\.16\.0\.0\/12/);
      // Nothing refused was saved: the context still has the operator's Billing.
      assert.equal((await get(`${registry.url}/v1/apps/${appId}`)).body.config_epoch, 1);
      const fine = await patch({ billing_provider_url: 'https://billing.example', logging_service_url: 'http://93.184.215.14' });
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
    });

    it('refuses an internal auth provider URL when the owner delegates', async () => {
      const { dev, appId } = await developerWithApp(registry);
      const answer = await post(`${registry.url}/v1/apps/${appId}/auth`, delegation(dev.master, appId, 'http://169.254.169.254/'));
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.code, 'invalid_request');
      assert.match(answer.body.error.message, /auth_provider_url .*link-local/);
    });

    it('sends no broadcast to a loopback receiver, by address or by a name that resolves to it', async () => {
      const byAddress = await listen();
      const byName = await listen();
      const byNameUrl = byName.url.replace('127.0.0.1', 'localhost');
      const { dev, appId } = await developerWithApp(registry);
      for (const eventsUrl of [`${byAddress.url}/v1/events`, `${byNameUrl}/v1/events`]) {
        const provider = await listedProvider(registry, makeProvider('cms-article', eventsUrl));
        const bound = await boundInstance(registry, dev, appId, provider);
        await revoke(registry, dev, appId, bound.serviceId);
      }
      // The operator's Billing hears both revocations: delivery ran, and kept retrying the others.
      await until('the operator billing to hear both revocations', () => operator.requests.length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(byAddress.connections, 0);
      assert.equal(byName.connections, 0);
    });
  });

  describe('a registry that allows loopback', () => {
    let registry: RegistryHandle;
    before(async () => {
      registry = await backends[1]!.start({ egress: { allow: LOOPBACK_CIDRS }, broadcastRetry: retry });
      registries.push(registry);
    });

    it('does not follow a redirect to an internal URL', async () => {
      const internal = await listen();
      const redirecting = await listen((_request, response) => response.writeHead(302, { location: `${internal.url}/admin` }).end());
      const { dev, appId } = await developerWithApp(registry);
      const provider = await listedProvider(registry, makeProvider('cms-article', `${redirecting.url}/v1/events`));
      const bound = await boundInstance(registry, dev, appId, provider);
      await revoke(registry, dev, appId, bound.serviceId);
      await until('the redirecting receiver to be tried twice', () => redirecting.requests.length >= 2);
      assert.ok(redirecting.requests.every((request) => request === 'POST /v1/events'));
      assert.equal(internal.connections, 0);
    });

    it('keeps its memory and keeps answering while a receiver answers a gzip bomb', async () => {
      // ~260 KB on the wire, 256 MiB inflated.
      const bomber = await listen(answerGzipBomb(256));
      const { dev, appId } = await developerWithApp(registry);
      const patched = await call(
        'PATCH',
        `${registry.url}/v1/apps/${appId}/operational-context`,
        backboneUpdate(dev, appId, { billing_provider_url: bomber.url, logging_service_url: bomber.url }),
      );
      assert.equal(patched.status, 200);
      const before = process.memoryUsage();
      const peak = await peakArrayBuffers(() => until('several bombs to be answered', () => bomber.requests.length >= 6));
      const during = process.memoryUsage().rss;
      const answered = await get(`${registry.url}/.well-known/swarm-registry`);
      assert.equal(answered.status, 200);
      // One inflated answer alone would be 256 MiB; reading the whole body even once shows here.
      assert.ok(during - before.rss < 96 * 1024 * 1024, `rss grew by ${Math.round((during - before.rss) / 1048576)} MiB`);
      // An acknowledgement is read up to a few KB: no inflated megabytes are ever held.
      const held = peak - before.arrayBuffers;
      assert.ok(held < 4 * 1024 * 1024, `response buffers peaked ${Math.round(held / 1048576)} MiB above the start`);
    });
  });
});
