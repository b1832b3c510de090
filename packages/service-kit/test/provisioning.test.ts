import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, type TestDeveloper } from '@swarm/dev-env';
import {
  generateSigningKey,
  newNonce,
  nowSeconds,
  type ProvisionData,
  signEnvelope,
  signedBytes,
  signingKeyFromPem,
  verify,
} from '@swarm/protocol';
import type { RegistryHandle } from '@swarm/registry';
import { getJson, postJson } from '@swarm/runtime';
import SQLite from 'better-sqlite3';
import fc from 'fast-check';
import type { ServiceHandle } from '../src/index.js';
import { kitDatabaseFile } from '../src/store.js';
import { errorCode, PROVIDER, startNotes, startTestRegistry, tempDir } from './helpers.js';

describe('provisioning (SPEC §5.1)', () => {
  const dir = tempDir('kit-provision');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let developer: TestDeveloper;
  let url: string;

  const records = async () =>
    ((await getJson(`${registry.url}/v1/apps/${developer.appId}/services`)).body as { records: unknown[] }).records;
  const post = (body: unknown) => postJson(url, body);
  const expectError = async (body: unknown, status: number, code: string) => {
    const before = (await records()).length;
    const answer = await post(body);
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(errorCode(answer.body), code);
    assert.equal((await records()).length, before, 'nothing was bound');
  };

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    service = await startNotes(registry, join(dir.path, 'notes'));
    await service.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
    url = service.catalogEntry.provision_url;
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('binds an instance and answers 201 with the SPEC fields', async () => {
    const answer = await post(
      developer.provisionRequest(PROVIDER, { service_tier: 'pro_cluster', region: 'eu-central-1', storage_limit_gb: 50 }),
    );
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const body = answer.body as Record<string, unknown>;
    assert.match(body.service_id as string, /^notes-[a-z0-9]{10}$/);
    assert.equal(body.status, 'active');
    assert.equal(body.endpoint_url, `${service.url}/i/${body.service_id}/api/v1`);
    assert.deepEqual(
      {
        app_id: body.app_id,
        service_type: body.service_type,
        service_tier: body.service_tier,
        region: body.region,
        storage_limit_gb: body.storage_limit_gb,
      },
      { app_id: developer.appId, service_type: 'notes', service_tier: 'pro_cluster', region: 'eu-central-1', storage_limit_gb: 50 },
    );
    assert.equal(typeof body.bound_at, 'number');
    const status = await getJson(`${url}/${body.service_id}`);
    assert.equal((status.body as { status: string }).status, 'active');
    const record = ((await records()) as Array<{ service_id: string; endpoint_url: string }>).find((r) => r.service_id === body.service_id);
    assert.equal(record?.endpoint_url, body.endpoint_url);
  });

  it('answers what it stored: the instance active with its verified context, written in one commit', async () => {
    const answer = await post(developer.provisionRequest(PROVIDER));
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const body = answer.body as { service_id: string; bound_at: number };
    // The answer is built from the activation, not read back: it must equal the stored document.
    const status = await getJson(`${url}/${body.service_id}`);
    assert.deepEqual(status.body, body);
    const file = new SQLite(kitDatabaseFile(join(dir.path, 'notes'), 'notes'), { readonly: true });
    try {
      const instance = file.prepare('SELECT status, bound_at FROM kit_instances WHERE service_id = ?').get(body.service_id);
      assert.deepEqual({ ...(instance as object) }, { status: 'active', bound_at: body.bound_at });
      const context = file
        .prepare('SELECT app_id, context, context_signature FROM kit_contexts WHERE service_id = ?')
        .get(body.service_id) as { app_id: string; context: string; context_signature: string } | undefined;
      assert.ok(context, 'an active instance has its context stored');
      assert.equal(context.app_id, developer.appId);
      // Stored as the registry signed it: it verifies under the registry key of the trust table.
      assert.ok(verify('operational_context', JSON.parse(context.context), context.context_signature, registry.publicKey));
    } finally {
      file.close();
    }
  });

  it('applies the tier default storage when none is asked for', async () => {
    const answer = await post(developer.provisionRequest(PROVIDER, { service_tier: 'pro_cluster', region: 'local' }));
    assert.equal(answer.status, 201);
    assert.equal((answer.body as { storage_limit_gb: number }).storage_limit_gb, 10);
  });

  it('refuses malformed bodies with invalid_request', async () => {
    const good = developer.provisionRequest(PROVIDER);
    for (const raw of ['not json', '[]', '{"version":"1.0","version":"1.0"}', '{"__proto__":{}}', '']) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
      assert.equal(response.status, 400, raw);
      assert.equal(errorCode(await response.json()), 'invalid_request', raw);
    }
    await expectError({ ...good, extra: 1 }, 400, 'invalid_request');
    await expectError({ ...good, data: { ...good.data, surprise: true } }, 400, 'invalid_request');
    const { service_tier: _tier, ...noTier } = good.data;
    await expectError(signEnvelope('provision', noTier, developer.master.privateKey), 400, 'invalid_request');
    const { region: _region, ...noRegion } = good.data;
    await expectError(signEnvelope('provision', noRegion, developer.master.privateKey), 400, 'invalid_request');
    await expectError({ ...good, data: { ...good.data, app_id: 'Not.An.App' } }, 400, 'invalid_app_id');
    const big = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(70_000) }),
    });
    assert.equal(big.status, 413);
    assert.equal(errorCode(await big.json()), 'payload_too_large');
  });

  it('checks version, provider, tier, region and storage against its offer', async () => {
    await expectError({ ...developer.provisionRequest(PROVIDER), version: '2.0' }, 400, 'unsupported_version');
    await expectError(developer.provisionRequest('other.cms.local'), 403, 'wrong_provider');
    await expectError(developer.provisionRequest(PROVIDER, { service_tier: 'platinum' }), 422, 'unsupported_tier');
    await expectError(developer.provisionRequest(PROVIDER, { region: 'mars-1' }), 422, 'unsupported_region');
    await expectError(developer.provisionRequest(PROVIDER, { service_tier: 'free', storage_limit_gb: 2 }), 422, 'storage_limit_exceeded');
  });

  it('refuses stale and future timestamps', async () => {
    await expectError(developer.provisionRequest(PROVIDER, { timestamp: nowSeconds() - 310 }), 401, 'stale_timestamp');
    await expectError(developer.provisionRequest(PROVIDER, { timestamp: nowSeconds() + 310 }), 401, 'stale_timestamp');
  });

  it('refuses an untrusted registry without any network request (SPEC §2)', async () => {
    // Every HTTP request this process starts (the service runs in it) passes this channel.
    const requested: string[] = [];
    const onRequest = (message: unknown) => {
      const { request } = message as { request: { origin: string; path: string } };
      requested.push(`${request.origin}${request.path}`);
    };
    const appId = 'test.impostor.alice.business_app.abcdef';
    diagnostics.subscribe('undici:request:create', onRequest);
    try {
      await expectError(developer.provisionRequest(PROVIDER, { app_id: appId }), 404, 'unknown_registry');
    } finally {
      diagnostics.unsubscribe('undici:request:create', onRequest);
    }
    const known = [new URL(service.url).origin, new URL(registry.url).origin];
    assert.ok(requested.length > 0, 'the test request itself is seen');
    const elsewhere = requested.filter(
      (url) => !known.some((origin) => url.startsWith(`${origin}/`)) || url.includes(appId.split('.')[1]!),
    );
    const toRegistryAboutIt = requested.filter((url) => url.startsWith(`${new URL(registry.url).origin}/`) && url.includes(appId));
    assert.deepEqual([...elsewhere, ...toRegistryAboutIt], [], 'no request anywhere about the unknown registry');
  });

  it('refuses an unknown app', async () => {
    const [tld, reg] = registry.authority.split('.').reverse() as [string, string];
    await expectError(developer.provisionRequest(PROVIDER, { app_id: `${tld}.${reg}.nobody.nothing.abcdef123` }), 404, 'unknown_app');
  });

  it('refuses a suspended app', async () => {
    const suspended = await createTestDeveloper(registry.url);
    const response = await fetch(`${registry.url}/v1/admin/apps/${suspended.appId}/suspend`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registry.adminToken}` },
    });
    assert.equal(response.status, 200, await response.text());
    await expectError(suspended.provisionRequest(PROVIDER), 403, 'app_suspended');
  });

  it('refuses a forged signature without burning the nonce, then accepts the real request', async () => {
    const real = developer.provisionRequest(PROVIDER);
    const forged = signEnvelope('provision', real.data, generateSigningKey().privateKey);
    await expectError(forged, 401, 'invalid_signature');
    await expectError({ ...real, signature: real.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) }, 401, 'invalid_signature');
    await expectError(signEnvelope('app', real.data, developer.master.privateKey), 401, 'invalid_signature');
    assert.equal((await post(real)).status, 201);
    await expectError(real, 409, 'nonce_reused');
  });

  it('refuses a replay even with a fresh signature over the same nonce', async () => {
    const data: ProvisionData = {
      app_id: developer.appId,
      target_provider: PROVIDER,
      service_tier: 'free',
      region: 'local',
      timestamp: nowSeconds(),
      nonce: newNonce(),
    };
    assert.equal((await post(signEnvelope('provision', data, developer.master.privateKey))).status, 201);
    await expectError(signEnvelope('provision', { ...data, region: 'us-east-1' }, developer.master.privateKey), 409, 'nonce_reused');
  });

  it('accepts a request signed with the openssl command line', async () => {
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir.path, 'master.pem')]);
    const { readFileSync } = await import('node:fs');
    const master = signingKeyFromPem(readFileSync(join(dir.path, 'master.pem'), 'utf8'));
    const cli = await createTestDeveloper(registry.url, { master });
    const data: ProvisionData = {
      app_id: cli.appId,
      target_provider: PROVIDER,
      service_tier: 'free',
      region: 'local',
      timestamp: nowSeconds(),
      nonce: newNonce(),
    };
    writeFileSync(join(dir.path, 'message.bin'), signedBytes('provision', data));
    const signature = execFileSync('openssl', [
      'pkeyutl',
      '-sign',
      '-rawin',
      '-inkey',
      join(dir.path, 'master.pem'),
      '-in',
      join(dir.path, 'message.bin'),
    ]);
    const answer = await post({ version: '1.0', data, signature: signature.toString('hex') });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  });

  it('answers any body with a SPEC error, never a 500', async () => {
    const good = developer.provisionRequest(PROVIDER);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            version: fc.constantFrom('1.0', '2.0', 1),
            data: fc.dictionary(fc.string(), fc.jsonValue()),
            signature: fc.string(),
          }),
          fc.record({
            version: fc.constant('1.0'),
            data: fc.record({
              ...Object.fromEntries(Object.entries(good.data).map(([k, v]) => [k, fc.oneof(fc.constant(v), fc.jsonValue())])),
            }),
            signature: fc.constant(good.signature),
          }),
        ),
        async (body) => {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          const answer = (await response.json()) as unknown;
          assert.ok(response.status < 500, `${response.status} ${JSON.stringify(answer)}`);
          if (response.status >= 400) assert.equal(typeof errorCode(answer), 'string');
        },
      ),
      { numRuns: 150 },
    );
  });
});
