import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalJson, ERROR_STATUS, generateSigningKey, isErrorCode, newNonce, nowSeconds, sign, signEnvelope } from '@swarm/protocol';
import { openDatabase } from '@swarm/runtime';
import fc from 'fast-check';
import { type RegistryHandle, startRegistry } from '../src/index.js';
import {
  appManifest,
  bindingRequest,
  boundInstance,
  call,
  developerProof,
  developerWithApp,
  get,
  listedProvider,
  makeDeveloper,
  namespaceClaim,
  offer,
  serviceCall,
} from './helpers.js';

type Endpoint = { method: string; path: string; valid: () => unknown };

const TABLES = ['namespaces', 'apps', 'catalog', 'bindings', 'audit_log', 'broadcast_outbox'] as const;

/** A value that is certainly different from `old`, of any JSON shape. */
const otherValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  // Any UTF-16 code unit, lone surrogates too (they have no canonical bytes: 400, never 500).
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('\ud800', 'a\udfff', '\udc00\ud800'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.constantFrom('__proto__', 'ed25519:AAAA', '1.0', '0'.repeat(128), 'local.swarm.a.b.abcdef'),
  // Small-order and non-canonical Ed25519 keys, e.g. the identity point.
  fc.constantFrom(
    'ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'ed25519:7P_______________________________________38',
  ),
);

type Mutation = { kind: 'set' | 'delete' | 'add'; pick: number; value: unknown; key: string };
const mutation = fc.record({
  kind: fc.constantFrom('set', 'delete', 'add') as fc.Arbitrary<Mutation['kind']>,
  pick: fc.nat(),
  value: otherValue,
  key: fc.string({ minLength: 1, maxLength: 12 }),
});

/** Every (object, key) pair in a JSON tree, so a mutation can land at any depth. */
function slots(value: unknown, out: Array<[Record<string, unknown>, string]> = []): Array<[Record<string, unknown>, string]> {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) {
      out.push([value as Record<string, unknown>, key]);
      slots((value as Record<string, unknown>)[key], out);
    }
  }
  return out;
}

/** Canonical text where there is one; JSON.stringify escapes what has none (lone surrogates). */
const canonical = (value: unknown) => {
  try {
    return canonicalJson(JSON.parse(JSON.stringify(value)));
  } catch {
    return JSON.stringify(value);
  }
};

function mutate(body: unknown, m: Mutation): void {
  const all = slots(body);
  if (all.length === 0) return;
  const [target, key] = all[m.pick % all.length]!;
  if (m.kind === 'delete') delete target[key];
  else if (m.kind === 'add') target[m.key] = m.value;
  else target[key] = m.value;
}

describe('fuzzing every write endpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-registry-fuzz-'));
  let registry: RegistryHandle;
  let endpoints: Endpoint[];
  const counts = async () => {
    const { db, close } = openDatabase<Record<string, Record<string, unknown>>>({ file: join(dir, 'registry.db') });
    try {
      const result: Record<string, number> = {};
      for (const table of TABLES) {
        const row = await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        result[table] = Number(row.n);
      }
      return result;
    } finally {
      await close();
    }
  };

  before(async () => {
    registry = await startRegistry({ dataDir: dir, dnsPort: false, logLevel: false });
    const { dev, appId } = await developerWithApp(registry);
    const provider = await listedProvider(registry);
    const bound = await boundInstance(registry, dev, appId, provider);
    const s = `/v1/apps/${appId}/services/${bound.serviceId}`;
    const next = generateSigningKey();
    endpoints = [
      { method: 'POST', path: '/v1/namespaces', valid: () => namespaceClaim(makeDeveloper()) },
      { method: 'POST', path: '/v1/apps', valid: () => appManifest(dev) },
      {
        method: 'POST',
        path: `/v1/apps/${appId}/auth`,
        valid: () =>
          signEnvelope(
            'delegate_authority',
            {
              action: 'DELEGATE_AUTHORITY',
              app_id: appId,
              auth_public_key: next.publicKey,
              auth_provider_url: 'http://127.0.0.1:9/a',
              timestamp: nowSeconds(),
              nonce: newNonce(),
            },
            dev.master.privateKey,
          ),
      },
      {
        method: 'PATCH',
        path: `/v1/apps/${appId}/operational-context`,
        valid: () =>
          signEnvelope(
            'backbone_update',
            {
              app_id: appId,
              operational_context: { billing_provider_url: 'http://127.0.0.1:9/b' },
              timestamp: nowSeconds(),
              nonce: newNonce(),
              context: 'backbone_update',
            },
            dev.master.privateKey,
          ),
      },
      { method: 'POST', path: '/v1/bindings', valid: () => bindingRequest(provider, developerProof(dev, appId, provider.name)).body },
      { method: 'PUT', path: `/v1/catalog/${provider.name}`, valid: () => offer(provider, { description: 'changed' }) },
      { method: 'POST', path: `${s}/context`, valid: () => serviceCall(appId, bound.serviceId, bound.instanceKey) },
      { method: 'POST', path: `${s}/heartbeat`, valid: () => serviceCall(appId, bound.serviceId, bound.instanceKey, { status: 'ok' }) },
      {
        method: 'POST',
        path: `${s}/key`,
        valid: () => {
          const data = {
            app_id: appId,
            service_id: bound.serviceId,
            new_public_key: next.publicKey,
            rotation_timestamp: nowSeconds(),
            nonce: newNonce(),
            context: 'key_rotation',
          };
          return {
            version: '1.0',
            data,
            signature: sign('key_rotation', data, bound.instanceKey.privateKey),
            new_key_signature: sign('key_rotation', data, next.privateKey),
          };
        },
      },
      {
        method: 'POST',
        path: `${s}/decommission`,
        valid: () =>
          signEnvelope(
            'decommission',
            { app_id: appId, service_id: bound.serviceId, timestamp: nowSeconds(), nonce: newNonce(), context: 'decommission' },
            dev.master.privateKey,
          ),
      },
      {
        method: 'POST',
        path: `/v1/namespaces/${dev.namespace}/master-key`,
        valid: () => {
          const data = {
            namespace: dev.namespace,
            new_master_public_key: next.publicKey,
            timestamp: nowSeconds(),
            nonce: newNonce(),
            context: 'master_key_rotation',
          };
          return {
            version: '1.0',
            data,
            signature: sign('master_key_rotation', data, dev.master.privateKey),
            new_key_signature: sign('master_key_rotation', data, next.privateKey),
          };
        },
      },
      {
        method: 'POST',
        path: `/v1/namespaces/${dev.namespace}/recovery`,
        valid: () =>
          signEnvelope(
            'identity_recovery',
            {
              namespace: dev.namespace,
              new_master_public_key: next.publicKey,
              timestamp: nowSeconds(),
              nonce: newNonce(),
              context: 'identity_recovery',
            },
            dev.guardians[0]!.privateKey,
          ),
      },
      { method: 'POST', path: `/v1/admin/apps/${appId}/suspend`, valid: () => ({}) },
    ];
  });
  after(async () => {
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const expectSpecError = (answer: { status: number; body: unknown }, what: string) => {
    const code = (answer.body as { error?: { code?: unknown } } | null)?.error?.code;
    assert.ok(isErrorCode(code), `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.equal(answer.status, ERROR_STATUS[code], what);
    assert.ok(answer.status < 500, `${what}: ${JSON.stringify(answer.body)}`);
  };

  it('answers random and mutated bodies with SPEC errors, never a 500, and stores nothing', async () => {
    const before = await counts();
    const endpoint = fc.nat().map((n) => endpoints[n % endpoints.length]!);
    const rawBody = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      fc.constantFrom(
        '{"a":1,"a":2}',
        '{"__proto__":{}}',
        '{"version":"1.0","data":{"constructor":1}}',
        '[]',
        'null',
        '{',
        `{"x":"${'y'.repeat(70_000)}"}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(endpoint, rawBody, async (target, body) => {
        const answer = await call(target.method, `${registry.url}${target.path}`, body);
        expectSpecError(answer, `${target.method} ${target.path} ${body.slice(0, 80)}`);
      }),
      { numRuns: 1000 },
    );
    await fc.assert(
      fc.asyncProperty(endpoint, fc.array(mutation, { minLength: 1, maxLength: 3 }), async (target, mutations) => {
        const body = target.valid();
        if (target.path.includes('/admin/')) return;
        const original = canonical(body);
        for (const m of mutations) mutate(body, m);
        // A mutation undone by the next one leaves a valid request: not what this property is about.
        if (canonical(body) === original) return;
        const answer = await call(target.method, `${registry.url}${target.path}`, body);
        expectSpecError(answer, `${target.method} ${target.path} ${JSON.stringify(body).slice(0, 200)}`);
      }),
      { numRuns: 1000 },
    );
    assert.deepEqual(await counts(), before);
  });

  it('answers a lone surrogate in any string of any write with 400 invalid_request, and stores nothing', async () => {
    const before = await counts();
    for (const target of endpoints) {
      const strings = slots(target.valid()).filter(([object, key]) => typeof object[key] === 'string');
      for (let index = 0; index < strings.length; index++) {
        const body = target.valid();
        const [object, key] = slots(body).filter(([o, k]) => typeof o[k] === 'string')[index]!;
        object[key] = `${object[key] as string}\ud800`;
        const answer = await call(target.method, `${registry.url}${target.path}`, body);
        const where = `${target.method} ${target.path} ${key}`;
        assert.equal(answer.status, 400, `${where}: ${answer.status} ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error.code, 'invalid_request', where);
      }
    }
    assert.deepEqual(await counts(), before);
  });

  it('answers malformed app ids in paths with invalid_app_id', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .string({ minLength: 1, maxLength: 80 })
          .filter(
            (s) => !/^[a-z]{2,63}\.[a-z0-9-]{1,63}\.[a-z0-9_-]{1,63}\.[a-z0-9_-]{1,63}\.[a-z0-9]{6,32}$/.test(s) && s !== '.' && s !== '..',
          ),
        fc.constantFrom('', '/master-key', '/log', '/services'),
        async (appId, suffix) => {
          const answer = await get(`${registry.url}/v1/apps/${encodeURIComponent(appId)}${suffix}`);
          expectSpecError(answer, appId);
          assert.equal(answer.body.error.code, 'invalid_app_id', `${appId}${suffix}`);
        },
      ),
      { numRuns: 200 },
    );
  });
});
