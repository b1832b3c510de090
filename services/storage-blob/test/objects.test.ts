import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  callApi,
  createTestDeveloper,
  type ProvisionedInstance,
  provisionInstance,
  type TestDeveloper,
  trustedRegistryOf,
} from '@swarm/dev-env';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS, requestJson } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { startStorageBlob } from '../src/index.js';

/** Every part of this test runs on loopback, which a part refuses to send to by default. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;

describe('storage-blob', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-blob-'));
  const dataDir = join(dir, 'blob');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;
  let instance: ProvisionedInstance;
  let token: string;
  const objects = () => `${instance.endpoint_url}/objects`;
  const listKeys = async () => ((await callApi(objects(), token)).body as { objects: Array<{ key: string; size: number }> }).objects;
  const filesOnDisk = () => {
    const files: string[] = [];
    const walk = (path: string) => {
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(path, entry.name));
        else files.push(entry.name);
      }
    };
    walk(join(dataDir, 'files'));
    return files;
  };

  // fetch normalizes `.` and `..` away; a raw request sends the path as written.
  const rawRequest = (method: string, path: string, body: string) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const url = new URL(instance.endpoint_url);
      const request = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }),
          );
        },
      );
      request.on('error', reject);
      request.end(body);
    });

  before(async () => {
    registry = await startRegistry({ port: 0, dataDir: join(dir, 'registry'), dnsPort: false, logLevel: false, egress: LOCAL_EGRESS });
    // One "GB" is 1 MB here, so the free tier (1 GB) holds 1 MB.
    service = await startStorageBlob({
      port: 0,
      dataDir,
      trustedRegistries: [trustedRegistryOf(registry)],
      logLevel: false,
      bytesPerGb: 1_000_000,
    });
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
    instance = await provisionInstance(service, developer, { service_tier: 'free' });
    token = await developer.token();
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores, lists, reads, replaces and deletes raw bytes under UTF-8 keys with slashes', async () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const key = 'photos/2024/caf%C3%A9.bin';
    const put = await callApi(`${objects()}/${key}`, token, { method: 'PUT', body: bytes, contentType: 'image/x-test' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.deepEqual(
      { key: (put.body as { key: string }).key, size: (put.body as { size: number }).size },
      { key: 'photos/2024/café.bin', size: bytes.length },
    );
    const got = await callApi(`${objects()}/${key}`, token);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/x-test');
    assert.ok(got.bytes.equals(bytes));
    assert.deepEqual(
      (await listKeys()).map((o) => o.key),
      ['photos/2024/café.bin'],
    );

    assert.equal((await callApi(`${objects()}/${key}`, token, { method: 'PUT', body: 'small' })).status, 201);
    assert.equal((await callApi(`${objects()}/${key}`, token)).bytes.toString(), 'small');
    assert.equal(filesOnDisk().length, 1, 'the replaced file is gone');
    assert.equal((await callApi(`${objects()}/${key}`, token, { method: 'DELETE' })).status, 204);
    assert.equal((await callApi(`${objects()}/${key}`, token)).status, 404);
    assert.deepEqual(await listKeys(), []);
    assert.equal(filesOnDisk().length, 0);
  });

  it('refuses dot segments and broken keys', async () => {
    for (const key of ['.', '..', '%2E%2E', 'a/%2e%2e/b', 'a/./b', 'a//b', '%C3', `${'x'.repeat(1025)}`]) {
      const answer = await rawRequest('PUT', `${new URL(objects()).pathname}/${key}`, 'x');
      assert.equal(answer.status, 400, key);
      assert.equal(code(answer.body), 'invalid_request', key);
    }
    assert.deepEqual(await listKeys(), []);
  });

  it('refuses a write past storage_limit_gb with quota_exceeded and keeps nothing of it', async () => {
    assert.equal((await callApi(`${objects()}/a`, token, { method: 'PUT', body: Buffer.alloc(600_000, 1) })).status, 201);
    const over = await callApi(`${objects()}/b`, token, { method: 'PUT', body: Buffer.alloc(500_000, 2) });
    assert.equal(over.status, 422);
    assert.equal(code(over.body), 'quota_exceeded');
    assert.deepEqual(
      (await listKeys()).map((o) => o.key),
      ['a'],
    );
    assert.equal(filesOnDisk().length, 1, 'no temp or partial file is left');
    // Replacing an object counts only the difference.
    assert.equal((await callApi(`${objects()}/a`, token, { method: 'PUT', body: Buffer.alloc(900_000, 3) })).status, 201);
    const tooBig = await callApi(`${objects()}/a`, token, { method: 'PUT', body: Buffer.alloc(1_000_001, 4) });
    assert.equal(code(tooBig.body), 'quota_exceeded');
    assert.equal((await callApi(`${objects()}/a`, token)).bytes.length, 900_000, 'the old object is untouched');
    assert.equal((await callApi(`${objects()}/a`, token, { method: 'DELETE' })).status, 204);
  });

  it('streams a body larger than the JSON limit', async () => {
    const big = Buffer.alloc(800_000, 7);
    assert.equal((await callApi(`${objects()}/big`, token, { method: 'PUT', body: big })).status, 201);
    assert.ok((await callApi(`${objects()}/big`, token)).bytes.equals(big));
    assert.equal((await callApi(`${objects()}/big`, token, { method: 'DELETE' })).status, 204);
  });

  it('keeps instances apart and refuses tokens of other apps', async () => {
    const other = await createTestDeveloper(registry.url);
    const otherInstance = await provisionInstance(service, other);
    const otherToken = await other.token();
    assert.equal((await callApi(`${objects()}/mine`, token, { method: 'PUT', body: 'secret' })).status, 201);
    assert.equal((await callApi(`${otherInstance.endpoint_url}/objects/mine`, otherToken)).status, 404);
    assert.equal((await callApi(`${objects()}/mine`, otherToken)).status, 401);
    const upload = await callApi(`${objects()}/stolen`, otherToken, { method: 'PUT', body: 'x' });
    assert.equal(code(upload.body), 'invalid_token');
    assert.deepEqual(
      (await listKeys()).map((o) => o.key),
      ['mine'],
    );
  });

  it('wipes an instance on termination and answers 404 afterwards', async () => {
    const answer = await requestJson(
      'DELETE',
      `${service.catalogEntry.provision_url}/${instance.service_id}`,
      developer.terminationRequest(instance.service_id, 'wipe'),
    );
    assert.equal(answer.status, 200);
    const after = await callApi(`${objects()}/mine`, token);
    assert.equal(after.status, 404);
    assert.equal(code(after.body), 'not_found');
    assert.equal((answer.body as { data: { message: string } }).data.message, 'instance terminated, data wiped');
    assert.deepEqual(filesOnDisk(), [], 'no file of the wiped instance is left');
    assert.deepEqual(
      readdirSync(join(dataDir, 'files', 'objects')).filter((name) => name === instance.service_id),
      [],
    );
  });
});
