// Issue "Scale-out": registry replicas on one PostgreSQL, service replicas sharing Redis
// (nonces) and PostgreSQL (data), each a real `swarm` process on its own ports.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, type Part, stop, tempDir } from '@swarm/dev-env';
import { newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { dnsView } from './dns.js';
import { freshSchema } from './postgres.js';
import {
  bindingRequest,
  errorCode,
  http,
  newDeveloper,
  provisionRequest,
  type RegistrySummary,
  serviceRecords,
  startCliService,
  startRegistry,
  writeProviderKey,
} from './swarm.js';

const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;
const redisUrl = process.env.SWARM_TEST_REDIS_URL;
const skip = !postgresUrl
  ? 'SWARM_TEST_POSTGRES_URL is not set: registry and service replicas need a shared PostgreSQL'
  : !redisUrl
    ? 'SWARM_TEST_REDIS_URL is not set: service replicas share their nonces through Redis'
    : false;

const REGISTRY_REPLICAS = 3;

describe('replicas: three registries on one PostgreSQL, two cms-article services on shared PostgreSQL and Redis', { skip }, () => {
  const dir = tempDir('replicas');
  const schemas: Array<{ drop(): Promise<void> }> = [];
  let registryParts: Array<Part<RegistrySummary>> = [];
  let serviceParts: Array<Part<{ url: string }>> = [];
  let registries: RegistrySummary[] = [];
  let provisionUrls: string[] = [];
  let providerKey: ReturnType<typeof writeProviderKey>;

  before(async () => {
    const registrySchema = await freshSchema(postgresUrl!, 'sys_replicas_registry');
    const serviceSchema = await freshSchema(postgresUrl!, 'sys_replicas_cms');
    schemas.push(registrySchema, serviceSchema);
    // All at once on an empty schema: migrations and the created-once registry key must not trip.
    registryParts = await Promise.all(
      Array.from({ length: REGISTRY_REPLICAS }, (_, i) =>
        startRegistry(`registry-${i}`, { dataDir: join(dir.path, `registry-${i}`), databaseUrl: registrySchema.url }),
      ),
    );
    registries = registryParts.map((part) => part.ready);
    providerKey = writeProviderKey(dir.path);
    // Replica i binds through registry i: a binding lands on one replica and is read on the others.
    serviceParts = await Promise.all(
      [0, 1].map((i) =>
        startCliService(`cms-${i}`, {
          registry: registries[i]!,
          dataDir: join(dir.path, `cms-${i}`),
          providerKeyFile: providerKey.file,
          databaseUrl: serviceSchema.url,
          redisUrl: redisUrl!,
        }),
      ),
    );
    for (const part of serviceParts) assert.ok(part.ready.url, `${part.name} printed ${JSON.stringify(part.ready)}`);
    provisionUrls = serviceParts.map((part) => `${part.ready.url}/v1/instances`);
  });

  after(async () => {
    await Promise.all([...serviceParts, ...registryParts].map((part) => stop(part)));
    for (const schema of schemas) await schema.drop().catch(() => {});
    dir.remove();
  });

  it('the replicas sign alike: one registry key from the shared database', () => {
    assert.equal(new Set(registries.map((r) => r.public_key)).size, 1);
  });

  it('refuses a provisioning request replayed at the other service replica (nonce_reused)', async () => {
    const developer = await newDeveloper(registries[0]!.url);
    const request = provisionRequest(developer);
    const first = await http('POST', provisionUrls[0]!, request);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const replay = await http('POST', provisionUrls[1]!, request);
    assert.deepEqual([replay.status, errorCode(replay)], [409, 'nonce_reused']);

    // Both replicas at the same moment: exactly one takes it.
    const racing = provisionRequest(developer);
    const answers = await Promise.all(provisionUrls.map((url) => http('POST', url, racing)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409], JSON.stringify(answers.map((a) => a.body)));
    assert.equal(errorCode(answers.find((a) => a.status === 409)!), 'nonce_reused');
    assert.equal((await serviceRecords(registries[2]!.url, developer.appId)).length, 2);
  });

  it('refuses a registry request replayed at another registry replica', async () => {
    const developer = await newDeveloper(registries[0]!.url);
    const manifest = signEnvelope(
      'app',
      { owner_namespace: developer.namespace, project_slug: 'second', display_name: 'Second', timestamp: nowSeconds(), nonce: newNonce() },
      developer.master.privateKey,
    );
    assert.equal((await http('POST', `${registries[1]!.url}/v1/apps`, manifest)).status, 201);
    for (const registry of [registries[0]!, registries[2]!]) {
      const replay = await http('POST', `${registry.url}/v1/apps`, manifest);
      assert.deepEqual([replay.status, errorCode(replay)], [409, 'nonce_reused'], `app manifest replayed at ${registry.url}`);
    }

    const binding = bindingRequest(provisionRequest(developer), providerKey.key, 'http://127.0.0.1:9');
    assert.equal((await http('POST', `${registries[2]!.url}/v1/bindings`, binding.body)).status, 201);
    const replay = await http('POST', `${registries[0]!.url}/v1/bindings`, binding.body);
    assert.deepEqual([replay.status, errorCode(replay)], [409, 'nonce_reused']);
  });

  it('replicas racing on one developer proof make exactly one binding', async () => {
    const developer = await newDeveloper(registries[0]!.url);
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const proof = provisionRequest(developer);
      const requests = registries.map(() => bindingRequest(proof, providerKey.key, 'http://127.0.0.1:9'));
      const answers = await Promise.all(requests.map((r, i) => http('POST', `${registries[i]!.url}/v1/bindings`, r.body)));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [201, ...Array(REGISTRY_REPLICAS - 1).fill(409)], JSON.stringify(answers.map((a) => a.body)));
      for (const answer of answers.filter((a) => a.status === 409)) assert.equal(errorCode(answer), 'proof_reused');
    }
    // The same proof and service_id from two replicas at once (a 202 retry racing the first try).
    const proof = provisionRequest(developer);
    const first = bindingRequest(proof, providerKey.key, 'http://127.0.0.1:9');
    const retry = bindingRequest(proof, providerKey.key, 'http://127.0.0.1:9', first.serviceId);
    const [x, y] = await Promise.all([
      http('POST', `${registries[0]!.url}/v1/bindings`, first.body),
      http('POST', `${registries[1]!.url}/v1/bindings`, retry.body),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 201], JSON.stringify([x.body, y.body]));
    assert.equal(x.body.binding.service_id, y.body.binding.service_id);

    for (const registry of registries) {
      const records = await serviceRecords(registry.url, developer.appId);
      assert.equal(records.length, rounds + 1, `records at ${registry.url}`);
      assert.equal(new Set(records.map((r) => r.service_id)).size, rounds + 1);
    }
  });

  it('a binding accepted by one replica is in the Service DNS of every replica at once (HTTP and DNS SRV)', async () => {
    const developer = await newDeveloper(registries[1]!.url);
    for (const [i, provisionUrl] of provisionUrls.entries()) {
      const answer = await http('POST', provisionUrl, provisionRequest(developer));
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const serviceId = answer.body.service_id as string;
      const servicePort = Number(new URL(serviceParts[i]!.ready.url).port);
      // No waiting: each replica reads the shared database on every question.
      await Promise.all(
        registries.map(async (registry) => {
          const records = await serviceRecords(registry.url, developer.appId);
          assert.ok(
            records.some((r) => r.service_id === serviceId),
            `${serviceId} over HTTP at ${registry.url}`,
          );
          const dns = await dnsView(registry.dns_port!, developer.appId, 'cms-article', 'udp');
          assert.ok(dns.serviceIds.includes(serviceId), `${serviceId} in DNS TXT at port ${registry.dns_port}`);
          assert.ok(
            dns.srv.some((srv) => srv.target === '127.0.0.1' && srv.port === servicePort),
            `SRV of replica ${i} at DNS port ${registry.dns_port}: ${JSON.stringify(dns.srv)}`,
          );
        }),
      );
    }
  });

  it('an instance provisioned at one service replica is served by the other (shared data)', async () => {
    const developer = await createTestDeveloper(registries[0]!.url);
    const created = await http('POST', provisionUrls[0]!, developer.provisionRequest('article.cms.local'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const path = `/i/${created.body.service_id}/api/v1/articles`;
    const headers = { authorization: `Bearer ${await developer.token()}` };
    const written = await http('POST', `${serviceParts[0]!.ready.url}${path}`, { title: 'one', body: 'written at replica 0' }, headers);
    assert.equal(written.status, 201, JSON.stringify(written.body));
    const read = await http('GET', `${serviceParts[1]!.ready.url}${path}`, undefined, headers);
    assert.equal(read.status, 200, `replica 1 answered ${read.status} ${JSON.stringify(read.body)}`);
    assert.equal(read.body.articles.length, 1);
  });
});
