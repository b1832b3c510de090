import type { MIGRATION_PATHS, MIGRATION_STATES } from '@swarm/protocol';
import type { Executor, MigrationImportsTable } from './schema.js';

/** One migration prepared at this registry (the target), as routes/migration.ts works with it. */
export interface MigrationImportRow {
  appId: string;
  source: string;
  state: (typeof MIGRATION_STATES)[number];
  path: (typeof MIGRATION_PATHS)[number];
  /** The signed export and the proof as received, JSON text. */
  exportJson: string;
  proofJson: string;
  proofDigest: string;
  guardianKey: string | null;
  serviceIds: string[];
  createdNamespace: boolean;
  createdProviders: string[];
  successor: string | null;
  contestEndsAt: number | null;
  preparedAt: number;
  activatedAt: number | null;
  endedAt: number | null;
}

const num = (value: number | string | null): number | null => (value === null ? null : Number(value));

function toRow(row: MigrationImportsTable): MigrationImportRow {
  return {
    appId: row.app_id,
    source: row.source,
    state: row.state as MigrationImportRow['state'],
    path: row.path as MigrationImportRow['path'],
    exportJson: row.export,
    proofJson: row.proof,
    proofDigest: row.proof_digest,
    guardianKey: row.guardian_key,
    serviceIds: JSON.parse(row.service_ids) as string[],
    createdNamespace: Number(row.created_namespace) === 1,
    createdProviders: JSON.parse(row.created_providers) as string[],
    successor: row.successor,
    contestEndsAt: num(row.contest_ends_at),
    preparedAt: Number(row.prepared_at),
    activatedAt: num(row.activated_at),
    endedAt: num(row.ended_at),
  };
}

function toTable(row: MigrationImportRow): MigrationImportsTable {
  return {
    app_id: row.appId,
    source: row.source,
    state: row.state,
    path: row.path,
    export: row.exportJson,
    proof: row.proofJson,
    proof_digest: row.proofDigest,
    guardian_key: row.guardianKey,
    service_ids: JSON.stringify(row.serviceIds),
    created_namespace: row.createdNamespace ? 1 : 0,
    created_providers: JSON.stringify(row.createdProviders),
    successor: row.successor,
    contest_ends_at: row.contestEndsAt,
    prepared_at: row.preparedAt,
    activated_at: row.activatedAt,
    ended_at: row.endedAt,
  };
}

/** The migration prepared for `appId`, read in `db` (a transaction locks the app row first). */
export async function findImport(db: Executor, appId: string): Promise<MigrationImportRow | null> {
  const row = await db.selectFrom('migration_imports').selectAll().where('app_id', '=', appId).executeTakeFirst();
  return row ? toRow(row) : null;
}

/** Writes the row, replacing an earlier (aborted) one of the same app. */
export async function putImport(db: Executor, row: MigrationImportRow): Promise<void> {
  await db.deleteFrom('migration_imports').where('app_id', '=', row.appId).execute();
  await db.insertInto('migration_imports').values(toTable(row)).execute();
}

export async function saveImport(db: Executor, row: MigrationImportRow): Promise<void> {
  const { app_id, ...fields } = toTable(row);
  await db.updateTable('migration_imports').set(fields).where('app_id', '=', app_id).execute();
}
