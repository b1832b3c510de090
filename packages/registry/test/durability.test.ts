import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateSigningKey, newNonce, nowSeconds, privateKeyToPem, signEnvelope, verify } from '@swarm/protocol';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import { startRegistry } from '../src/index.js';
import { boundInstance, developerWithApp, get, listedProvider, makeProvider, post } from './helpers.js';
import { BroadcastReceiver } from './receiver.js';

describe('durability (SQLite file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-registry-durable-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps its key, admin token and data across restarts, and delivers queued broadcasts after one', async () => {
    const receiver = await new BroadcastReceiver().start();
    receiver.failNext = 1_000_000;
    const options = {
      dataDir: dir,
      dnsPort: false as const,
      logLevel: false as const,
      broadcastRetry: { initialMs: 20, maxMs: 50, pollMs: 30 },
      egress: { allow: LOOPBACK_CIDRS },
    };
    const first = await startRegistry({ ...options, defaultBillingUrl: `${receiver.url}/billing` });
    receiver.trust(first.authority, first.url, first.publicKey);
    const { dev, appId } = await developerWithApp(first);
    const provider = await listedProvider(first, makeProvider('cms-article', `${receiver.url}/provider/v1/events`));
    const bound = await boundInstance(first, dev, appId, provider);
    const kill = signEnvelope(
      'decommission',
      { app_id: appId, service_id: bound.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
      dev.master.privateKey,
    );
    assert.equal((await post(`${first.url}/v1/apps/${appId}/services/${bound.serviceId}/decommission`, kill)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(receiver.refused.length > 0);
    assert.equal(receiver.deliveries.length, 0);
    await first.close();

    receiver.failNext = 0;
    const second = await startRegistry(options);
    try {
      assert.equal(second.publicKey, first.publicKey);
      assert.equal(second.adminToken, first.adminToken);
      assert.equal((await get(`${second.url}/v1/apps/${appId}`)).body.app_id, appId);
      const list = await receiver.waitFor(
        (l) => l.some((d) => d.path === '/provider/v1/events') && l.some((d) => d.path === '/billing/v1/events'),
      );
      assert.ok(list.every((d) => d.data.event === 'SERVICE_REVOKED'));
    } finally {
      await second.close();
      await receiver.close();
    }
  });

  it('signs with the key from registryKeyFile when given, and uses a given admin token', async () => {
    const key = generateSigningKey();
    const file = join(dir, 'registry-key.pem');
    writeFileSync(file, privateKeyToPem(key.privateKey), { mode: 0o600 });
    const registry = await startRegistry({
      databaseFile: join(dir, 'other.db'),
      registryKeyFile: file,
      adminToken: 'admin-1',
      dnsPort: false,
      logLevel: false,
    });
    try {
      assert.equal(registry.publicKey, key.publicKey);
      assert.equal(registry.adminToken, 'admin-1');
      const { dev, appId } = await developerWithApp(registry);
      const provider = await listedProvider(registry);
      const bound = await boundInstance(registry, dev, appId, provider);
      assert.ok(verify('operational_context', bound.answer.operational_context, bound.answer.context_signature, key.publicKey));
    } finally {
      await registry.close();
    }
  });
});
