import { join } from 'node:path';
import { migrate } from '@swarm/runtime';
import type { Kysely, Migration } from 'kysely';

export type InstanceStatus = 'binding' | 'active' | 'failed' | 'revoked';

/**
 * The kit's tables as SQL has them (snake_case columns). Code works with the camelCase rows
 * below; the mappers at the end of this file are the one place that translates, so no Kysely
 * plugin is needed (the prepared-query path would bypass one).
 */
export interface KitInstancesTable {
  service_id: string;
  app_id: string;
  service_tier: string;
  region: string;
  storage_limit_gb: number;
  status: InstanceStatus;
  error_code: string | null;
  error_message: string | null;
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

export interface KitContextsTable {
  service_id: string;
  app_id: string;
  config_epoch: number;
  context: string;
  context_signature: string;
  fetched_at: number;
}

export interface KitOutboxTable {
  id: string;
  service_id: string;
  app_id: string;
  kind: 'usage' | 'logs';
  data: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  dead_at: number | null;
}

export interface KitUsageCountersTable {
  service_id: string;
  metric: string;
  app_id: string;
  value: number;
  period_start: number;
}

/** An owner's update of an instance (docs/SERVICE-KIT.md, "Updating an instance"). */
export interface KitInstanceUpdatesTable {
  update_id: string;
  service_id: string;
  app_id: string;
  /** `{ payload, signature }` of the owner's update, forwarded verbatim to the registry. */
  developer_proof: string;
  service_tier: string;
  region: string;
  storage_limit_gb: number;
  status: 'pending' | 'applied' | 'failed';
  error_code: string | null;
  error_message: string | null;
  requested_at: number;
  applied_at: number | null;
}

/**
 * A transfer into one of this provider's instances (docs/DATA-TRANSFER.md), one per target
 * instance: the owner's permission, the old provider's cursor after the last committed page,
 * and the counts a resume and the final check need.
 */
export interface KitTransfersTable {
  service_id: string;
  move_id: string;
  app_id: string;
  source_service_id: string;
  source_provider: string;
  /** `{ payload, signature }` of the owner's `instance_move`, shown to the old provider with every page. */
  authorization: string;
  cursor: string | null;
  items_copied: number;
  pages: number;
  resumed_from_items: number | null;
  status: 'running' | 'done' | 'failed';
  error_code: string | null;
  error_message: string | null;
  /** JSON `TransferSummary` of the old instance (its last page) and of this one after the import. */
  source_summary: string | null;
  imported_summary: string | null;
  started_at: number;
  finished_at: number | null;
}

/** A move an old instance's owner allowed, checked once (fresh signature, nonce) and then named by its id. */
export interface KitMoveGrantsTable {
  move_id: string;
  service_id: string;
  app_id: string;
  target_provider: string;
  new_service_id: string;
  /** The owner's signature as verified; later pages must show the same one. */
  signature: string;
  granted_at: number;
}

/** Where an instance is bound when it is not the registry its app_id names (the app moved: rebind.ts). */
export interface KitBoundRegistriesTable {
  service_id: string;
  app_id: string;
  authority: string;
  bound_at: number;
}

export interface KitTables {
  kit_bound_registries: KitBoundRegistriesTable;
  kit_transfers: KitTransfersTable;
  kit_move_grants: KitMoveGrantsTable;
  kit_instance_updates: KitInstanceUpdatesTable;
  kit_instances: KitInstancesTable;
  kit_contexts: KitContextsTable;
  kit_outbox: KitOutboxTable;
  kit_usage_counters: KitUsageCountersTable;
}

export interface InstanceRow {
  serviceId: string;
  appId: string;
  serviceTier: string;
  region: string;
  storageLimitGb: number;
  status: InstanceStatus;
  errorCode: string | null;
  errorMessage: string | null;
  /** PKCS#8 PEM of the instance key; null once the instance is removed. */
  instanceKey: string | null;
  pendingKey: string | null;
  developerProof: string;
  attempts: number;
  nextAttemptAt: number;
  boundAt: number | null;
  terminated: number;
  wiped: number;
  createdAt: number;
}

export interface ContextRow {
  serviceId: string;
  appId: string;
  configEpoch: number;
  context: string;
  contextSignature: string;
  fetchedAt: number;
}

export interface OutboxRow {
  id: string;
  serviceId: string;
  appId: string;
  kind: 'usage' | 'logs';
  /** The report's data without `timestamp`, which is set when it is signed and sent. */
  data: string;
  createdAt: number;
  /** Failed attempts so far. */
  attempts: number;
  /** Milliseconds: the row is not sent before (backoff, or its receiver's breaker is open). */
  nextAttemptAt: number;
  lastError: string | null;
  /** Set when the receiver refused the row for good or it stayed unsent too long: the operator may retry it. */
  deadAt: number | null;
}

/** Usage counted since the last flush, kept on disk so a crash loses none of it. */
export interface UsageCounterRow {
  serviceId: string;
  metric: string;
  appId: string;
  value: number;
  periodStart: number;
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
  '004_instance_updates': {
    up: async (db) => {
      await db.schema
        .createTable('kit_instance_updates')
        .ifNotExists()
        .addColumn('update_id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('developer_proof', 'text', (c) => c.notNull())
        .addColumn('service_tier', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('storage_limit_gb', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('requested_at', 'bigint', (c) => c.notNull())
        .addColumn('applied_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('kit_instance_updates_instance')
        .ifNotExists()
        .on('kit_instance_updates')
        .columns(['service_id', 'status'])
        .execute();
    },
  },
  '005_transfers': {
    up: async (db) => {
      await db.schema
        .createTable('kit_transfers')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.primaryKey())
        .addColumn('move_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('source_service_id', 'text', (c) => c.notNull())
        .addColumn('source_provider', 'text', (c) => c.notNull())
        .addColumn('authorization', 'text', (c) => c.notNull())
        .addColumn('cursor', 'text')
        .addColumn('items_copied', 'bigint', (c) => c.notNull())
        .addColumn('pages', 'bigint', (c) => c.notNull())
        .addColumn('resumed_from_items', 'bigint')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('source_summary', 'text')
        .addColumn('imported_summary', 'text')
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema
        .createTable('kit_move_grants')
        .ifNotExists()
        .addColumn('move_id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('target_provider', 'text', (c) => c.notNull())
        .addColumn('new_service_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('granted_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '006_bound_registries': {
    up: async (db) => {
      await db.schema
        .createTable('kit_bound_registries')
        .ifNotExists()
        .addColumn('service_id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('authority', 'text', (c) => c.notNull())
        .addColumn('bound_at', 'bigint', (c) => c.notNull())
        .execute();
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

// PostgreSQL returns bigint columns as strings: every row read goes through a mapper with Number().

export function instanceToRow(row: KitInstancesTable): InstanceRow {
  return {
    serviceId: row.service_id,
    appId: row.app_id,
    serviceTier: row.service_tier,
    region: row.region,
    storageLimitGb: Number(row.storage_limit_gb),
    status: row.status,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    instanceKey: row.instance_key,
    pendingKey: row.pending_key,
    developerProof: row.developer_proof,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    boundAt: row.bound_at === null ? null : Number(row.bound_at),
    terminated: Number(row.terminated),
    wiped: Number(row.wiped),
    createdAt: Number(row.created_at),
  };
}

export function instanceToTable(row: InstanceRow): KitInstancesTable {
  return {
    service_id: row.serviceId,
    app_id: row.appId,
    service_tier: row.serviceTier,
    region: row.region,
    storage_limit_gb: row.storageLimitGb,
    status: row.status,
    error_code: row.errorCode,
    error_message: row.errorMessage,
    instance_key: row.instanceKey,
    pending_key: row.pendingKey,
    developer_proof: row.developerProof,
    attempts: row.attempts,
    next_attempt_at: row.nextAttemptAt,
    bound_at: row.boundAt,
    terminated: row.terminated,
    wiped: row.wiped,
    created_at: row.createdAt,
  };
}

const INSTANCE_COLUMNS: { readonly [K in keyof InstanceRow]: keyof KitInstancesTable } = {
  serviceId: 'service_id',
  appId: 'app_id',
  serviceTier: 'service_tier',
  region: 'region',
  storageLimitGb: 'storage_limit_gb',
  status: 'status',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  instanceKey: 'instance_key',
  pendingKey: 'pending_key',
  developerProof: 'developer_proof',
  attempts: 'attempts',
  nextAttemptAt: 'next_attempt_at',
  boundAt: 'bound_at',
  terminated: 'terminated',
  wiped: 'wiped',
  createdAt: 'created_at',
};

/** Every column of an instance row (an insert writes them all). */
export const INSTANCE_TABLE_COLUMNS = Object.values(INSTANCE_COLUMNS);

/** The columns an update of some fields sets (the fields given, each under its column name). */
export function instanceChangesToTable(changes: Partial<InstanceRow>): Partial<KitInstancesTable> {
  const columns: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(changes)) {
    if (value !== undefined) columns[INSTANCE_COLUMNS[field as keyof InstanceRow]] = value;
  }
  return columns as Partial<KitInstancesTable>;
}

export function contextToRow(row: KitContextsTable): ContextRow {
  return {
    serviceId: row.service_id,
    appId: row.app_id,
    configEpoch: Number(row.config_epoch),
    context: row.context,
    contextSignature: row.context_signature,
    fetchedAt: Number(row.fetched_at),
  };
}

export function contextToTable(row: ContextRow): KitContextsTable {
  return {
    service_id: row.serviceId,
    app_id: row.appId,
    config_epoch: row.configEpoch,
    context: row.context,
    context_signature: row.contextSignature,
    fetched_at: row.fetchedAt,
  };
}

export function outboxToRow(row: KitOutboxTable): OutboxRow {
  return {
    id: row.id,
    serviceId: row.service_id,
    appId: row.app_id,
    kind: row.kind,
    data: row.data,
    createdAt: Number(row.created_at),
    attempts: Number(row.attempts ?? 0),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: row.last_error,
    deadAt: row.dead_at === null ? null : Number(row.dead_at),
  };
}

export function outboxToTable(row: OutboxRow): KitOutboxTable {
  return {
    id: row.id,
    service_id: row.serviceId,
    app_id: row.appId,
    kind: row.kind,
    data: row.data,
    created_at: row.createdAt,
    attempts: row.attempts,
    next_attempt_at: row.nextAttemptAt,
    last_error: row.lastError,
    dead_at: row.deadAt,
  };
}

export function usageCounterToRow(row: KitUsageCountersTable): UsageCounterRow {
  return {
    serviceId: row.service_id,
    metric: row.metric,
    appId: row.app_id,
    value: Number(row.value),
    periodStart: Number(row.period_start),
  };
}
