import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import { type Database, openDatabase } from '@swarm/runtime';
import { type DataTransfer, type DomainContext, domainContext, type InstanceInfo, migrateDomain } from '@swarm/service-kit';
import fc from 'fast-check';
import { articlesDomain } from '../src/articles.js';
import type { Tables } from '../src/tables.js';

/** cms-article's item mapping for `swarm move` (docs/DATA-TRANSFER.md), against a real SQLite file. */
describe('cms-article: articles leave and come in as swarm-data/1 items', () => {
  const transfer = articlesDomain.transfer as DataTransfer<Tables>;
  let dir: string;
  let database: Database<unknown>;
  let context: DomainContext<Tables>;
  let counter = 0;
  const instance = (): InstanceInfo => ({
    serviceId: `cms-article-${String(counter++).padStart(10, '0')}`,
    appId: 'local.swarm.alice.blog.k3j9x0d2ab',
    serviceTier: 'free',
    region: 'local',
    storageLimitGb: 1,
  });
  const refused = (code: string) => (error: unknown) => error instanceof SwarmError && error.code === code;
  const exportAll = async (from: InstanceInfo) => {
    const items: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = await transfer.exportPage(from, cursor, { maxItems: 2, maxBytes: 1, withData: true }, context);
      items.push(...page.items);
      cursor = page.next;
    } while (cursor !== null);
    return items;
  };
  const article = fc.record({
    id: fc.uuid(),
    slug: fc.stringMatching(/^[a-z0-9]{1,20}$/),
    status: fc.constantFrom('draft', 'published'),
    title: fc.string({ minLength: 1, maxLength: 40 }),
    body: fc.string({ maxLength: 200 }),
    tags: fc.uniqueArray(fc.stringMatching(/^[a-z]{1,8}$/), { maxLength: 4 }),
    version: fc.integer({ min: 1, max: 1000 }),
    created_at: fc.integer({ min: 0, max: 2 ** 31 }),
    updated_at: fc.integer({ min: 0, max: 2 ** 31 }),
    published_at: fc.option(fc.integer({ min: 0, max: 2 ** 31 })),
    created_by: fc.option(fc.string({ maxLength: 20 })),
    updated_by: fc.option(fc.string({ maxLength: 20 })),
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-cms-transfer-'));
    database = openDatabase<unknown>({ file: join(dir, 'cms-article.db') });
    await migrateDomain(database, 'cms-article', articlesDomain.migrations);
    context = domainContext<Tables>(database, dir, () => 'http://127.0.0.1:9/i/x/api/v1');
  });
  after(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('any articles come in as they left, whatever the page size, and a page written twice changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(article, { selector: (a) => a.slug, maxLength: 7 }), async (articles) => {
        const from = instance();
        const to = instance();
        await transfer.importPage(from, articles, context);
        const exported = await exportAll(from);
        assert.equal(exported.length, articles.length);
        for (const item of exported) {
          await transfer.importPage(to, [item], context);
          await transfer.importPage(to, [item], context);
        }
        assert.deepEqual(await exportAll(to), exported);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses an item that does not parse (invalid_request) and a slug another article holds (conflict), writing nothing', async () => {
    const to = instance();
    const [one] = fc.sample(article, 1);
    await assert.rejects(transfer.importPage(to, [{ ...one, extra: 1 }], context), refused('invalid_request'));
    await assert.rejects(transfer.importPage(to, [{ ...one, version: 0 }], context), refused('invalid_request'));
    await assert.rejects(transfer.importPage(to, ['not an article'], context), refused('invalid_request'));
    await transfer.importPage(to, [{ ...one, id: 'first', slug: 'taken' }], context);
    await assert.rejects(
      transfer.importPage(
        to,
        [
          { ...one, id: 'second-a', slug: 'free' },
          { ...one, id: 'second-b', slug: 'taken' },
        ],
        context,
      ),
      refused('conflict'),
    );
    assert.deepEqual(
      (await exportAll(to)).map((item) => (item as { id: string }).id),
      ['first'],
      'the page that failed wrote nothing',
    );
  });
});
