import { migrationDialect, tsVectorSql } from '@swarm/service-kit';
import { type Kysely, type Migration, sql } from 'kysely';

/** The contact table's migrations; rows from before a step keep working after it. */
export const contactMigrations: Record<string, Migration> = {
  '001_contacts': {
    up: async (db) => {
      await db.schema
        .createTable('crm_contacts')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('company', 'text')
        .addColumn('notes', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('crm_contacts_pk', ['service_id', 'id'])
        .execute();
    },
  },
  // Who wrote what (docs/SERVICE-KIT.md, "Roles"): the token's sub; null for rows from before.
  '002_authors': {
    up: async (db) => {
      await db.schema.alterTable('crm_contacts').addColumn('created_by', 'text').execute();
      await db.schema.alterTable('crm_contacts').addColumn('updated_by', 'text').execute();
    },
  },
  // Unique emails, versions, a paging index and search. Contacts from before that share an
  // address keep it: the oldest holds it, the others are kept under a normalized form that
  // cannot be an address (a space and their id), so nothing is lost and each stays reachable.
  '003_unique_emails_and_search': {
    up: async (db) => {
      const postgres = migrationDialect(db) === 'postgres';
      await db.schema.alterTable('crm_contacts').addColumn('email_normalized', 'text').execute();
      await db.schema
        .alterTable('crm_contacts')
        .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(1))
        .execute();
      await sql`update crm_contacts set email_normalized = lower(trim(email))`.execute(db);
      await sql`update crm_contacts set email_normalized = email_normalized || ' ' || id
        where exists (select 1 from crm_contacts c2 where c2.service_id = crm_contacts.service_id
          and c2.email_normalized = crm_contacts.email_normalized
          and (c2.created_at < crm_contacts.created_at or (c2.created_at = crm_contacts.created_at and c2.id < crm_contacts.id)))`.execute(
        db,
      );
      await db.schema.createIndex('crm_contacts_email').unique().on('crm_contacts').columns(['service_id', 'email_normalized']).execute();
      // Names compare byte by byte on both databases, so pages and cursors mean the same on each.
      if (postgres) await sql`alter table crm_contacts alter column name type text collate "C"`.execute(db);
      await db.schema.createIndex('crm_contacts_order').on('crm_contacts').columns(['service_id', 'name', 'id']).execute();
      await createSearchIndex(db, postgres);
    },
  },
};

/**
 * Search over name, email and company, each word a prefix (search as one types). SQLite: an
 * FTS5 index kept by triggers (`unicode61` splits `ada@example.com` into its words).
 * PostgreSQL: a stored `tsvector` over the same words, with a GIN index.
 */
async function createSearchIndex(db: Kysely<unknown>, postgres: boolean): Promise<void> {
  if (postgres) {
    await sql
      .raw(`alter table crm_contacts add column search tsvector generated always as (${tsVectorSql(['name', 'email', 'company'])}) stored`)
      .execute(db);
    await sql`create index crm_contacts_search on crm_contacts using gin (search)`.execute(db);
    return;
  }
  await sql`create virtual table crm_contacts_fts using fts5(name, email, company, content='crm_contacts', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')`.execute(
    db,
  );
  await sql`create trigger crm_contacts_fts_insert after insert on crm_contacts begin
    insert into crm_contacts_fts(rowid, name, email, company) values (new.rowid, new.name, new.email, new.company);
  end`.execute(db);
  await sql`create trigger crm_contacts_fts_delete after delete on crm_contacts begin
    insert into crm_contacts_fts(crm_contacts_fts, rowid, name, email, company) values ('delete', old.rowid, old.name, old.email, old.company);
  end`.execute(db);
  await sql`create trigger crm_contacts_fts_update after update of name, email, company on crm_contacts begin
    insert into crm_contacts_fts(crm_contacts_fts, rowid, name, email, company) values ('delete', old.rowid, old.name, old.email, old.company);
    insert into crm_contacts_fts(rowid, name, email, company) values (new.rowid, new.name, new.email, new.company);
  end`.execute(db);
  await sql`insert into crm_contacts_fts(crm_contacts_fts) values ('rebuild')`.execute(db);
}
