import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance, trustedRegistryOf } from '@swarm/dev-env';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS, migrate, openDatabase } from '@swarm/runtime';
import { kitDatabaseFile, type ServiceHandle } from '@swarm/service-kit';
import { sql } from 'kysely';
import { startCmsArticle } from '../src/index.js';
import { articleMigrations } from '../src/migrations.js';

/** Articles written before statuses, slugs, tags and search existed keep working after the upgrade. */
describe('cms-article upgrade of existing articles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-cms-upgrade-'));
  const dataDir = join(dir, 'cms');
  let registry: RegistryHandle;
  let service: ServiceHandle;

  before(async () => {
    // The database as the previous version left it: migrations 001 and 002, two articles.
    mkdirSync(dataDir, { recursive: true });
    const old = openDatabase<unknown>({ file: kitDatabaseFile(dataDir, 'cms-article') });
    const { '001_articles': first, '002_authors': second } = articleMigrations;
    await migrate(old.db, 'domain_cms_article', { '001_articles': first as never, '002_authors': second as never });
    for (const [id, title, tags] of [
      ['old-1', 'Lighthouses of the north', '["coast"]'],
      ['old-2', 'Inland rivers', '[]'],
    ]) {
      await sql`insert into cms_articles (service_id, id, title, body, tags, created_at, updated_at, created_by, updated_by)
        values ('placeholder', ${id}, ${title}, 'kept as written', ${tags}, 1, 1, 'someone', 'someone')`.execute(old.db);
    }
    await old.close();
    registry = await startRegistry({
      port: 0,
      dataDir: join(dir, 'registry'),
      dnsPort: false,
      logLevel: false,
      egress: { allow: LOOPBACK_CIDRS },
    });
    service = await startCmsArticle({ port: 0, dataDir, trustedRegistries: [trustedRegistryOf(registry)], logLevel: false });
    await service.registerOffer(registry.url, registry.adminToken);
  });
  after(async () => {
    await service?.close();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists, reads, filters and finds them as published articles with their id as slug', async () => {
    const developer = await createTestDeveloper(registry.url);
    const instance = await provisionInstance(service, developer);
    // The old rows move into the new instance, as if they had been written there.
    const db = openDatabase<unknown>({ file: kitDatabaseFile(dataDir, 'cms-article') });
    await sql`update cms_articles set service_id = ${instance.service_id} where service_id = 'placeholder'`.execute(db.db);
    await sql`update cms_article_tags set service_id = ${instance.service_id} where service_id = 'placeholder'`.execute(db.db);
    await db.close();
    const reader = await developer.token({ roles: ['reader'] });
    const url = `${instance.endpoint_url}/articles`;
    const list = (await callApi(url, reader)).body as { articles: Array<{ id: string; slug: string; status: string; version: number }> };
    assert.deepEqual(
      list.articles.map((a) => [a.id, a.slug, a.status, a.version]),
      [
        ['old-1', 'old-1', 'published', 1],
        ['old-2', 'old-2', 'published', 1],
      ],
    );
    assert.equal((await callApi(`${url}/slug/old-2`, reader)).status, 200);
    const tagged = (await callApi(`${url}?tag=coast`, reader)).body as { articles: Array<{ id: string }> };
    assert.deepEqual(
      tagged.articles.map((a) => a.id),
      ['old-1'],
    );
    const found = (await callApi(`${url}?q=lighthouses`, reader)).body as { articles: Array<{ id: string }> };
    assert.deepEqual(
      found.articles.map((a) => a.id),
      ['old-1'],
    );
    const editor = await developer.token({ roles: ['editor'] });
    const put = await fetch(`${url}/old-2`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json', 'if-match': '"1"' },
      body: JSON.stringify({ title: 'Inland rivers, revised', body: 'b' }),
    });
    assert.equal(put.status, 200);
    assert.equal(((await put.json()) as { slug: string }).slug, 'old-2', 'the slug is kept');
  });
});
