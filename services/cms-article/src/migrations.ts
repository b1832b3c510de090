import { migrationDialect, tsVectorSql } from '@swarm/service-kit';
import { type Kysely, type Migration, sql } from 'kysely';

/** The article table's migrations; rows from before a step keep working after it. */
export const articleMigrations: Record<string, Migration> = {
  '001_articles': {
    up: async (db) => {
      await db.schema
        .createTable('cms_articles')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('cms_articles_pk', ['service_id', 'id'])
        .execute();
    },
  },
  // Who wrote what (docs/SERVICE-KIT.md, "Roles"): the token's sub; null for rows from before.
  '002_authors': {
    up: async (db) => {
      await db.schema.alterTable('cms_articles').addColumn('created_by', 'text').execute();
      await db.schema.alterTable('cms_articles').addColumn('updated_by', 'text').execute();
    },
  },
  // Publishing: articles from before are published (they were visible to every reader) and
  // take their id as slug, which is unique and already what links to them use.
  '003_publishing': {
    up: async (db) => {
      await db.schema.alterTable('cms_articles').addColumn('slug', 'text').execute();
      await db.schema
        .alterTable('cms_articles')
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('published'))
        .execute();
      await db.schema
        .alterTable('cms_articles')
        .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema.alterTable('cms_articles').addColumn('published_at', 'bigint').execute();
      await sql`update cms_articles set slug = id, published_at = created_at where slug is null`.execute(db);
      await db.schema.createIndex('cms_articles_slug').unique().on('cms_articles').columns(['service_id', 'slug']).execute();
      // The order every list pages in.
      await db.schema.createIndex('cms_articles_order').on('cms_articles').columns(['service_id', 'created_at', 'id']).execute();
      await db.schema
        .createTable('cms_article_tags')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('article_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('cms_article_tags_pk', ['service_id', 'tag', 'article_id'])
        .execute();
      await backfillTags(db);
      await createSearchIndex(db);
    },
  },
};

async function backfillTags(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ service_id: string; id: string; tags: string }>`select service_id, id, tags from cms_articles`.execute(db);
  for (const row of rows) {
    for (const tag of new Set(JSON.parse(row.tags) as string[])) {
      await sql`insert into cms_article_tags (service_id, tag, article_id) values (${row.service_id}, ${tag}, ${row.id})`.execute(db);
    }
  }
}

/**
 * Full-text search over title and body. SQLite: an FTS5 index over the table's rows, kept by
 * triggers, so no write path can forget it (`unicode61` with diacritics kept, as PostgreSQL's
 * `simple` keeps them). PostgreSQL: a stored `tsvector` column with a GIN index.
 */
async function createSearchIndex(db: Kysely<unknown>): Promise<void> {
  if (migrationDialect(db) === 'postgres') {
    await sql
      .raw(`alter table cms_articles add column search tsvector generated always as (${tsVectorSql(['title', 'body'])}) stored`)
      .execute(db);
    await sql`create index cms_articles_search on cms_articles using gin (search)`.execute(db);
    return;
  }
  await sql`create virtual table cms_articles_fts using fts5(title, body, content='cms_articles', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')`.execute(
    db,
  );
  await sql`create trigger cms_articles_fts_insert after insert on cms_articles begin
    insert into cms_articles_fts(rowid, title, body) values (new.rowid, new.title, new.body);
  end`.execute(db);
  await sql`create trigger cms_articles_fts_delete after delete on cms_articles begin
    insert into cms_articles_fts(cms_articles_fts, rowid, title, body) values ('delete', old.rowid, old.title, old.body);
  end`.execute(db);
  await sql`create trigger cms_articles_fts_update after update of title, body on cms_articles begin
    insert into cms_articles_fts(cms_articles_fts, rowid, title, body) values ('delete', old.rowid, old.title, old.body);
    insert into cms_articles_fts(rowid, title, body) values (new.rowid, new.title, new.body);
  end`.execute(db);
  await sql`insert into cms_articles_fts(cms_articles_fts) values ('rebuild')`.execute(db);
}
