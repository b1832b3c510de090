import type { DelegationRecord } from '@swarm/protocol';
import type { DelegationsTable, Executor } from './schema.js';

export interface DelegationRow {
  delegationId: string;
  namespace: string;
  publicKey: string;
  apps: string[];
  actions: string[];
  expiresAt: number;
  createdAt: number;
  revokedAt: number | null;
}

/** Grants in force at once per namespace: enough for CI and a team, few enough to try each key. */
export const MAX_ACTIVE_DELEGATIONS = 20;
/** Expired or revoked grants stay listed this long, then go (the audit log keeps them for good). */
export const ENDED_DELEGATIONS_KEPT_SECONDS = 30 * 86400;

function toRow(row: DelegationsTable): DelegationRow {
  return {
    delegationId: row.delegation_id,
    namespace: row.namespace,
    publicKey: row.public_key,
    apps: JSON.parse(row.apps) as string[],
    actions: JSON.parse(row.actions) as string[],
    expiresAt: Number(row.expires_at),
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

export function delegationRecord(row: DelegationRow, now: number): DelegationRecord {
  const status = row.revokedAt !== null ? 'revoked' : row.expiresAt <= now ? 'expired' : 'active';
  return {
    delegation_id: row.delegationId,
    namespace: row.namespace,
    public_key: row.publicKey,
    apps: row.apps,
    actions: row.actions,
    expires_at: row.expiresAt,
    created_at: row.createdAt,
    revoked_at: row.revokedAt,
    status,
  };
}

export async function findDelegation(db: Executor, delegationId: string): Promise<DelegationRow | null> {
  const row = await db.selectFrom('delegations').selectAll().where('delegation_id', '=', delegationId).executeTakeFirst();
  return row ? toRow(row) : null;
}

/** Every grant of the namespace still listed, newest first. */
export async function namespaceDelegations(db: Executor, namespace: string): Promise<DelegationRow[]> {
  const rows = await db.selectFrom('delegations').selectAll().where('namespace', '=', namespace).orderBy('created_at', 'desc').execute();
  return rows.map(toRow);
}

/** Grants in force now that list the app. */
export async function activeDelegationsOfApp(db: Executor, namespace: string, appId: string, now: number): Promise<DelegationRow[]> {
  const rows = await db
    .selectFrom('delegations')
    .selectAll()
    .where('namespace', '=', namespace)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .execute();
  return rows.map(toRow).filter((row) => row.apps.includes(appId));
}

export async function countActiveDelegations(db: Executor, namespace: string, now: number): Promise<number> {
  const row = await db
    .selectFrom('delegations')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('namespace', '=', namespace)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function insertDelegation(db: Executor, row: DelegationRow): Promise<void> {
  const ended = row.createdAt - ENDED_DELEGATIONS_KEPT_SECONDS;
  await db
    .deleteFrom('delegations')
    .where('namespace', '=', row.namespace)
    .where((eb) => eb.or([eb('expires_at', '<', ended), eb('revoked_at', '<', ended)]))
    .execute();
  await db
    .insertInto('delegations')
    .values({
      delegation_id: row.delegationId,
      namespace: row.namespace,
      public_key: row.publicKey,
      apps: JSON.stringify(row.apps),
      actions: JSON.stringify(row.actions),
      expires_at: row.expiresAt,
      created_at: row.createdAt,
      revoked_at: null,
    })
    .execute();
}

export async function revokeDelegation(db: Executor, delegationId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('delegations')
    .set({ revoked_at: now })
    .where('delegation_id', '=', delegationId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Revokes every grant of the namespace still in force (a Guardian recovery); answers how many. */
export async function revokeNamespaceDelegations(db: Executor, namespace: string, now: number): Promise<number> {
  const result = await db
    .updateTable('delegations')
    .set({ revoked_at: now })
    .where('namespace', '=', namespace)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
