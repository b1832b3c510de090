import { compileOnce, type Prepare, type PreparedQuery, type RunInTransaction, type Slot, slotsOf, write } from '@swarm/runtime';
import type { BindingsTable, Executor, RegistryDb, RegistryTables } from './schema.js';

export interface BindingRow {
  appId: string;
  serviceId: string;
  provider: string;
  serviceType: string;
  endpointUrl: string;
  publicKey: string;
  previousPublicKey: string | null;
  previousKeyExpiresAt: number | null;
  serviceTier: string | null;
  region: string | null;
  storageLimitGb: number | null;
  boundAt: number;
  /** `imported`: carried over by a migration, waiting for its instance to re-bind here (docs/REGISTRY.md, "Migration"). */
  status: 'active' | 'revoked' | 'imported';
  proofHash: string;
  lastHeartbeatAt: number;
  heartbeatStatus: string | null;
  revokedAt: number | null;
  /** Its last change after binding (an update, a key rotation, a re-bind), null when none. */
  changedAt: number | null;
}

const num = (value: number | string | null): number | null => (value === null ? null : Number(value));

function toRow(row: BindingsTable): BindingRow {
  return {
    appId: row.app_id,
    serviceId: row.service_id,
    provider: row.provider,
    serviceType: row.service_type,
    endpointUrl: row.endpoint_url,
    publicKey: row.public_key,
    previousPublicKey: row.previous_public_key,
    previousKeyExpiresAt: num(row.previous_key_expires_at),
    serviceTier: row.service_tier,
    region: row.region,
    storageLimitGb: num(row.storage_limit_gb),
    boundAt: Number(row.bound_at),
    status: row.status === 'revoked' || row.status === 'imported' ? row.status : 'active',
    proofHash: row.proof_hash,
    lastHeartbeatAt: Number(row.last_heartbeat_at),
    heartbeatStatus: row.heartbeat_status,
    revokedAt: num(row.revoked_at),
    changedAt: num(row.changed_at ?? null),
  };
}

export async function findBinding(db: Executor, appId: string, serviceId: string): Promise<BindingRow | null> {
  const row = await db
    .selectFrom('bindings')
    .selectAll()
    .where('app_id', '=', appId)
    .where('service_id', '=', serviceId)
    .executeTakeFirst();
  return row ? toRow(row) : null;
}

export async function findBindingByProof(db: Executor, proofHash: string): Promise<BindingRow | null> {
  const row = await db.selectFrom('bindings').selectAll().where('proof_hash', '=', proofHash).executeTakeFirst();
  return row ? toRow(row) : null;
}

/**
 * Every binding a new one would clash with, in one query: the one this developer proof already
 * bound, and any holding `serviceId` in the app or at the provider (both unique).
 */
export async function findBindingClashes(
  db: Executor,
  clash: { proofHash: string; appId: string; provider: string; serviceId: string },
): Promise<BindingRow[]> {
  return (await bindingClashes.all(db, clash)).map(toRow);
}

// Every binding runs these two: compiled once.
const bindingClashes = compileOnce<
  RegistryTables,
  { proofHash: string; appId: string; provider: string; serviceId: string },
  BindingsTable
>((db, value) =>
  db
    .selectFrom('bindings')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('proof_hash', '=', value('proofHash')),
        eb.and([eb('app_id', '=', value('appId')), eb('service_id', '=', value('serviceId'))]),
        eb.and([eb('provider', '=', value('provider')), eb('service_id', '=', value('serviceId'))]),
      ]),
    ),
);
const BINDING_COLUMNS = [
  'app_id',
  'service_id',
  'provider',
  'service_type',
  'endpoint_url',
  'public_key',
  'previous_public_key',
  'previous_key_expires_at',
  'service_tier',
  'region',
  'storage_limit_gb',
  'bound_at',
  'status',
  'proof_hash',
  'last_heartbeat_at',
  'heartbeat_status',
  'revoked_at',
  'changed_at',
] as const satisfies ReadonlyArray<keyof BindingsTable>;
const bindingInsert = compileOnce<RegistryTables, BindingsTable, unknown>((db, value) =>
  db.insertInto('bindings').values(slotsOf(value, BINDING_COLUMNS)),
);

/** The active bindings of `provider` among `serviceIds` (a provider heartbeat's instances), one query. */
async function findProviderBindings(db: Executor, provider: string, serviceIds: readonly string[]): Promise<BindingRow[]> {
  if (serviceIds.length === 0) return [];
  const rows = await db
    .selectFrom('bindings')
    .selectAll()
    .where('provider', '=', provider)
    .where('status', '=', 'active')
    .where('service_id', 'in', serviceIds)
    .execute();
  return rows.map(toRow);
}

/**
 * The binding lists Service DNS answers from (active: the HTTP lookup; healthy, i.e. beat since
 * `since`: DNS), compiled once. Outside transactions only.
 */
export interface BindingReads {
  active(appId: string, serviceType?: string): Promise<BindingRow[]>;
  /** Every active binding by service_type and service_id: DNS keeps the healthy ones (liveness.ts). */
  listed(appId: string): Promise<BindingRow[]>;
  /** The active bindings of `provider` among `serviceIds` (a provider's batch of beats). */
  ofProvider(provider: string, serviceIds: readonly string[]): Promise<BindingRow[]>;
}

export function prepareBindingReads(db: RegistryDb, prepare: Prepare, dialect: 'sqlite' | 'postgres'): BindingReads {
  const activeOf = (appId: string) => db.selectFrom('bindings').selectAll().where('app_id', '=', appId).where('status', '=', 'active');
  const active = prepare<{ appId: string }, BindingsTable>((value) => activeOf(value('appId')).orderBy('bound_at').orderBy('service_id'));
  const activeOfType = prepare<{ appId: string; serviceType: string }, BindingsTable>((value) =>
    activeOf(value('appId')).where('service_type', '=', value('serviceType')).orderBy('bound_at').orderBy('service_id'),
  );
  const listed = prepare<{ appId: string }, BindingsTable>((value) =>
    activeOf(value('appId')).orderBy('service_type').orderBy('service_id'),
  );
  const atProvider = prepare<{ provider: string; serviceId: string }, BindingsTable>((value) =>
    db
      .selectFrom('bindings')
      .selectAll()
      .where('provider', '=', value('provider'))
      .where('service_id', '=', value('serviceId'))
      .where('status', '=', 'active'),
  );
  return {
    async active(appId, serviceType) {
      const rows = serviceType === undefined ? await active.all({ appId }) : await activeOfType.all({ appId, serviceType });
      return rows.map(toRow);
    },
    async listed(appId) {
      return (await listed.all({ appId })).map(toRow);
    },
    async ofProvider(provider, serviceIds) {
      // PostgreSQL: one round trip. SQLite: point reads on the (provider, service_id) key; 500
      // of them cost less than building and compiling one query with 500 values.
      if (dialect === 'postgres') return findProviderBindings(db, provider, serviceIds);
      const rows = await Promise.all(serviceIds.map((serviceId) => atProvider.first({ provider, serviceId })));
      return rows.filter((row): row is BindingsTable => row !== undefined).map(toRow);
    },
  };
}

/** Every active binding with its app's zone, ordered by zone: what a zone transfer publishes (liveness filters). */
export async function activeBindingsByZone(db: Executor): Promise<{ zone: string; binding: BindingRow }[]> {
  const rows = await db
    .selectFrom('bindings')
    .innerJoin('apps', 'apps.app_id', 'bindings.app_id')
    .selectAll('bindings')
    .select('apps.zone as zone')
    .where('bindings.status', '=', 'active')
    // An app being imported is not served yet, and a released one answers its DNAME instead.
    .where('apps.status', 'not in', ['importing', 'migrated'])
    .orderBy('apps.zone')
    .orderBy('bindings.service_type')
    .orderBy('bindings.service_id')
    .execute();
  return rows.map(({ zone, ...row }) => ({ zone, binding: toRow(row as BindingsTable) }));
}

export async function insertBinding(db: Executor, row: BindingRow): Promise<void> {
  await bindingInsert.run(db, {
    app_id: row.appId,
    service_id: row.serviceId,
    provider: row.provider,
    service_type: row.serviceType,
    endpoint_url: row.endpointUrl,
    public_key: row.publicKey,
    previous_public_key: row.previousPublicKey,
    previous_key_expires_at: row.previousKeyExpiresAt,
    service_tier: row.serviceTier,
    region: row.region,
    storage_limit_gb: row.storageLimitGb,
    bound_at: row.boundAt,
    status: row.status,
    proof_hash: row.proofHash,
    last_heartbeat_at: row.lastHeartbeatAt,
    heartbeat_status: row.heartbeatStatus,
    revoked_at: row.revokedAt,
    changed_at: row.changedAt,
  });
}

export async function recordHeartbeat(db: Executor, appId: string, serviceId: string, now: number, status: string): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ last_heartbeat_at: now, heartbeat_status: status })
    .where('app_id', '=', appId)
    .where('service_id', '=', serviceId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface StoredBeat {
  appId: string;
  serviceId: string;
  at: number;
  status: string;
}

/**
 * The binding rows beats are written to, each update built and compiled once (a sweep may write
 * a million rows; per row, building and compiling a Kysely query costs more than running it),
 * many rows to a transaction; on SQLite that transaction runs at once, never holding the
 * connection between two statements while other requests wait for it.
 */
export interface BeatRows {
  /**
   * Last beats kept in memory: a row never goes back in time (a replica may have written a
   * later beat) and a revoked one is left alone.
   */
  store(beats: StoredBeat[]): Promise<void>;
  /** Health transitions (or every beat, where every beat is written): whether each binding was still active and so written. */
  record(beats: StoredBeat[]): Promise<boolean[]>;
}

export function prepareBeatRows(db: RegistryDb, prepare: Prepare, runInTransaction: RunInTransaction): BeatRows {
  const rowOf = (value: Slot<StoredBeat>) =>
    db
      .updateTable('bindings')
      .set({ last_heartbeat_at: value('at'), heartbeat_status: value('status') })
      .where('app_id', '=', value('appId'))
      .where('service_id', '=', value('serviceId'))
      .where('status', '=', 'active');
  // Prepared at first use: a registry's tables exist by then.
  let kept: PreparedQuery<StoredBeat, unknown> | null = null;
  let transition: PreparedQuery<StoredBeat, unknown> | null = null;
  return {
    async store(beats) {
      kept ??= prepare<StoredBeat, unknown>((value) => rowOf(value).where('last_heartbeat_at', '<', value('at')));
      await runInTransaction(beats.map((beat) => write(kept as PreparedQuery<StoredBeat, unknown>, beat)));
    },
    async record(beats) {
      transition ??= prepare<StoredBeat, unknown>((value) => rowOf(value));
      const update = transition;
      const changed = await runInTransaction(beats.map((beat) => write(update, beat)));
      return changed.map((rows) => rows === 1);
    },
  };
}

/** Swaps the instance key only if `oldKey` is still current, so racing rotations cannot both win. */
export async function rotateBindingKey(
  db: Executor,
  binding: BindingRow,
  newKey: string,
  graceUntil: number,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ public_key: newKey, previous_public_key: binding.publicKey, previous_key_expires_at: graceUntil, changed_at: now })
    .where('app_id', '=', binding.appId)
    .where('service_id', '=', binding.serviceId)
    .where('status', '=', 'active')
    .where('public_key', '=', binding.publicKey)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function revokeBinding(db: Executor, appId: string, serviceId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ status: 'revoked', revoked_at: now })
    .where('app_id', '=', appId)
    .where('service_id', '=', serviceId)
    // An imported instance that never re-bound may be decommissioned too.
    .where('status', 'in', ['active', 'imported'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** An imported binding becomes active when its instance re-binds (only if it is still `imported`, so a retry changes nothing). */
export async function activateImportedBinding(db: Executor, binding: BindingRow, endpointUrl: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('bindings')
    .set({ status: 'active', endpoint_url: endpointUrl, last_heartbeat_at: now, heartbeat_status: null, changed_at: now })
    .where('app_id', '=', binding.appId)
    .where('service_id', '=', binding.serviceId)
    .where('status', '=', 'imported')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The bindings of an app by service_id (a migration's view of its instances). */
export async function bindingsOfApp(db: Executor, appId: string): Promise<BindingRow[]> {
  return (await db.selectFrom('bindings').selectAll().where('app_id', '=', appId).execute()).map(toRow);
}
