import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, provisionInstance, type TestDeveloper } from '@swarm/dev-env';
import { requestJson } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { type BlobSetup, startBlobSetup } from './helpers.js';

describe('storage-blob termination with an upload in flight', () => {
  let setup: BlobSetup;
  let dataDir: string;
  let service: ServiceHandle;
  let developer: TestDeveloper;

  const filesUnder = (path: string): string[] =>
    existsSync(path)
      ? readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
          entry.isDirectory() ? filesUnder(join(path, entry.name)) : [entry.name],
        )
      : [];

  before(async () => {
    setup = await startBlobSetup('drain');
    ({ dataDir, service, developer } = setup);
  });
  after(() => setup?.close());

  it('a slow PUT in flight during a wipe leaves no object and no file', { timeout: 60_000 }, async () => {
    const instance = await provisionInstance(service, developer, { service_tier: 'free' });
    const token = await developer.token();
    const url = new URL(`${instance.endpoint_url}/objects/slow.bin`);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const chunks = 8;

    // The upload starts and is half sent when the termination comes in.
    const upload = httpRequest({
      host: url.hostname,
      port: url.port,
      method: 'PUT',
      path: url.pathname,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(chunk.length * chunks),
      },
    });
    const answered = new Promise<number>((resolve) => {
      upload.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      upload.on('error', () => resolve(0));
    });
    for (let n = 0; n < chunks / 2; n++) upload.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const termination = requestJson(
      'DELETE',
      `${service.catalogEntry.provision_url}/${instance.service_id}`,
      developer.terminationRequest(instance.service_id, 'wipe'),
    );
    // The rest of the body arrives while the termination is under way.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let n = chunks / 2; n < chunks; n++) upload.write(chunk);
    upload.end();

    const [status, terminated] = await Promise.all([answered, termination]);
    assert.equal(terminated.status, 200);
    assert.ok([0, 201].includes(status), `the upload either finished before the wipe or was cut, not ${status}`);
    assert.deepEqual(filesUnder(join(dataDir, 'files', 'objects', instance.service_id)), [], 'no object file of the wiped instance');
    assert.deepEqual(filesUnder(join(dataDir, 'files', 'tmp')), [], 'no half-received file');
    const after = await callApi(`${instance.endpoint_url}/objects/slow.bin`, token);
    assert.equal(after.status, 404);
  });
});
