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
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import fc from 'fast-check';
import { startCmsArticle } from '../src/index.js';

// The suite, run on SQLite and on PostgreSQL by two files (each its own time budget: 2 500 articles are made through the API).

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

interface Article {
  id: string;
  slug: string;
  status: 'draft' | 'published';
  title: string;
  version: number;
  tags: string[];
  created_by: string | null;
  updated_by: string | null;
  published_at: number | null;
}
type Page = { articles: Article[]; next_cursor: string | null };

/** Runs `task` over `items`, `width` at a time. */
async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

export function publishingSuite(name: string, storage: 'sqlite' | 'postgres') {
  const skip = storage === 'postgres' && !postgresUrl ? 'SWARM_TEST_POSTGRES_URL is not set' : false;
  describe(name, { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-cms-pub-'));
    const schema = `cms_publishing_${process.pid}`;
    let registry: RegistryHandle;
    let service: ServiceHandle;
    let developer: TestDeveloper;
    let instance: ProvisionedInstance;
    let editor: string;
    let reader: string;
    const articles = () => `${instance.endpoint_url}/articles`;
    const create = async (json: Record<string, unknown>, token = editor) => {
      const answer = await callApi(articles(), token, { method: 'POST', json: { body: '', ...json } });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body as Article;
    };
    const list = async (query: string, token = editor) => {
      const answer = await callApi(`${articles()}?${query}`, token);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body as Page;
    };
    /** Every page of a listing, following next_cursor. */
    const walk = async (query: string, token = editor, during?: () => Promise<void>) => {
      const seen: Article[] = [];
      let cursor: string | null = null;
      do {
        const page: Page = await list(`${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token);
        seen.push(...page.articles);
        await during?.();
        cursor = page.next_cursor;
      } while (cursor !== null);
      return seen;
    };

    before(async () => {
      if (storage === 'postgres') await ensurePostgresSchema(postgresUrl as string, schema);
      registry = await startRegistry({
        port: 0,
        dataDir: join(dir, 'registry'),
        dnsPort: false,
        logLevel: false,
        egress: { allow: LOOPBACK_CIDRS },
      });
      service = await startCmsArticle({
        port: 0,
        dataDir: join(dir, 'cms'),
        trustedRegistries: [trustedRegistryOf(registry)],
        logLevel: false,
        ...(storage === 'postgres' ? { databaseUrl: postgresUrl, databaseSchema: schema } : {}),
      });
      await service.registerOffer(registry.url, registry.adminToken);
      developer = await createTestDeveloper(registry.url);
      instance = await provisionInstance(service, developer);
      editor = await developer.token({ sub: 'ed', roles: ['editor'] });
      reader = await developer.token({ sub: 'rea', roles: ['reader'] });
    });
    after(async () => {
      await service?.close();
      await registry?.close();
      if (storage === 'postgres') await dropPostgresSchema(postgresUrl as string, schema);
      rmSync(dir, { recursive: true, force: true });
    });

    it('walks 2 500 articles page by page, every id exactly once, while others are inserted', async () => {
      const ids: string[] = [];
      await inParallel(
        Array.from({ length: 2500 }, (_, i) => i),
        8,
        async (i) => {
          ids.push((await create({ title: `Walk ${i}`, tags: ['walk'] })).id);
        },
      );
      let inserted = 0;
      const seen = await walk('tag=walk&limit=97', editor, async () => {
        await create({ title: `During ${inserted++}`, tags: ['walk'] });
      });
      const counts = new Map<string, number>();
      for (const article of seen) counts.set(article.id, (counts.get(article.id) ?? 0) + 1);
      for (const id of ids) assert.equal(counts.get(id), 1, `article ${id} seen once`);
      assert.ok(
        [...counts.values()].every((n) => n === 1),
        'no article twice',
      );
      assert.equal((await list('tag=walk&limit=1000')).articles.length, 1000, 'the maximum page');
      assert.equal((await callApi(`${articles()}?limit=1001`, editor)).status, 400);
      const first = await list('');
      assert.equal(first.articles.length, 100, 'the default page');
      assert.equal(typeof first.next_cursor, 'string');
    });

    it('keeps drafts from readers: list, id, slug and search', async () => {
      const draft = await create({ title: 'Secret launch plan', body: 'zeppelin', status: 'draft', tags: ['plans'] });
      const published = await create({ title: 'Public launch', body: 'zeppelin', tags: ['plans'] });
      assert.equal(draft.status, 'draft');
      assert.equal(draft.published_at, null);
      assert.equal(published.status, 'published');
      const readerIds = (await walk('tag=plans', reader)).map((a) => a.id);
      assert.deepEqual(readerIds, [published.id]);
      const editorIds = (await walk('tag=plans', editor)).map((a) => a.id).sort();
      assert.deepEqual(editorIds, [draft.id, published.id].sort());
      assert.deepEqual(
        (await walk('tag=plans&status=draft', editor)).map((a) => a.id),
        [draft.id],
      );
      const asked = await callApi(`${articles()}?status=draft`, reader);
      assert.equal(asked.status, 403);
      assert.equal(code(asked.body), 'forbidden');
      assert.equal((await callApi(`${articles()}/${draft.id}`, reader)).status, 404);
      assert.equal((await callApi(`${articles()}/slug/${draft.slug}`, reader)).status, 404);
      assert.equal((await callApi(`${articles()}/${draft.id}`, editor)).status, 200);
      assert.deepEqual(
        (await walk('q=zeppelin', reader)).map((a) => a.id),
        [published.id],
      );
      assert.deepEqual((await walk('q=zeppelin', editor)).map((a) => a.id).sort(), [draft.id, published.id].sort());
      // A reader cannot write, draft or not.
      assert.equal((await callApi(articles(), reader, { method: 'POST', json: { title: 't', body: '' } })).status, 403);
    });

    it('forgets a cached article the moment it goes back to draft', async () => {
      const article = await create({ title: 'Cached then hidden' });
      for (let i = 0; i < 3; i++) assert.equal((await callApi(`${articles()}/${article.id}`, reader)).status, 200);
      const hidden = await callApi(`${articles()}/${article.id}`, editor, {
        method: 'PUT',
        json: { title: 'Cached then hidden', body: '', status: 'draft' },
      });
      assert.equal(hidden.status, 200);
      assert.equal((await callApi(`${articles()}/${article.id}`, reader)).status, 404);
      await callApi(`${articles()}/${article.id}`, editor, { method: 'PUT', json: { title: 'Back', body: '', status: 'published' } });
      assert.equal(((await callApi(`${articles()}/${article.id}`, reader)).body as Article).title, 'Back');
    });

    it('gives unique slugs per instance and finds articles by slug', async () => {
      const one = await create({ title: 'Héllo, Wörld!' });
      assert.equal(one.slug, 'hello-world');
      const two = await create({ title: 'Hello world' });
      assert.notEqual(two.slug, one.slug, 'a slug made from a title gives way');
      assert.match(two.slug, /^hello-world-[0-9a-f]{8}$/);
      const chosen = await create({ title: 'x', slug: 'my-post' });
      const taken = await callApi(articles(), editor, { method: 'POST', json: { title: 'y', body: '', slug: 'my-post' } });
      assert.equal(taken.status, 409);
      assert.equal(code(taken.body), 'conflict');
      assert.equal((taken.body as { error: { existing_id: string } }).error.existing_id, chosen.id);
      const renamed = await callApi(`${articles()}/${two.id}`, editor, { method: 'PUT', json: { title: 'z', body: '', slug: 'my-post' } });
      assert.equal(renamed.status, 409, 'a rename onto a taken slug');
      const bySlug = await callApi(`${articles()}/slug/my-post`, reader);
      assert.equal(bySlug.status, 200);
      assert.equal((bySlug.body as Article).id, chosen.id);
      assert.equal((await callApi(`${articles()}/slug/no-such`, reader)).status, 404);
      for (const slug of ['Upper', 'two--hyphens', '-edge', 'spa ce', '', 'x'.repeat(121)]) {
        const bad = await callApi(articles(), editor, { method: 'POST', json: { title: 't', body: '', slug } });
        assert.equal(bad.status, 400, slug);
      }
      // The same slug in another instance is its own.
      const elsewhere = await provisionInstance(service, developer);
      const other = await callApi(`${elsewhere.endpoint_url}/articles`, editor, {
        method: 'POST',
        json: { title: 'x', body: '', slug: 'my-post' },
      });
      assert.equal(other.status, 201);
    });

    it('searches title and body by word, all words, any case, nothing by substring', async () => {
      const a = await create({ title: 'Tides of Brittany', body: 'Granite coasts and fishing harbours.', tags: ['s'] });
      const b = await create({ title: 'Harbours', body: 'Every HARBOUR has its tides.', tags: ['s'] });
      // Two articles made in the same second are in id order: compared as sets.
      const ids = async (q: string) => (await walk(`tag=s&q=${encodeURIComponent(q)}`)).map((x) => x.id).sort();
      assert.deepEqual(await ids('tides'), [a.id, b.id].sort());
      assert.deepEqual(await ids('GRANITE'), [a.id]);
      assert.deepEqual(await ids('harbours tides'), [a.id, b.id].sort());
      assert.deepEqual(await ids('harbour'), [b.id], 'a word, not a substring');
      assert.deepEqual(await ids('granite harbour'), [], 'every word must match');
      assert.deepEqual(await ids('"tides" OR -x*'), [], 'operators are only words');
      assert.deepEqual(await ids('"brittany" (NEAR)'), []);
      assert.deepEqual(await ids('brittany!'), [a.id]);
      assert.deepEqual(await ids('!! %'), [], 'a search without words finds nothing');
      // A changed article is found by its new words only.
      await callApi(`${articles()}/${a.id}`, editor, { method: 'PUT', json: { title: 'Moors', body: 'heather', tags: ['s'] } });
      assert.deepEqual(await ids('granite'), []);
      assert.deepEqual(await ids('heather'), [a.id]);
      await callApi(`${articles()}/${a.id}`, editor, { method: 'DELETE' });
      assert.deepEqual(await ids('heather'), []);
    });

    it('versions every write: ETag, 304, and 412 on a stale If-Match that changes nothing', async () => {
      const article = await create({ title: 'v1' });
      assert.equal(article.version, 1);
      assert.equal(article.created_by, 'ed');
      const url = `${articles()}/${article.id}`;
      const read = await callApi(url, reader);
      assert.equal(read.headers.get('etag'), '"1"');
      const notModified = await fetch(url, { headers: { authorization: `Bearer ${reader}`, 'if-none-match': '"1"' } });
      assert.equal(notModified.status, 304);
      const put = (title: string, headers: Record<string, string>) =>
        fetch(url, {
          method: 'PUT',
          headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ title, body: '' }),
        });
      const second = await put('v2', { 'if-match': '"1"' });
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('etag'), '"2"');
      assert.equal(((await second.json()) as Article).version, 2);
      const stale = await put('lost update', { 'if-match': '"1"' });
      assert.equal(stale.status, 412);
      assert.equal(code(await stale.json()), 'precondition_failed');
      assert.equal(((await callApi(url, reader)).body as Article).title, 'v2');
      assert.equal((await put('bad', { 'if-match': 'nope' })).status, 400);
      const other = await developer.token({ sub: 'another', roles: ['editor'] });
      const third = await callApi(url, other, { method: 'PUT', json: { title: 'v3', body: '' } });
      assert.equal((third.body as Article).updated_by, 'another');
      assert.equal((third.body as Article).created_by, 'ed');
      const gone = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${editor}`, 'if-match': '"2"' } });
      assert.equal(gone.status, 412);
      const deleted = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${editor}`, 'if-match': '"3"' } });
      assert.equal(deleted.status, 204);
    });

    it('serves its OpenAPI description without a token', async () => {
      const answer = await fetch(`${service.url}/openapi.json`);
      assert.equal(answer.status, 200);
      const description = (await answer.json()) as { openapi: string; info: { title: string }; paths: Record<string, unknown> };
      assert.equal(description.info.title, 'cms-article');
      assert.match(description.openapi, /^3\./);
      assert.ok(description.paths['/articles/slug/{slug}']);
    });

    it('refuses bad cursors and filters with invalid_request', async () => {
      const page = await list('limit=1');
      const cursor = page.next_cursor as string;
      for (const query of [
        `cursor=${cursor}&tag=other`,
        `cursor=${cursor}&q=word`,
        'cursor=!!',
        'cursor=eyJ2IjoxfQ',
        'limit=0',
        'status=gone',
        'unknown=1',
      ]) {
        const answer = await callApi(`${articles()}?${query}`, editor);
        assert.equal(answer.status, 400, query);
        assert.equal(code(answer.body), 'invalid_request', query);
      }
      // A reader's cursor and an editor's walk different lists.
      assert.equal((await callApi(`${articles()}?limit=1&cursor=${cursor}`, reader)).status, 400);
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 200 }), async (text) => {
          const answer = await callApi(`${articles()}?cursor=${encodeURIComponent(text)}`, editor);
          assert.ok(answer.status === 400 || answer.status === 200, `${answer.status} for ${JSON.stringify(text)}`);
        }),
        { numRuns: 40 },
      );
    });
  });
}
