import { receiverOf } from '@swarm/runtime';
import { type Kysely, type Migration, sql } from 'kysely';

/** Numbered migrations; each runs once per database (runtime's migrate keeps the table). */
export const migrations: Record<string, Migration> = {
  '001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('registry_settings')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('namespaces')
        .addColumn('namespace', 'text', (c) => c.primaryKey())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('guardian_public_keys', 'text', (c) => c.notNull())
        .addColumn('contact_email', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('apps')
        .addColumn('app_id', 'text', (c) => c.primaryKey())
        .addColumn('zone', 'text', (c) => c.notNull().unique())
        .addColumn('owner_namespace', 'text', (c) => c.notNull().references('namespaces.namespace'))
        .addColumn('project_slug', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('config_epoch', 'bigint', (c) => c.notNull())
        .addColumn('auth_provider_url', 'text')
        .addColumn('auth_public_key', 'text')
        .addColumn('auth_previous_public_key', 'text')
        .addColumn('auth_previous_expires_at', 'bigint')
        .addColumn('billing_provider_url', 'text')
        .addColumn('logging_service_url', 'text')
        .addColumn('services', 'text', (c) => c.notNull())
        .addColumn('log_seq', 'bigint', (c) => c.notNull())
        .addColumn('log_hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('apps_owner_namespace').on('apps').column('owner_namespace').execute();

      await db.schema
        .createTable('catalog')
        .addColumn('provider', 'text', (c) => c.primaryKey())
        .addColumn('service_type', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('events_url', 'text', (c) => c.notNull())
        .addColumn('entry', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('catalog_service_type').on('catalog').column('service_type').execute();

      await db.schema
        .createTable('bindings')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.app_id'))
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('service_type', 'text', (c) => c.notNull())
        .addColumn('endpoint_url', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('previous_public_key', 'text')
        .addColumn('previous_key_expires_at', 'bigint')
        .addColumn('service_tier', 'text')
        .addColumn('region', 'text')
        .addColumn('storage_limit_gb', 'bigint')
        .addColumn('bound_at', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('proof_hash', 'text', (c) => c.notNull().unique())
        .addColumn('last_heartbeat_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_status', 'text')
        .addColumn('revoked_at', 'bigint')
        .addPrimaryKeyConstraint('bindings_pk', ['app_id', 'service_id'])
        .addUniqueConstraint('bindings_provider_service_id', ['provider', 'service_id'])
        .execute();
      await db.schema.createIndex('bindings_app_status').on('bindings').columns(['app_id', 'status']).execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('entry', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_log_pk', ['app_id', 'seq'])
        .execute();

      await db.schema
        .createTable('broadcast_outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'bigint', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('delivered_at', 'bigint')
        .addColumn('last_error', 'text')
        .execute();
      await db.schema.createIndex('broadcast_outbox_due').on('broadcast_outbox').columns(['delivered_at', 'next_attempt_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['broadcast_outbox', 'audit_log', 'bindings', 'catalog', 'apps', 'namespaces', 'registry_settings']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  },
  '002_namespace_key_history': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('namespaces')
        .addColumn('former_public_keys', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('namespaces').dropColumn('former_public_keys').execute();
    },
  },
  '003_broadcast_lanes': {
    // Each row names its receiver (the destination origin) so delivery runs one lane per
    // receiver, and may be dead-lettered (dead_at) instead of lingering forever.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('broadcast_outbox')
        .addColumn('receiver', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.alterTable('broadcast_outbox').addColumn('dead_at', 'bigint').execute();
      const rows = await sql<{ id: string; url: string }>`select id, url from broadcast_outbox`.execute(db);
      for (const row of rows.rows) {
        await sql`update broadcast_outbox set receiver = ${receiverOf(row.url) ?? ''} where id = ${row.id}`.execute(db);
      }
      await db.schema
        .createIndex('broadcast_outbox_lane_due')
        .on('broadcast_outbox')
        .columns(['receiver', 'delivered_at', 'dead_at', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('broadcast_outbox_app_state')
        .on('broadcast_outbox')
        .columns(['app_id', 'delivered_at', 'dead_at', 'created_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('broadcast_outbox_app_state').ifExists().execute();
      await db.schema.dropIndex('broadcast_outbox_lane_due').ifExists().execute();
      await db.schema.alterTable('broadcast_outbox').dropColumn('dead_at').execute();
      await db.schema.alterTable('broadcast_outbox').dropColumn('receiver').execute();
    },
  },
  '004_binding_updates': {
    // Each applied instance update (docs/PROTOCOL.md, "Changing a running instance"): its id
    // answers a provider's retry idempotently and the owner can look it up.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('binding_updates')
        .addColumn('update_id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('service_tier', 'text', (c) => c.notNull())
        .addColumn('region', 'text')
        .addColumn('storage_limit_gb', 'bigint', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('binding_updates_instance').on('binding_updates').columns(['app_id', 'service_id', 'at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('binding_updates').ifExists().execute();
    },
  },
  '005_app_retirements': {
    // A retired app keeps its row (its app_id, zone and audit log stay taken and readable);
    // this table says when it retired and keeps its slug from being registered again.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('app_retirements')
        .addColumn('app_id', 'text', (c) => c.primaryKey())
        .addColumn('owner_namespace', 'text', (c) => c.notNull())
        .addColumn('project_slug', 'text', (c) => c.notNull())
        .addColumn('retired_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('app_retirements_slug').on('app_retirements').columns(['owner_namespace', 'project_slug']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('app_retirements').ifExists().execute();
    },
  },
  '006_delegations': {
    // Keys the Master key granted actions on listed apps until an expiry (docs/PROTOCOL.md).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('delegations')
        .addColumn('delegation_id', 'text', (c) => c.primaryKey())
        .addColumn('namespace', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('apps', 'text', (c) => c.notNull())
        .addColumn('actions', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('delegations_namespace').on('delegations').columns(['namespace', 'expires_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('delegations').ifExists().execute();
    },
  },
  '007_registry_migration': {
    // An app moving between registries (docs/REGISTRY.md, "Migration"): at the source, the
    // signed successor on the app row (status `migrated`); at the target, one row per prepared
    // import with what prepare created, so an abort removes exactly that.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('apps').addColumn('successor', 'text').execute();
      await db.schema
        .createTable('migration_imports')
        .addColumn('app_id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('export', 'text', (c) => c.notNull())
        .addColumn('proof', 'text', (c) => c.notNull())
        .addColumn('proof_digest', 'text', (c) => c.notNull())
        .addColumn('guardian_key', 'text')
        .addColumn('service_ids', 'text', (c) => c.notNull())
        .addColumn('created_namespace', 'integer', (c) => c.notNull())
        .addColumn('created_providers', 'text', (c) => c.notNull())
        .addColumn('successor', 'text')
        .addColumn('contest_ends_at', 'bigint')
        .addColumn('prepared_at', 'bigint', (c) => c.notNull())
        .addColumn('activated_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('migration_imports').ifExists().execute();
      await db.schema.alterTable('apps').dropColumn('successor').execute();
    },
  },
};
