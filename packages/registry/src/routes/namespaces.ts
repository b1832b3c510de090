import {
  IdentityRecovery,
  MasterKeyRotation,
  NAMESPACE_PATTERN,
  NamespaceClaim,
  nowSeconds,
  parseMessage,
  requireSignature,
  SwarmError,
  verify,
} from '@swarm/protocol';
import { isUniqueViolation, jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import type { Transaction } from 'kysely';
import { queueBroadcast } from '../broadcasts.js';
import { consumeNonce, hasBearer, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { findAppIdsOfNamespace, lockApp, saveApp } from '../storage/apps.js';
import { appendAudit } from '../storage/audit.js';
import { revokeNamespaceDelegations } from '../storage/delegations.js';
import { findNamespace, insertNamespace, type NamespaceRow, namespaceRecord, replaceMasterKey } from '../storage/namespaces.js';
import type { RegistryTables } from '../storage/schema.js';

export function pathNamespace(value: unknown): string {
  if (typeof value !== 'string' || !NAMESPACE_PATTERN.test(value))
    throw new SwarmError('invalid_request', 'namespace must be 1–63 of [a-z0-9_-]');
  return value;
}

export async function requireNamespace(ctx: RegistryContext, name: string): Promise<NamespaceRow> {
  const namespace = await findNamespace(ctx.db, name);
  if (!namespace) throw new SwarmError('unknown_namespace', `no namespace ${name} here`);
  return namespace;
}

/** The Master key must differ from every Guardian key (checked before any signature). */
function requireNotGuardian(namespace: NamespaceRow, newKey: string): void {
  if (namespace.guardianPublicKeys.includes(newKey))
    throw new SwarmError('invalid_request', 'the Master key must differ from the Guardian keys');
}

/** Checked after the nonce, so a verbatim replay of an applied change reads as one (`nonce_reused`). */
function requireNewKey(namespace: NamespaceRow, newKey: string): void {
  if (newKey === namespace.publicKey) throw new SwarmError('invalid_request', 'the new Master key is the current one');
}

/**
 * A rotation must be signed by the current Master key. One signed by a replaced key is refused
 * too, but its nonce is looked at first, so a replay of an applied rotation is `nonce_reused`.
 */
async function requireCurrentMasterSigned(
  ctx: RegistryContext,
  namespace: NamespaceRow,
  data: { nonce: string; timestamp: number },
  signature: string,
): Promise<void> {
  if (verify('master_key_rotation', data, signature, namespace.publicKey)) return;
  const former = namespace.formerPublicKeys.find((key) => verify('master_key_rotation', data, signature, key));
  if (former) await consumeNonce(ctx, former, data);
  throw new SwarmError('invalid_signature', 'the rotation is not signed by the current Master key');
}

type MasterChange = {
  event: 'MASTER_KEY_ROTATION' | 'MASTER_IDENTITY_RECOVERY';
  audit: string;
  signedBy: string;
  /** Recovery: every delegation the lost key granted is revoked with it. */
  revokeDelegations?: boolean;
};

/** Replaces the Master key, then logs and broadcasts the change for every app of the namespace, in one transaction. */
async function replaceKey(ctx: RegistryContext, namespace: NamespaceRow, newKey: string, change: MasterChange): Promise<void> {
  const now = nowSeconds();
  let transaction: Transaction<RegistryTables> | undefined;
  await ctx.db.transaction().execute(async (trx) => {
    transaction = trx;
    if (!(await replaceMasterKey(trx, namespace, newKey, now))) {
      throw new SwarmError('conflict', 'the Master key changed meanwhile; try again');
    }
    // A recovery says the Master key was lost or stolen: what it granted goes with it. A planned
    // rotation keeps the grants (the owner still holds the old key and revokes what they choose).
    const revokedGrants = change.revokeDelegations ? await revokeNamespaceDelegations(trx, namespace.namespace, now) : 0;
    for (const appId of await findAppIdsOfNamespace(trx, namespace.namespace)) {
      const app = await lockApp(trx, ctx.dialect, appId);
      if (!app) continue;
      await appendAudit(trx, app, now, change.audit, {
        namespace: namespace.namespace,
        revoked_master_key: namespace.publicKey,
        new_master_public_key: newKey,
        signed_by: change.signedBy,
        ...(change.revokeDelegations ? { delegations_revoked: revokedGrants } : {}),
      });
      await queueBroadcast(trx, ctx, app, { event: change.event, revoked_master_key: namespace.publicKey, new_master_public_key: newKey });
      await saveApp(trx, app);
    }
  });
  if (transaction) await ctx.settleBroadcasts(transaction);
}

export function namespaceRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post('/v1/namespaces', async (request, reply) => {
    if (ctx.admissionToken !== null && !hasBearer(request, ctx.admissionToken)) {
      throw new SwarmError('forbidden', 'this registry admits namespaces with its admission token only');
    }
    const claim = parseMessage(NamespaceClaim, jsonBody(request));
    const data = claim.data;
    if (data.guardian_public_keys.includes(data.public_key)) {
      throw new SwarmError('invalid_request', 'guardian keys must differ from the Master key');
    }
    if (new Set(data.guardian_public_keys).size !== data.guardian_public_keys.length) {
      throw new SwarmError('invalid_request', 'guardian keys must differ from each other');
    }
    requireFresh(ctx, data.timestamp);
    if (await findNamespace(ctx.db, data.namespace_claim))
      throw new SwarmError('namespace_taken', `namespace ${data.namespace_claim} is taken`);
    requireSignature('namespace', data, claim.signature, data.public_key);
    await consumeNonce(ctx, data.public_key, data);
    const row: NamespaceRow = {
      namespace: data.namespace_claim,
      publicKey: data.public_key,
      guardianPublicKeys: data.guardian_public_keys,
      formerPublicKeys: [],
      contactEmail: data.contact_email,
      metadata: data.metadata ?? null,
      status: 'active',
      createdAt: nowSeconds(),
    };
    try {
      await insertNamespace(ctx.db, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new SwarmError('namespace_taken', `namespace ${data.namespace_claim} is taken`);
      throw error;
    }
    reply.code(201);
    return namespaceRecord(row);
  });

  app.get<{ Params: { ns: string } }>('/v1/namespaces/:ns', async (request) => {
    return namespaceRecord(await requireNamespace(ctx, pathNamespace(request.params.ns)));
  });

  app.post<{ Params: { ns: string } }>('/v1/namespaces/:ns/master-key', async (request) => {
    const name = pathNamespace(request.params.ns);
    const rotation = parseMessage(MasterKeyRotation, jsonBody(request));
    const data = rotation.data;
    requireSame('namespace', data.namespace, name);
    requireFresh(ctx, data.timestamp);
    const namespace = await requireNamespace(ctx, name);
    requireNotGuardian(namespace, data.new_master_public_key);
    await requireCurrentMasterSigned(ctx, namespace, data, rotation.signature);
    requireSignature('master_key_rotation', data, rotation.new_key_signature, data.new_master_public_key);
    await consumeNonce(ctx, namespace.publicKey, data);
    requireNewKey(namespace, data.new_master_public_key);
    await replaceKey(ctx, namespace, data.new_master_public_key, {
      event: 'MASTER_KEY_ROTATION',
      audit: 'master_key_rotated',
      signedBy: namespace.publicKey,
    });
    return namespaceRecord({ ...namespace, publicKey: data.new_master_public_key });
  });

  app.post<{ Params: { ns: string } }>('/v1/namespaces/:ns/recovery', async (request) => {
    const name = pathNamespace(request.params.ns);
    const recovery = parseMessage(IdentityRecovery, jsonBody(request));
    const data = recovery.data;
    requireSame('namespace', data.namespace, name);
    requireFresh(ctx, data.timestamp);
    const namespace = await requireNamespace(ctx, name);
    requireNotGuardian(namespace, data.new_master_public_key);
    // The Guardian set of the genesis claim, or as the Master key and a Guardian together last changed it (guardians.ts).
    const guardian = namespace.guardianPublicKeys.find((key) => verify('identity_recovery', data, recovery.signature, key));
    if (!guardian) throw new SwarmError('invalid_signature', 'recovery is not signed by a Guardian key of the namespace');
    await consumeNonce(ctx, guardian, data);
    requireNewKey(namespace, data.new_master_public_key);
    await replaceKey(ctx, namespace, data.new_master_public_key, {
      event: 'MASTER_IDENTITY_RECOVERY',
      audit: 'master_identity_recovered',
      signedBy: guardian,
      revokeDelegations: true,
    });
    return namespaceRecord({ ...namespace, publicKey: data.new_master_public_key });
  });
}
