import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, type TestDeveloper } from '@swarm/dev-env';
import { generateSigningKey } from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { postJson } from '@swarm/runtime';
import type { ServiceHandle } from '../src/index.js';
import { errorCode, PROVIDER, startNotes, startTestRegistry, tempDir } from './helpers.js';

const redisUrl = process.env.SWARM_TEST_REDIS_URL;

describe('replicas sharing nonces through Redis', { skip: redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set' }, () => {
  const dir = tempDir('kit-replicas');
  let registry: RegistryHandle;
  let first: ServiceHandle;
  let second: ServiceHandle;
  let developer: TestDeveloper;

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    const providerKey = generateSigningKey();
    first = await startNotes(registry, join(dir.path, 'one'), { redisUrl, providerKey });
    second = await startNotes(registry, join(dir.path, 'two'), { redisUrl, providerKey });
    await first.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
  });
  after(async () => {
    await first?.close();
    await second?.close();
    await registry?.close();
    dir.remove();
  });

  it('a nonce used on one replica is refused by the other', async () => {
    const request = developer.provisionRequest(PROVIDER);
    assert.equal((await postJson(first.catalogEntry.provision_url, request)).status, 201);
    const replay = await postJson(second.catalogEntry.provision_url, request);
    assert.equal(replay.status, 409);
    assert.equal(errorCode(replay.body), 'nonce_reused');
  });

  it('a forgery on one replica burns nothing on the other', async () => {
    const request = developer.provisionRequest(PROVIDER);
    const forged = { ...request, signature: request.signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) };
    assert.equal(errorCode((await postJson(first.catalogEntry.provision_url, forged)).body), 'invalid_signature');
    assert.equal((await postJson(second.catalogEntry.provision_url, request)).status, 201);
  });
});
