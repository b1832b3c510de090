import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance, trustedRegistryOf } from '@swarm/dev-env';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { startCmsArticle } from '../src/index.js';

/** `cache result → value` of swarm_cache_requests_total in a /metrics text. */
function cacheRequests(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const match of text.matchAll(/^swarm_cache_requests_total\{cache="([^"]*)",result="([^"]*)"\} (\d+)$/gm)) {
    found.set(`${match[1]} ${match[2]}`, Number(match[3]));
  }
  return found;
}

/**
 * The kit's per-request caches reach /metrics as swarm_cache_requests_total (docs/OPERATIONS.md):
 * the instance's context, verified user tokens and the article read cache, each by hit and miss,
 * with no label naming an app, an instance or a user.
 */
describe('cache hit counters of a domain service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-cache-metrics-'));
  let registry: RegistryHandle;
  let service: ServiceHandle;

  before(async () => {
    const egress = { allow: LOOPBACK_CIDRS };
    registry = await startRegistry({ port: 0, dataDir: join(dir, 'registry'), dnsPort: false, logLevel: false, egress });
    service = await startCmsArticle({
      port: 0,
      dataDir: join(dir, 'cms'),
      trustedRegistries: [trustedRegistryOf(registry)],
      logLevel: false,
    });
    await service.registerOffer(registry.url, registry.adminToken);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async () => cacheRequests(await (await fetch(`${service.url}/metrics`)).text());

  it('counts hits and misses of the context, verified-token and read caches', async () => {
    const before = await scrape();
    for (const cache of ['context', 'verified_token', 'read']) {
      for (const result of ['hit', 'miss']) assert.ok(before.has(`${cache} ${result}`), `${cache} ${result} is served from the start`);
    }
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer, { service_tier: 'free', region: 'local' });
    const token = await developer.token();
    const created = await callApi(`${instance.endpoint_url}/articles`, token, { method: 'POST', json: { title: 'Cached', body: 'b' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const url = `${instance.endpoint_url}/articles/${(created.body as { id: string }).id}`;
    // The first read misses the read cache and keeps the article; the next two are hits.
    for (let i = 0; i < 3; i++) assert.equal((await callApi(url, token)).status, 200);

    const after = await scrape();
    const gained = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    // One token for four requests: verified once, then found.
    assert.equal(gained('verified_token miss'), 1);
    assert.ok(gained('verified_token hit') >= 3, `verified_token hits: ${gained('verified_token hit')}`);
    assert.ok(gained('read miss') >= 1);
    assert.ok(gained('read hit') >= 2, `read hits: ${gained('read hit')}`);
    assert.ok(gained('context hit') >= 4, `context hits: ${gained('context hit')}`);
    // Only the three caches' names as labels: bounded, never an id.
    assert.deepEqual([...new Set([...after.keys()].map((key) => key.split(' ')[0]))].sort(), ['context', 'read', 'verified_token']);
  });
});
