import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper } from '@swarm/dev-env';
import type { RegistryHandle } from '@swarm/registry';
import { postJson } from '@swarm/runtime';
import type { ServiceHandle } from '../src/index.js';
import { PROVIDER, startNotes, startTestRegistry, tempDir } from './helpers.js';

const INSTANCES = 24;
const INTERVAL_SECONDS = 2;
const CONCURRENCY = 3;

describe('heartbeats of many instances', () => {
  const dir = tempDir('kit-heartbeats');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  const arrivals: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let recording = false;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'), { heartbeatIntervalSeconds: INTERVAL_SECONDS });
    // Arrival times as the registry's HTTP server sees them.
    registry.app.server.on('request', (request, response) => {
      if (!recording || !request.url?.endsWith('/heartbeat')) return;
      arrivals.push(Date.now());
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      response.once('close', () => {
        inFlight -= 1;
      });
    });
    service = await startNotes(registry, join(dir.path, 'notes'), {
      heartbeatIntervalSeconds: INTERVAL_SECONDS,
      heartbeatConcurrency: CONCURRENCY,
      // Per-instance beats, the way providers that do not batch send them.
      heartbeats: 'instance',
    });
    await service.registerOffer(registry.url, registry.adminToken);
    const developer = await createTestDeveloper(registry.url);
    for (let i = 0; i < INSTANCES; i++) {
      const answer = await postJson(
        service.catalogEntry.provision_url,
        developer.provisionRequest(PROVIDER, { service_tier: 'pro_cluster' }),
      );
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('spreads one interval’s beats over the interval with at most the bound in flight', async () => {
    recording = true;
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_SECONDS * 1000 * 2 + 500));
    recording = false;
    assert.ok(arrivals.length >= INSTANCES, `${arrivals.length} beats arrived in two intervals`);
    assert.ok(maxInFlight <= CONCURRENCY, `${maxInFlight} heartbeats in flight at once, bound ${CONCURRENCY}`);
    // The densest tenth of an interval holds a small share of one round's beats, not all of them.
    const slice = (INTERVAL_SECONDS * 1000) / 10;
    const sorted = [...arrivals].sort((a, b) => a - b);
    let densest = 0;
    for (let i = 0, j = 0; i < sorted.length; i++) {
      while ((sorted[i] as number) - (sorted[j] as number) > slice) j++;
      densest = Math.max(densest, i - j + 1);
    }
    assert.ok(densest <= INSTANCES / 2, `${densest} of ${INSTANCES} beats arrived within ${slice} ms`);
  });
});
