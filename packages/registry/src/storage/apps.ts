import { compileOnce, type Dialect, type Prepare, slotsOf } from '@swarm/runtime';
import type { AppsTable, Executor, RegistryDb, RegistryTables } from './schema.js';

export const APP_STATUSES = ['active', 'suspended', 'retired', 'importing', 'migrated'] as const;
export type AppStatus = (typeof APP_STATUSES)[number];

export interface AppRow {
  appId: string;
  zone: string;
  ownerNamespace: string;
  projectSlug: string;
  displayName: string;
  description: string | null;
  /**
   * `retired` by its owner (docs/REGISTRY.md, "Retiring an app"): kept, never active again.
   * `importing`: prepared here by a migration, not yet activated; `migrated`: released to another
   * registry (docs/REGISTRY.md, "Migration").
   */
  status: AppStatus;
  createdAt: number;
  configEpoch: number;
  authProviderUrl: string | null;
  authPublicKey: string | null;
  authPreviousPublicKey: string | null;
  authPreviousExpiresAt: number | null;
  billingProviderUrl: string | null;
  loggingServiceUrl: string | null;
  services: Record<string, string>;
  logSeq: number;
  logHash: string;
  /** Status `migrated`: the signed successor envelope as JSON text. */
  successor: string | null;
}

const num = (value: number | string | null): number | null => (value === null ? null : Number(value));

function toRow(row: AppsTable): AppRow {
  return {
    appId: row.app_id,
    zone: row.zone,
    ownerNamespace: row.owner_namespace,
    projectSlug: row.project_slug,
    displayName: row.display_name,
    description: row.description,
    status: (APP_STATUSES as readonly string[]).includes(row.status) ? (row.status as AppStatus) : 'active',
    createdAt: Number(row.created_at),
    configEpoch: Number(row.config_epoch),
    authProviderUrl: row.auth_provider_url,
    authPublicKey: row.auth_public_key,
    authPreviousPublicKey: row.auth_previous_public_key,
    authPreviousExpiresAt: num(row.auth_previous_expires_at),
    billingProviderUrl: row.billing_provider_url,
    loggingServiceUrl: row.logging_service_url,
    services: JSON.parse(row.services) as Record<string, string>,
    logSeq: Number(row.log_seq),
    logHash: row.log_hash,
    successor: row.successor ?? null,
  };
}

function toTable(row: AppRow): AppsTable {
  return {
    app_id: row.appId,
    zone: row.zone,
    owner_namespace: row.ownerNamespace,
    project_slug: row.projectSlug,
    display_name: row.displayName,
    description: row.description,
    status: row.status,
    created_at: row.createdAt,
    config_epoch: row.configEpoch,
    auth_provider_url: row.authProviderUrl,
    auth_public_key: row.authPublicKey,
    auth_previous_public_key: row.authPreviousPublicKey,
    auth_previous_expires_at: row.authPreviousExpiresAt,
    billing_provider_url: row.billingProviderUrl,
    logging_service_url: row.loggingServiceUrl,
    services: JSON.stringify(row.services),
    log_seq: row.logSeq,
    log_hash: row.logHash,
    successor: row.successor,
  };
}

/** The app reads every lookup starts with, compiled once (outside transactions only). */
export interface AppReads {
  find(appId: string): Promise<AppRow | null>;
  /** The app a zone names, with what Service DNS needs of it (status, and the successor of a released app). */
  byZone(zone: string): Promise<{ appId: string; status: string; successor: string | null } | null>;
}

export function prepareAppReads(db: RegistryDb, prepare: Prepare): AppReads {
  const byId = prepare<{ appId: string }, AppsTable>((value) => db.selectFrom('apps').selectAll().where('app_id', '=', value('appId')));
  const byZone = prepare<{ zone: string }, { app_id: string; status: string; successor: string | null }>((value) =>
    db.selectFrom('apps').select(['app_id', 'status', 'successor']).where('zone', '=', value('zone')),
  );
  return {
    async find(appId) {
      const row = await byId.first({ appId });
      return row ? toRow(row) : null;
    },
    async byZone(zone) {
      const row = await byZone.first({ zone });
      return row ? { appId: row.app_id, status: row.status, successor: row.successor } : null;
    },
  };
}

/** The app row, read inside `db` (a transaction that reads more of the same moment). */
export async function findApp(db: Executor, appId: string): Promise<AppRow | null> {
  const row = await db.selectFrom('apps').selectAll().where('app_id', '=', appId).executeTakeFirst();
  return row ? toRow(row) : null;
}

/**
 * Reads the app row for a change. On PostgreSQL the row is locked until the transaction ends,
 * which orders every change of one app (and its audit chain) across replicas; SQLite runs one
 * write transaction at a time anyway.
 */
export async function lockApp(db: Executor, dialect: Dialect, appId: string): Promise<AppRow | null> {
  const row = await (dialect === 'postgres' ? appForUpdate : appById).first(db, { appId });
  return row ? toRow(row) : null;
}

// Every change of an app reads and saves its row: both are compiled once.
const appById = compileOnce<RegistryTables, { appId: string }, AppsTable>((db, value) =>
  db.selectFrom('apps').selectAll().where('app_id', '=', value('appId')),
);
const appForUpdate = compileOnce<RegistryTables, { appId: string }, AppsTable>((db, value) =>
  db.selectFrom('apps').selectAll().where('app_id', '=', value('appId')).forUpdate(),
);
const MUTABLE_APP_COLUMNS = [
  'display_name',
  'description',
  'status',
  'config_epoch',
  'auth_provider_url',
  'auth_public_key',
  'auth_previous_public_key',
  'auth_previous_expires_at',
  'billing_provider_url',
  'logging_service_url',
  'services',
  'log_seq',
  'log_hash',
  'successor',
] as const satisfies ReadonlyArray<keyof AppsTable>;
/** A column added to the table without being listed here would never be saved: this fails to compile then. */
type UnsavedAppColumns = Exclude<
  keyof AppsTable,
  (typeof MUTABLE_APP_COLUMNS)[number] | 'app_id' | 'zone' | 'owner_namespace' | 'project_slug' | 'created_at'
>;
const everyAppColumnSaved: [UnsavedAppColumns] extends [never] ? true : never = true;
void everyAppColumnSaved;
const appSave = compileOnce<RegistryTables, AppsTable, unknown>((db, value) =>
  db.updateTable('apps').set(slotsOf(value, MUTABLE_APP_COLUMNS)).where('app_id', '=', value('app_id')),
);

export async function findAppIdsOfNamespace(db: Executor, namespace: string): Promise<string[]> {
  const rows = await db.selectFrom('apps').select('app_id').where('owner_namespace', '=', namespace).orderBy('app_id').execute();
  return rows.map((row) => row.app_id);
}

export async function insertApp(db: Executor, row: AppRow): Promise<void> {
  await db.insertInto('apps').values(toTable(row)).execute();
}

/** Writes back every mutable field of a row read with lockApp. */
export async function saveApp(db: Executor, row: AppRow): Promise<void> {
  await appSave.run(db, toTable(row));
}
