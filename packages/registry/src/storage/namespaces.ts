import type { NamespaceRecord } from '@swarm/protocol';
import { compileOnce } from '@swarm/runtime';
import type { Executor, NamespacesTable, RegistryTables } from './schema.js';

export interface NamespaceRow {
  namespace: string;
  publicKey: string;
  guardianPublicKeys: string[];
  formerPublicKeys: string[];
  contactEmail: string;
  metadata: Record<string, unknown> | null;
  status: string;
  createdAt: number;
}

function toRow(row: NamespacesTable): NamespaceRow {
  return {
    namespace: row.namespace,
    publicKey: row.public_key,
    guardianPublicKeys: JSON.parse(row.guardian_public_keys) as string[],
    formerPublicKeys: JSON.parse(row.former_public_keys) as string[],
    contactEmail: row.contact_email,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
    status: row.status,
    createdAt: Number(row.created_at),
  };
}

/** Every Master-signed request looks its namespace up: compiled once. */
const namespaceRow = compileOnce<RegistryTables, { namespace: string }, NamespacesTable>((db, value) =>
  db.selectFrom('namespaces').selectAll().where('namespace', '=', value('namespace')),
);

export async function findNamespace(db: Executor, namespace: string): Promise<NamespaceRow | null> {
  const row = await namespaceRow.first(db, { namespace });
  return row ? toRow(row) : null;
}

export async function insertNamespace(db: Executor, row: NamespaceRow): Promise<void> {
  await db
    .insertInto('namespaces')
    .values({
      namespace: row.namespace,
      public_key: row.publicKey,
      guardian_public_keys: JSON.stringify(row.guardianPublicKeys),
      former_public_keys: JSON.stringify(row.formerPublicKeys),
      contact_email: row.contactEmail,
      metadata: row.metadata === null ? null : JSON.stringify(row.metadata),
      status: row.status,
      created_at: row.createdAt,
      updated_at: row.createdAt,
    })
    .execute();
}

/**
 * Replaces the Master key only if it is still the one `namespace` was read with, so two racing
 * rotations cannot both win. The replaced key joins the (bounded) list of former keys.
 */
export async function replaceMasterKey(db: Executor, namespace: NamespaceRow, newKey: string, now: number): Promise<boolean> {
  const former = [...namespace.formerPublicKeys.filter((key) => key !== newKey), namespace.publicKey].slice(-20);
  const result = await db
    .updateTable('namespaces')
    .set({ public_key: newKey, former_public_keys: JSON.stringify(former), updated_at: now })
    .where('namespace', '=', namespace.namespace)
    .where('public_key', '=', namespace.publicKey)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function namespaceRecord(row: NamespaceRow): NamespaceRecord {
  return {
    namespace: row.namespace,
    public_key: row.publicKey,
    guardian_public_keys: row.guardianPublicKeys,
    status: row.status,
    created_at: row.createdAt,
  };
}

/** Replaces the Guardian set only if it is still the one `namespace` was read with, so two racing changes cannot both win. */
export async function replaceGuardians(db: Executor, namespace: NamespaceRow, guardians: string[], now: number): Promise<boolean> {
  const result = await db
    .updateTable('namespaces')
    .set({ guardian_public_keys: JSON.stringify(guardians), updated_at: now })
    .where('namespace', '=', namespace.namespace)
    .where('guardian_public_keys', '=', JSON.stringify(namespace.guardianPublicKeys))
    .where('public_key', '=', namespace.publicKey)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
