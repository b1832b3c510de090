import { join } from 'node:path';
import { migrate } from '@swarm/runtime';
import type { Kysely, Migration } from 'kysely';

export type InstanceStatus = 'binding' | 'active' | 'failed' | 'revoked';

export interface InstanceRow {
  service_id: string;
  app_id: string;
  service_tier: string;
  region: string;
  storage_limit_gb: number;
  status: InstanceStatus;
  error_code: string | null;
  error_message: string | null;
  /** PKCS#8 PEM of the instance key; null once the instance is removed. */
  instance_key: string | null;
  pending_key: string | null;
  developer_proof: string;
  attempts: number;
  next_attempt_at: number;
  bound_at: number | null;
  terminated: number;
  wiped: number;
  created_at: number;
}

export interface ContextRow {
  service_id: string;
  app_id: string;
  config_epoch: number;
  context: string;
  context_signature: string;
  fetched_at: number;
}

export interface OutboxRow {
  id: string;
  service_id: string;
  app_id: string;
  kind: 'usage' | 'logs';
  /** The report's data without `timestamp`, which is set when it is signed and sent. */
  data: string;
  created_at: number;
  /** Failed attempts so far. */
  attempts: number;
  /** Milliseconds: the row is not sent before (backoff, or its receiver's breaker is open). */
  next_attempt_at: number;
  last_error: string | null;
  /** Set when the receiver refused the row for good or it stayed unsent too long: the operator may retry it. */
  dead_at: number | null;
}

/** Usage counted since the last flush, kept on disk so a crash loses none of it. */
export interface UsageCounterRow {
  service_id: string;
  metric: string;
  app_id: string;
  value: number;
  period_start: number;
}

export interface KitTables {
  kit_instances: InstanceRow;
  kit_contexts: ContextRow;
  kit_outbox: OutboxRow;
  kit_usage_counters: UsageCounterRow;
}

const migrations: Record<string, Migration> = {
  '001_instances': {
    up: async (db) => {
      await db.schema
        .createTable('kit_instances')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('service_tier', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('storage_limit_gb', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('instance_key', 'text')
        .addColumn('pending_key', 'text')
        .addColumn('developer_proof', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('bound_at', 'bigint')
        .addColumn('terminated', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('wiped', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('kit_instances_app').ifNotExists().on('kit_instances').column('app_id').execute();
      await db.schema
        .createTable('kit_contexts')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('config_epoch', 'bigint', (c) => c.notNull())
        .addColumn('context', 'text', (c) => c.notNull())
        .addColumn('context_signature', 'text', (c) => c.notNull())
        .addColumn('fetched_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('kit_outbox')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('kit_outbox_created').ifNotExists().on('kit_outbox').column('created_at').execute();
    },
  },
  '002_usage_counters': {
    up: async (db) => {
      await db.schema
        .createTable('kit_usage_counters')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addColumn('period_start', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('kit_usage_counters_pk', ['service_id', 'metric'])
        .execute();
    },
  },
  '003_outbox_lanes': {
    // Rows back off on their own and may be dead-lettered, instead of being retried at every
    // flush forever (or deleted unseen when a receiver refused them).
    up: async (db) => {
      await db.schema
        .alterTable('kit_outbox')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('kit_outbox')
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('kit_outbox').addColumn('last_error', 'text').execute();
      await db.schema.alterTable('kit_outbox').addColumn('dead_at', 'bigint').execute();
      await db.schema.createIndex('kit_outbox_due').ifNotExists().on('kit_outbox').columns(['dead_at', 'next_attempt_at']).execute();
      await db.schema.createIndex('kit_outbox_app').ifNotExists().on('kit_outbox').columns(['app_id', 'dead_at']).execute();
    },
  },
};

/** Where a service keeps its SQLite database (kit and domain tables) under its data folder. */
export function kitDatabaseFile(dataDir: string, serviceType: string): string {
  return join(dataDir, `${serviceType}.db`);
}

export async function migrateKit(db: Kysely<KitTables>): Promise<void> {
  await migrate(db, 'kit', migrations);
}

/** PostgreSQL returns bigint columns as strings; every row read goes through here. */
export function instanceFromRow(row: InstanceRow): InstanceRow {
  return {
    ...row,
    storage_limit_gb: Number(row.storage_limit_gb),
    attempts: Number(row.attempts),
    next_attempt_at: Number(row.next_attempt_at),
    bound_at: row.bound_at === null ? null : Number(row.bound_at),
    terminated: Number(row.terminated),
    wiped: Number(row.wiped),
    created_at: Number(row.created_at),
  };
}
