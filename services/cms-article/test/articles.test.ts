import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS, openDatabase } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { type CmsArticleOptions, startCmsArticle } from '../src/index.js';

/** Every part of this test runs on loopback, which a part refuses to send to by default. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

function articleSuite(
  name: string,
  storage: () => Partial<CmsArticleOptions>,
  setup?: { before(): Promise<void>; after(): Promise<void> },
) {
  describe(name, { skip: storage === skipped ? 'SWARM_TEST_POSTGRES_URL is not set' : false }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-cms-'));
    let registry: RegistryHandle;
    let service: ServiceHandle;
    let developer: TestDeveloper;
    let instance: ProvisionedInstance;
    let token: string;

    before(async () => {
      await setup?.before();
      registry = await startRegistry({ port: 0, dataDir: join(dir, 'registry'), dnsPort: false, logLevel: false, egress: LOCAL_EGRESS });
      service = await startCmsArticle({
        port: 0,
        dataDir: join(dir, 'cms'),
        trustedRegistries: [trustedRegistryOf(registry)],
        logLevel: false,
        ...storage(),
      });
      await service.registerOffer(registry.url, registry.adminToken);
      developer = await createTestDeveloper(registry.url);
      instance = await provisionInstance(service, developer, { service_tier: 'pro_cluster', region: 'eu-central-1' });
      token = await developer.token();
    });
    after(async () => {
      await service?.close();
      await registry?.close();
      await setup?.after();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates, lists, reads, updates and deletes articles', async () => {
      const url = `${instance.endpoint_url}/articles`;
      const created = await callApi(url, token, { method: 'POST', json: { title: 'Hello', body: 'Wörld ✓', tags: ['news'] } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const article = created.body as { id: string; title: string; body: string; tags: string[] };
      assert.deepEqual(
        { title: article.title, body: article.body, tags: article.tags },
        { title: 'Hello', body: 'Wörld ✓', tags: ['news'] },
      );
      const list = (await callApi(url, token)).body as { articles: Array<{ id: string }> };
      assert.deepEqual(
        list.articles.map((a) => a.id),
        [article.id],
      );
      const updated = await callApi(`${url}/${article.id}`, token, { method: 'PUT', json: { title: 'Hello again', body: 'b' } });
      assert.equal(updated.status, 200);
      assert.deepEqual((updated.body as { tags: string[] }).tags, []);
      assert.equal(((await callApi(`${url}/${article.id}`, token)).body as { title: string }).title, 'Hello again');
      assert.equal((await callApi(`${url}/${article.id}`, token, { method: 'DELETE' })).status, 204);
      const gone = await callApi(`${url}/${article.id}`, token);
      assert.equal(gone.status, 404);
      assert.equal(code(gone.body), 'not_found');
      assert.equal((await callApi(`${url}/${article.id}`, token, { method: 'PUT', json: { title: 'x', body: 'y' } })).status, 404);
    });

    it('refuses invalid articles and changes nothing', async () => {
      const url = `${instance.endpoint_url}/articles`;
      for (const json of [
        { title: '', body: 'x' },
        { title: 'x' },
        { title: 'x', body: 'y', tags: 'news' },
        { title: 'x', body: 'y', author: 'z' },
        'text',
      ]) {
        const answer = await callApi(url, token, { method: 'POST', json });
        assert.equal(answer.status, 400, JSON.stringify(json));
        assert.equal(code(answer.body), 'invalid_request');
      }
      assert.deepEqual(((await callApi(url, token)).body as { articles: unknown[] }).articles, []);
    });

    it('answers every read with the latest write, however often the article was read before', async () => {
      const url = `${instance.endpoint_url}/articles`;
      const { id } = (await callApi(url, token, { method: 'POST', json: { title: 'v1', body: '.' } })).body as { id: string };
      const title = async () => {
        const answer = await callApi(`${url}/${id}`, token);
        return answer.status === 200 ? (answer.body as { title: string }).title : answer.status;
      };
      assert.equal(await title(), 'v1');
      assert.equal(await title(), 'v1');
      await callApi(`${url}/${id}`, token, { method: 'PUT', json: { title: 'v2', body: '.' } });
      const [a, b, c] = await Promise.all([title(), title(), title()]);
      assert.deepEqual([a, b, c, await title()], ['v2', 'v2', 'v2', 'v2']);
      // A read racing a write answers the old or the new article, and the next read the new one.
      const racing = Promise.all([title(), title()]);
      await callApi(`${url}/${id}`, token, { method: 'PUT', json: { title: 'v3', body: '.' } });
      for (const seen of await racing) assert.ok(seen === 'v2' || seen === 'v3', String(seen));
      assert.equal(await title(), 'v3');
      const [first, again] = [await callApi(`${url}/${id}`, token), await callApi(`${url}/${id}`, token)];
      assert.equal(again.headers.get('content-type'), first.headers.get('content-type'));
      assert.match(first.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(again.bytes, first.bytes);
      await callApi(`${url}/${id}`, token, { method: 'DELETE' });
      assert.equal(await title(), 404);
    });

    it('answers an article changed by another connection to its database as changed', async () => {
      const url = `${instance.endpoint_url}/articles`;
      const { id } = (await callApi(url, token, { method: 'POST', json: { title: 'before', body: '.' } })).body as { id: string };
      assert.equal(((await callApi(`${url}/${id}`, token)).body as { title: string }).title, 'before');
      const { databaseUrl, databaseSchema } = storage();
      const other = openDatabase<{ cms_articles: { id: string; title: string } }>({
        file: join(dir, 'cms', 'cms-article.db'),
        url: databaseUrl,
        schema: databaseSchema,
      });
      try {
        await other.db.updateTable('cms_articles').set({ title: 'after' }).where('id', '=', id).execute();
      } finally {
        await other.close();
      }
      assert.equal(((await callApi(`${url}/${id}`, token)).body as { title: string }).title, 'after');
    });

    it('keeps the articles of two apps apart', async () => {
      const other = await createTestDeveloper(registry.url);
      const otherInstance = await provisionInstance(service, other);
      const mine = await callApi(`${instance.endpoint_url}/articles`, token, { method: 'POST', json: { title: 'mine', body: '.' } });
      const id = (mine.body as { id: string }).id;
      assert.equal((await callApi(`${instance.endpoint_url}/articles/${id}`, token)).status, 200, 'read once, and kept');
      const otherToken = await other.token();
      assert.equal((await callApi(`${otherInstance.endpoint_url}/articles/${id}`, otherToken)).status, 404);
      assert.equal((await callApi(`${instance.endpoint_url}/articles/${id}`, otherToken)).status, 401);
      assert.equal((await callApi(`${otherInstance.endpoint_url}/articles/${id}`, otherToken, { method: 'DELETE' })).status, 404);
      assert.equal((await callApi(`${instance.endpoint_url}/articles/${id}`, token)).status, 200);
    });
  });
}

const skipped = () => ({});
articleSuite('cms-article on SQLite', () => ({}));
const schema = `cms_article_test_${process.pid}`;
articleSuite(
  'cms-article on PostgreSQL',
  postgresUrl ? () => ({ databaseUrl: postgresUrl, databaseSchema: schema }) : skipped,
  postgresUrl
    ? { before: () => ensurePostgresSchema(postgresUrl, schema), after: () => dropPostgresSchema(postgresUrl, schema) }
    : undefined,
);
