import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, type ProvisionedInstance, provisionInstance, type TestDeveloper } from '@swarm/dev-env';
import type { RegistryHandle } from '@swarm/registry';
import { hasRole, STANDARD_ROLES } from '@swarm/runtime';
import fc from 'fast-check';
import { type Domain, needs, type ServiceHandle, startService } from '../src/index.js';
import { errorCode, notesDomain, PROVIDER, startNotes, startTestRegistry, tempDir } from './helpers.js';

describe('roles in the data plane (docs/SERVICE-KIT.md)', () => {
  const dir = tempDir('kit-roles');
  let registry: RegistryHandle;
  let service: ServiceHandle;
  let alice: TestDeveloper;
  let bob: TestDeveloper;
  let notes: ProvisionedInstance;
  const url = () => `${notes.endpoint_url}/notes`;
  const as = async (roles: string[] | null) => alice.token({ sub: `user-${(roles ?? ['none']).join('-')}`, roles });

  const expect = async (token: string, method: string, status: number, code?: string, role?: string) => {
    const answer = await callApi(url(), token, method === 'POST' ? { method, json: { text: 'x' } } : { method });
    assert.equal(answer.status, status, `${method}: ${JSON.stringify(answer.body)}`);
    if (code) assert.equal(errorCode(answer.body), code);
    if (role) assert.match(JSON.stringify(answer.body), new RegExp(`the ${role} role`));
  };

  before(async () => {
    registry = await startTestRegistry(join(dir.path, 'registry'));
    service = await startNotes(registry, join(dir.path, 'notes'));
    await service.registerOffer(registry.url, registry.adminToken);
    alice = await createTestDeveloper(registry.url);
    bob = await createTestDeveloper(registry.url);
    notes = await provisionInstance(service, alice);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    dir.remove();
  });

  it('a reader reads and may not write or delete (403 naming the role)', async () => {
    const reader = await as(['reader']);
    await expect(reader, 'GET', 200);
    await expect(reader, 'POST', 403, 'forbidden', 'editor');
    await expect(reader, 'DELETE', 403, 'forbidden', 'admin');
  });

  it('an editor reads and writes; only an admin does what needs admin', async () => {
    const editor = await as(['editor']);
    await expect(editor, 'POST', 201);
    await expect(editor, 'GET', 200);
    await expect(editor, 'DELETE', 403, 'forbidden', 'admin');
    const admin = await as(['admin']);
    await expect(admin, 'POST', 201);
    await expect(admin, 'DELETE', 204);
  });

  it('a token with no roles, or only roles no domain knows, opens nothing', async () => {
    for (const roles of [null, [], ['user'], ['Admin'], ['readers', 'root']]) {
      const token = await as(roles);
      await expect(token, 'GET', 403, 'forbidden', 'reader');
      await expect(token, 'POST', 403, 'forbidden', 'editor');
    }
  });

  it('an admin token of another app is 401, not 403: the app is checked before the role', async () => {
    await expect(await bob.token({ roles: ['admin'] }), 'GET', 401, 'invalid_token');
  });

  it('a refused role changes nothing', async () => {
    const admin = await as(['admin']);
    await expect(admin, 'DELETE', 204);
    await expect(await as(['reader']), 'POST', 403, 'forbidden');
    const list = await callApi(url(), admin);
    assert.deepEqual((list.body as { notes: unknown[] }).notes, []);
  });

  it('a domain route that declares no role stops the service from starting', async () => {
    const careless: Domain<unknown> = {
      ...(notesDomain as unknown as Domain<unknown>),
      routes(scope) {
        scope.get('/open', async () => ({ open: true }));
        scope.get('/fine', needs('reader'), async () => ({}));
      },
    };
    await assert.rejects(
      startService(
        {
          provider: PROVIDER,
          serviceType: 'notes',
          tiers: [{ name: 'free', storage_limit_gb_default: 1, storage_limit_gb_max: 1 }],
          regions: ['local'],
          trustedRegistries: [{ authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey }],
          dataDir: join(dir.path, 'careless'),
          logLevel: false,
        },
        careless,
      ),
      /GET \/i\/:service_id\/api\/v1\/open must declare the role it needs/,
    );
  });

  it('a higher role includes every lower one, and nothing else grants (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...STANDARD_ROLES), fc.string({ maxLength: 8 })), { maxLength: 4 }), (roles) => {
        const rank = Math.max(-1, ...roles.map((role) => (STANDARD_ROLES as readonly string[]).indexOf(role)));
        STANDARD_ROLES.forEach((needed, index) => {
          assert.equal(hasRole(roles, needed), rank >= index);
        });
      }),
    );
    for (const claim of [null, 'admin', { 0: 'admin' }, 7]) assert.equal(hasRole(claim, 'reader'), false);
  });
});
