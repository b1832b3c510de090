import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance } from '@swarm/dev-env';
import { answerGzipBomb, peakArrayBuffers, startCountingServer } from '@swarm/runtime/testing';
import { startNotes, startTestRegistry, tempDir } from './helpers.js';

describe('egress policy of the service kit (report delivery)', () => {
  const dir = tempDir('kit-egress');
  const running: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const part of running.reverse()) await part.close().catch(() => {});
    dir.remove();
  });

  it('sends no report to a loopback Billing or Logging when its policy refuses loopback', async () => {
    const receiver = await startCountingServer();
    running.push(receiver);
    const registry = await startTestRegistry(join(dir.path, 'registry-a'), {
      defaultBillingUrl: receiver.url,
      defaultLoggingUrl: receiver.url,
    });
    running.push(registry);
    // The registry is the operator's: binding and heartbeats reach it on loopback all the same.
    const strict = await startNotes(registry, join(dir.path, 'strict'), { egress: {}, reportFlushSeconds: 3600 });
    running.push(strict);
    const open = await startNotes(registry, join(dir.path, 'open'), { provider: 'open-notes.kit.local', reportFlushSeconds: 3600 });
    running.push(open);
    for (const service of [strict, open]) await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const token = await developer.token();
    for (const service of [strict, open]) {
      const instance = await provisionInstance(service, developer);
      assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    }

    await open.flushReports();
    assert.ok(receiver.requests.length > 0, 'the allowed service reports to the same receiver');
    const before = receiver.connections;
    await strict.flushReports();
    await strict.flushReports();
    assert.equal(receiver.connections, before);
  });

  it('keeps its memory and keeps answering while Billing answers a gzip bomb', async () => {
    // ~260 KB on the wire, 256 MiB inflated.
    const bomber = await startCountingServer(answerGzipBomb(256));
    running.push(bomber);
    const registry = await startTestRegistry(join(dir.path, 'registry-b'), {
      defaultBillingUrl: bomber.url,
      defaultLoggingUrl: bomber.url,
    });
    running.push(registry);
    const service = await startNotes(registry, join(dir.path, 'bombed'), { reportFlushSeconds: 3600 });
    running.push(service);
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    const token = await developer.token();

    const before = process.memoryUsage();
    const peak = await peakArrayBuffers(async () => {
      for (let i = 0; i < 4; i++) {
        assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
        await service.flushReports();
      }
    });
    const during = process.memoryUsage().rss;
    // The lane backs off after the first 500s, so the bomb is asked at least once, not four times.
    assert.ok(bomber.requests.length >= 1, `the bomb was answered ${bomber.requests.length} times`);
    assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    // One inflated answer alone would be 256 MiB.
    assert.ok(during - before.rss < 96 * 1024 * 1024, `rss grew by ${Math.round((during - before.rss) / 1048576)} MiB`);
    // An acknowledgement is read up to a few KB: no inflated megabytes are ever held.
    const held = peak - before.arrayBuffers;
    assert.ok(held < 4 * 1024 * 1024, `response buffers peaked ${Math.round(held / 1048576)} MiB above the start`);
  });
});
