import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { callApi, createTestDeveloper, provisionInstance } from '../src/testing/index.js';
import { startNotes, startTestRegistry, tempDir } from './helpers.js';

/** A report receiver that counts connections and requests and answers with `answer`. */
async function startReceiver(answer: (request: IncomingMessage, response: ServerResponse) => void) {
  const seen = { connections: 0, requests: [] as string[] };
  const server: Server = createServer((request, response) => {
    seen.requests.push(`${request.method} ${request.url}`);
    request.resume();
    request.on('end', () => answer(request, response));
  });
  server.on('connection', () => seen.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The highest `arrayBuffers` (where response bodies live) while `work` runs, sampled every few ms. */
async function peakBuffers(work: () => Promise<void>): Promise<number> {
  let peak = process.memoryUsage().arrayBuffers;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 2);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return peak;
}

describe('egress policy of the service kit (report delivery)', () => {
  const dir = tempDir('kit-egress');
  const running: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const part of running.reverse()) await part.close().catch(() => {});
    dir.remove();
  });

  it('sends no report to a loopback Billing or Logging when its policy refuses loopback', async () => {
    const receiver = await startReceiver((_request, response) => response.writeHead(202).end('{}'));
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
    assert.ok(receiver.seen.requests.length > 0, 'the allowed service reports to the same receiver');
    const before = receiver.seen.connections;
    await strict.flushReports();
    await strict.flushReports();
    assert.equal(receiver.seen.connections, before);
  });

  it('keeps its memory and keeps answering while Billing answers a gzip bomb', async () => {
    // 256 members of 1 MiB of zeros: ~260 KB on the wire, 256 MiB inflated.
    const member = gzipSync(Buffer.alloc(1024 * 1024));
    const bomb = Buffer.concat(Array.from({ length: 256 }, () => member));
    const bomber = await startReceiver((_request, response) => {
      response.writeHead(500, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
      response.end(bomb);
    });
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
    const peak = await peakBuffers(async () => {
      for (let i = 0; i < 4; i++) {
        assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
        await service.flushReports();
      }
    });
    const during = process.memoryUsage().rss;
    assert.ok(bomber.seen.requests.length >= 4, `the bomb was answered ${bomber.seen.requests.length} times`);
    assert.equal((await callApi(`${instance.endpoint_url}/notes`, token)).status, 200);
    // One inflated answer alone would be 256 MiB.
    assert.ok(during - before.rss < 96 * 1024 * 1024, `rss grew by ${Math.round((during - before.rss) / 1048576)} MiB`);
    // An acknowledgement is read up to a few KB: no inflated megabytes are ever held.
    const held = peak - before.arrayBuffers;
    assert.ok(held < 4 * 1024 * 1024, `response buffers peaked ${Math.round(held / 1048576)} MiB above the start`);
  });
});
