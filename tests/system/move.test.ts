// Issue 14 (day two): `swarm move` — an instance moves to another provider with its data, over
// a signed, resumable transfer between the two providers; a failed move leaves the old one serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { delegate, moveInstance, provision, services } from '@swarm/client';
import { startCmsArticle } from '@swarm/cms-article';
import {
  callApi,
  createTestDeveloper,
  freePort,
  provisionInstance,
  SECOND_PROVIDERS,
  type TestDeveloper,
  TestNetwork,
} from '@swarm/dev-env';
import {
  generateSigningKey,
  type InstanceMoveData,
  moveIdOf,
  newNonce,
  nowSeconds,
  type ProvisionedInstance,
  type SigningKey,
  type SwarmError,
  signEnvelope,
  signingKeyFromPem,
  type TransferPageData,
} from '@swarm/protocol';
import { getJson, LOOPBACK_CIDRS, postJson } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import fc from 'fast-check';

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
type Json = Record<string, unknown>;

const POSTGRES = process.env.SWARM_TEST_POSTGRES_URL;
moveSuite('SQLite', undefined, false, true);
moveSuite('PostgreSQL', POSTGRES, POSTGRES ? false : 'SWARM_TEST_POSTGRES_URL is not set', false);

/** The three moves on one backend; with `full`, also who may move, refusals, digests and resuming. */
function moveSuite(backend: string, postgresUrl: string | undefined, skip: string | false, full: boolean) {
  describe(`moving an instance to another provider with its data (${backend})`, { skip }, () => {
    let network: TestNetwork;
    let developer: TestDeveloper;
    let client: { registry: string };
    let token: string;

    /** A new key the Master delegates `actions` on the developer's app, for an hour. */
    const delegatedKey = async (actions: Parameters<typeof delegate>[1]['actions']) => {
      const key = generateSigningKey();
      await delegate(client, {
        namespace: developer.namespace,
        master: developer.master,
        publicKey: key.publicKey,
        apps: [developer.appId],
        actions,
        expiresAt: nowSeconds() + 3600,
      });
      return key;
    };

    before(async () => {
      // Small pages, so every move here crosses several pages and objects come in several parts.
      network = await TestNetwork.create({
        ...(postgresUrl ? { postgresUrl } : {}),
        secondProviders: true,
        transfer: { transferPageItems: 3, transferPageBytes: 64 * 1024 },
      });
      client = { registry: network.registry.url };
      developer = await createTestDeveloper(network.registry.url);
      token = await developer.token({ roles: ['editor'] });
    });
    after(async () => {
      await network?.close();
    });

    const service = (type: 'cms-article' | 'crm-contact' | 'storage-blob') => network.services[type] as ServiceHandle;
    const second = (type: 'cms-article' | 'crm-contact' | 'storage-blob') => network.secondServices[type] as ServiceHandle;
    const provisioned = (type: 'cms-article' | 'crm-contact' | 'storage-blob') =>
      provisionInstance(service(type), developer, { service_tier: 'free', region: 'local' });
    const listed = async (serviceId: string) => (await services(client, developer.appId)).find((r) => r.service_id === serviceId);

    it('moves cms-article: every article (drafts, slugs, tags, versions) is the same at the new provider, and the token still works', async () => {
      const old = await provisioned('cms-article');
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const created = await callApi(`${old.endpoint_url}/articles`, token, {
          method: 'POST',
          json: { title: `Article ${i} ✓`, body: `body ${i}`, tags: [`t${i % 3}`, 'all'], ...(i === 2 ? { status: 'draft' } : {}) },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        ids.push((created.body as Json).id as string);
      }
      const edited = await callApi(`${old.endpoint_url}/articles/${ids[0]}`, token, {
        method: 'PUT',
        json: { title: 'Edited', body: 'twice', tags: ['x'] },
      });
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      const before = await Promise.all(ids.map((id) => callApi(`${old.endpoint_url}/articles/${id}`, token)));

      const steps: string[] = [];
      const receipt = await moveInstance(client, {
        appId: developer.appId,
        serviceId: old.service_id,
        master: developer.master,
        to: SECOND_PROVIDERS['cms-article'].provider,
        onProgress: (progress) => steps.push(progress.step),
      });
      assert.deepEqual([...new Set(steps)], ['provisioned', 'transfer', 'verified', 'switched']);
      assert.equal(receipt.items, 8);
      assert.equal(receipt.from.service_id, old.service_id);
      assert.equal(receipt.to.provider, SECOND_PROVIDERS['cms-article'].provider);
      assert.ok(receipt.receipt, 'the old instance was terminated with a receipt');

      for (const [index, id] of ids.entries()) {
        const moved = await callApi(`${receipt.to.endpoint_url}/articles/${id}`, token);
        assert.equal(moved.status, 200, `article ${id}`);
        assert.deepEqual(moved.body, before[index]?.body, `article ${id} is the same`);
        assert.equal(moved.headers.get('etag'), before[index]?.headers.get('etag'));
      }
      const bySlug = await callApi(`${receipt.to.endpoint_url}/articles?tag=t1`, token);
      assert.equal(bySlug.status, 200);
      assert.equal(((bySlug.body as Json).articles as unknown[]).length, 3, 'the tag index came along');

      // Service DNS lists the new instance only; the old one no longer serves.
      assert.equal(await listed(old.service_id), undefined);
      assert.equal((await listed(receipt.to.service_id))?.provider, SECOND_PROVIDERS['cms-article'].provider);
      const gone = await callApi(`${old.endpoint_url}/articles/${ids[1]}`, token);
      assert.ok(gone.status === 410 || gone.status === 404, `old instance answered ${gone.status}`);
    });

    it('moves crm-contact: every contact is the same at the new provider', async () => {
      const old = await provisioned('crm-contact');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const created = await callApi(`${old.endpoint_url}/contacts`, token, {
          method: 'POST',
          json: { name: `Ada ${i}`, email: `Ada${i}@Example.com`, ...(i % 2 ? { company: 'Analytical', notes: 'n'.repeat(i) } : {}) },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        ids.push((created.body as Json).id as string);
      }
      const before = await Promise.all(ids.map((id) => callApi(`${old.endpoint_url}/contacts/${id}`, token)));
      const receipt = await moveInstance(client, {
        appId: developer.appId,
        serviceId: old.service_id,
        master: developer.master,
        to: SECOND_PROVIDERS['crm-contact'].provider,
      });
      assert.equal(receipt.items, 7);
      for (const [index, id] of ids.entries()) {
        const moved = await callApi(`${receipt.to.endpoint_url}/contacts/${id}`, token);
        assert.equal(moved.status, 200);
        assert.deepEqual(moved.body, before[index]?.body);
      }
      const duplicate = await callApi(`${receipt.to.endpoint_url}/contacts`, token, {
        method: 'POST',
        json: { name: 'Again', email: 'ada3@example.com' },
      });
      assert.equal(duplicate.status, 409, 'addresses stay unique at the new instance');
    });

    it('moves storage-blob: every object byte for byte, with its content type and metadata', async () => {
      const old = await provisioned('storage-blob');
      const objects: Array<{ key: string; bytes: Buffer; type: string; meta?: string }> = [
        { key: 'a.txt', bytes: Buffer.from('hello'), type: 'text/plain' },
        { key: 'big/random.bin', bytes: randomBytes(200_000), type: 'application/octet-stream' },
        { key: 'empty', bytes: Buffer.alloc(0), type: 'application/x-empty' },
        { key: 'dir/ü nicode/photo.jpg', bytes: randomBytes(70_000), type: 'image/jpeg', meta: 'camera-1' },
        { key: 'z', bytes: Buffer.from('last'), type: 'text/plain' },
      ];
      const path = (key: string) => key.split('/').map(encodeURIComponent).join('/');
      for (const object of objects) {
        const headers: Record<string, string> = {
          authorization: `Bearer ${token}`,
          'content-type': object.type,
          ...(object.meta ? { 'x-swarm-meta-camera': object.meta } : {}),
        };
        const put = await fetch(`${old.endpoint_url}/objects/${path(object.key)}`, { method: 'PUT', headers, body: object.bytes });
        assert.equal(put.status, 201, await put.text());
      }
      const receipt = await moveInstance(client, {
        appId: developer.appId,
        serviceId: old.service_id,
        master: developer.master,
        to: SECOND_PROVIDERS['storage-blob'].provider,
      });
      assert.equal(receipt.items, objects.length);
      for (const object of objects) {
        const got = await fetch(`${receipt.to.endpoint_url}/objects/${path(object.key)}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(got.status, 200, object.key);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(object.bytes), `${object.key} byte for byte`);
        assert.equal(got.headers.get('content-type'), object.type);
        if (object.meta) assert.equal(got.headers.get('x-swarm-meta-camera'), object.meta);
      }
    });

    if (!full) return;

    describe('who may take an instance’s data', () => {
      let old: ProvisionedInstance;
      let target: ProvisionedInstance;
      const move = (fields: Partial<InstanceMoveData> = {}): InstanceMoveData => ({
        app_id: developer.appId,
        service_id: old.service_id,
        source_provider: service('cms-article').provider,
        target_provider: second('cms-article').provider,
        new_service_id: target.service_id,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'instance_move',
        ...fields,
      });
      const importUrl = () => `${second('cms-article').catalogEntry.provision_url}/${target.service_id}/import`;
      const exportUrl = () => `${service('cms-article').catalogEntry.provision_url}/${old.service_id}/export`;
      const page = (
        payload: InstanceMoveData,
        ownerKey: SigningKey,
        providerKey: SigningKey,
        provider = second('cms-article').provider,
        cursor: string | null = null,
      ) =>
        signEnvelope(
          'transfer_page',
          {
            move_id: moveIdOf(payload),
            provider,
            authorization: { payload, signature: signEnvelope('instance_move', payload, ownerKey.privateKey).signature },
            cursor,
            timestamp: nowSeconds(),
            nonce: newNonce(),
          } satisfies TransferPageData,
          providerKey.privateKey,
        );

      before(async () => {
        old = await provisioned('cms-article');
        target = await provisionInstance(second('cms-article'), developer, { service_tier: 'free', region: 'local' });
        const created = await callApi(`${old.endpoint_url}/articles`, token, { method: 'POST', json: { title: 'Kept', body: 'here' } });
        assert.equal(created.status, 201);
      });

      it('refuses a move signed by another app’s Master key (401 invalid_signature), at both providers', async () => {
        const stranger = await createTestDeveloper(network.registry.url);
        const payload = move();
        const atNew = await postJson(importUrl(), signEnvelope('instance_move', payload, stranger.master.privateKey));
        assert.equal(atNew.status, 401, JSON.stringify(atNew.body));
        assert.equal(code(atNew.body), 'invalid_signature');
        const sameProvider = move({ source_provider: second('cms-article').provider });
        const within = await postJson(importUrl(), signEnvelope('instance_move', sameProvider, developer.master.privateKey));
        assert.equal(within.status, 400, 'a move goes to another provider');
        assert.equal(code(within.body), 'invalid_request');
      });

      it('refuses a page request not signed by the target provider’s catalog key, or for another target', async () => {
        const rogue = generateSigningKey();
        const forged = await postJson(exportUrl(), page(move(), developer.master, rogue));
        assert.equal(forged.status, 401);
        assert.equal(code(forged.body), 'invalid_signature');
        const elsewhere = await postJson(exportUrl(), page(move(), developer.master, rogue, 'contact2.crm.local'));
        assert.equal(elsewhere.status, 403, 'only the provider the owner named may ask');
        assert.equal(code(elsewhere.body), 'forbidden');
        const otherSource = await postJson(
          exportUrl(),
          page(move({ source_provider: second('cms-article').provider }), developer.master, rogue),
        );
        assert.equal(otherSource.status, 403);
        assert.equal(code(otherSource.body), 'wrong_provider');
      });

      it('refuses a delegated key without the update grant (403 forbidden) and takes one with it', async () => {
        const ci = await delegatedKey(['provision', 'decommission']);
        const refused = await postJson(importUrl(), signEnvelope('instance_move', move(), ci.privateKey));
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.equal(code(refused.body), 'forbidden');
        const mover = await delegatedKey(['update']);
        const taken = await postJson(importUrl(), signEnvelope('instance_move', move(), mover.privateKey));
        assert.equal(taken.status, 202, JSON.stringify(taken.body));
        const done = await until(async () => {
          const status = (await getJson(importUrl())).body as Json;
          return status.status === 'running' ? null : status;
        });
        assert.equal(done.status, 'done', JSON.stringify(done));
        assert.deepEqual(done.source, done.imported);
      });

      it('answers any malformed body, or a cursor it did not make, with a 4xx and never a 500', async () => {
        await fc.assert(
          fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (body) => {
            const [atOld, atNew] = await Promise.all([postJson(exportUrl(), body), postJson(importUrl(), body)]);
            for (const answer of [atOld, atNew])
              assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${JSON.stringify(answer.body)}`);
          }),
          { numRuns: 40 },
        );
        const providerKey = signingKeyFromPem(await readFile(join(network.dataDir, 'cms-article-2', 'provider-key.pem'), 'utf8'));
        await fc.assert(
          fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_-]{1,300}$/), async (cursor) => {
            const answer = await postJson(exportUrl(), page(move(), developer.master, providerKey, undefined, cursor));
            assert.equal(answer.status, 400, JSON.stringify(answer.body));
            assert.equal(code(answer.body), 'invalid_request');
          }),
          { numRuns: 40 },
        );
      });

      it('with the target provider’s own key: serves a page once, refuses its replay and an owner signature of another app', async () => {
        const providerKey = signingKeyFromPem(await readFile(join(network.dataDir, 'cms-article-2', 'provider-key.pem'), 'utf8'));
        const payload = move();
        const request = page(payload, developer.master, providerKey);
        const served = await postJson(exportUrl(), request);
        assert.equal(served.status, 200, JSON.stringify(served.body));
        const body = served.body as Json;
        assert.equal(body.format, 'swarm-data/1');
        assert.equal(body.service_type, 'cms-article');
        assert.ok((body.items as unknown[]).length > 0);
        const again = await postJson(exportUrl(), request);
        assert.equal(again.status, 409);
        assert.equal(code(again.body), 'nonce_reused');
        const stranger = await createTestDeveloper(network.registry.url);
        const sameMoveOtherSignature = await postJson(exportUrl(), page(payload, stranger.master, providerKey));
        assert.equal(sameMoveOtherSignature.status, 401, 'a known move still needs the owner’s own signature');
        assert.equal(code(sameMoveOtherSignature.body), 'invalid_signature');
        const forgedOwner = await postJson(exportUrl(), page(move(), stranger.master, providerKey));
        assert.equal(forgedOwner.status, 401, JSON.stringify(forgedOwner.body));
        assert.equal(code(forgedOwner.body), 'invalid_signature');
        const stale = await postJson(exportUrl(), page(move({ timestamp: nowSeconds() - 3600 }), developer.master, providerKey));
        assert.equal(stale.status, 401);
        assert.equal(code(stale.body), 'stale_timestamp');
      });
    });

    it('a move to a provider that is down or refuses leaves the old instance serving and says what to do next', async () => {
      const old = await provisioned('cms-article');
      const created = await callApi(`${old.endpoint_url}/articles`, token, { method: 'POST', json: { title: 'Stays', body: 'put' } });
      assert.equal(created.status, 201);
      await assert.rejects(
        moveInstance(client, {
          appId: developer.appId,
          serviceId: old.service_id,
          master: developer.master,
          to: SECOND_PROVIDERS['cms-article'].provider,
          storageGb: 500,
        }),
        (error: SwarmError) => error.code === 'storage_limit_exceeded' && /still serves/.test(error.message),
      );
      // A provider in the catalog that is down: nothing is provisioned, nothing moves.
      const downDir = await mkdtemp(join(tmpdir(), 'swarm-move-down-'));
      const down = await startCmsArticle({
        provider: 'article4.cms.local',
        dataDir: downDir,
        trustedRegistries: [network.trusted],
        egress: { allow: LOOPBACK_CIDRS },
        logLevel: false,
      });
      await down.registerOffer(network.registry.url, network.registry.adminToken);
      await down.close();
      await rm(downDir, { recursive: true, force: true });
      await assert.rejects(
        moveInstance(client, { appId: developer.appId, serviceId: old.service_id, master: developer.master, to: 'article4.cms.local' }),
        (error: SwarmError) => error.code === 'registry_unavailable' && /Nothing was moved: .* still serves/.test(error.message),
      );
      // A delegated key that may provision but not move: the copy is refused after provisioning.
      const ci = await delegatedKey(['provision']);
      let leftBehind = '';
      await assert.rejects(
        moveInstance(client, {
          appId: developer.appId,
          serviceId: old.service_id,
          master: ci,
          to: SECOND_PROVIDERS['cms-article'].provider,
          onProgress: (progress) => {
            if (progress.step === 'provisioned') leftBehind = progress.instance.service_id;
          },
        }),
        (error: SwarmError) => error.code === 'forbidden' && error.message.includes(`--into ${leftBehind}`),
      );
      const stillThere = await callApi(`${old.endpoint_url}/articles/${(created.body as Json).id}`, token);
      assert.equal(stillThere.status, 200, 'the old instance still serves');
      assert.ok(await listed(old.service_id), 'and Service DNS still lists it');
      // The owner finishes the move into the instance the failed one left behind.
      const receipt = await moveInstance(client, {
        appId: developer.appId,
        serviceId: old.service_id,
        master: developer.master,
        to: SECOND_PROVIDERS['cms-article'].provider,
        into: leftBehind,
      });
      assert.equal(receipt.to.service_id, leftBehind);
      assert.equal(receipt.items, 1);
    });

    it('a copy whose digest differs from the old instance fails the move (conflict), the old instance keeps serving, and moving again makes the copy anew', async () => {
      const old = await provisioned('cms-article');
      for (const title of ['One', 'Two']) {
        assert.equal((await callApi(`${old.endpoint_url}/articles`, token, { method: 'POST', json: { title, body: '.' } })).status, 201);
      }
      const target = await provisionInstance(second('cms-article'), developer, { service_tier: 'free', region: 'local' });
      const stray = await callApi(`${target.endpoint_url}/articles`, token, {
        method: 'POST',
        json: { title: 'Stray', body: 'not moved' },
      });
      assert.equal(stray.status, 201);
      await assert.rejects(
        moveInstance(client, {
          appId: developer.appId,
          serviceId: old.service_id,
          master: developer.master,
          to: SECOND_PROVIDERS['cms-article'].provider,
          into: target.service_id,
        }),
        (error: SwarmError) => error.code === 'conflict' && /digest mismatch/.test(error.message) && /still serves/.test(error.message),
      );
      const status = (await getJson(`${second('cms-article').catalogEntry.provision_url}/${target.service_id}/import`)).body as Json;
      assert.equal(status.status, 'failed');
      assert.equal((status.source as Json).items, 2);
      assert.equal((status.imported as Json).items, 3);
      assert.ok(await listed(old.service_id), 'Service DNS still lists the old instance');
      // Moving into it again empties the copy and makes it anew.
      const receipt = await moveInstance(client, {
        appId: developer.appId,
        serviceId: old.service_id,
        master: developer.master,
        to: SECOND_PROVIDERS['cms-article'].provider,
        into: target.service_id,
      });
      assert.equal(receipt.items, 2);
      const strayGone = await callApi(`${target.endpoint_url}/articles/${(stray.body as Json).id}`, token);
      assert.equal(strayGone.status, 404);
    });

    it('a transfer whose new provider stops mid-way resumes from its last committed page after a restart', async () => {
      const old = await provisioned('cms-article');
      for (let i = 0; i < 45; i++) {
        const created = await callApi(`${old.endpoint_url}/articles`, token, {
          method: 'POST',
          json: { title: `Resumed ${i}`, body: `b${i}` },
        });
        assert.equal(created.status, 201);
      }
      // A third cms-article provider of this test's own, so it can be stopped and started again.
      const dataDir = await mkdtemp(join(tmpdir(), 'swarm-move-'));
      const port = await freePort();
      const providerKey = generateSigningKey();
      const start = () =>
        startCmsArticle({
          provider: 'article3.cms.local',
          port,
          dataDir,
          providerKey,
          trustedRegistries: [network.trusted],
          egress: { allow: LOOPBACK_CIDRS },
          logLevel: false,
          bindingRetry: { initialMs: 100, maxMs: 200 },
        });
      let third = await start();
      try {
        await third.registerOffer(network.registry.url, network.registry.adminToken);
        const target = await provision(client, {
          appId: developer.appId,
          serviceType: 'cms-article',
          master: developer.master,
          tier: 'free',
          region: 'local',
          provider: 'article3.cms.local',
        });
        const payload: InstanceMoveData = {
          app_id: developer.appId,
          service_id: old.service_id,
          source_provider: service('cms-article').provider,
          target_provider: 'article3.cms.local',
          new_service_id: target.service_id,
          ...{ timestamp: nowSeconds(), nonce: newNonce() },
          context: 'instance_move',
        };
        const importUrl = `${third.catalogEntry.provision_url}/${target.service_id}/import`;
        const started = await postJson(importUrl, signEnvelope('instance_move', payload, developer.master.privateKey));
        assert.equal(started.status, 202, JSON.stringify(started.body));
        const midway = await until(async () => {
          const status = (await getJson(importUrl)).body as Json;
          return (status.items_copied as number) > 0 ? status : null;
        }, 5);
        assert.equal(midway.status, 'running', 'stopped while the transfer runs');
        await third.close();
        third = await start();
        const done = await until(async () => {
          // A connection kept alive to the stopped server may fail once: asked again.
          const status = (await getJson(importUrl).catch(() => ({ body: { status: 'running' } }))).body as Json;
          return status.status === 'running' ? null : status;
        });
        assert.equal(done.status, 'done', JSON.stringify(done));
        assert.ok((done.resumed_from_items as number) > 0, 'resumed from a committed page, not from the start');
        assert.equal((done.imported as Json).items, 45);
        assert.deepEqual(done.source, done.imported);
        const list = await callApi(`${target.endpoint_url}/articles?limit=100`, token);
        assert.equal(((list.body as Json).articles as unknown[]).length, 45);
      } finally {
        await third.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
}

/** Polls `probe` until it answers something (every `everyMs`), for at most 30 s. */
async function until<T>(probe: () => Promise<T | null>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(everyMs);
  }
}
