import { createHash } from 'node:crypto';
import {
  canonicalJson,
  DELEGATION_MAX_SECONDS,
  Delegation,
  DelegationId,
  type DelegationRecord,
  DelegationRevocation,
  type DelegationsAnswer,
  isAppId,
  nowSeconds,
  parseMessage,
  requireSignature,
  SwarmError,
} from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import type { Transaction } from 'kysely';
import { requireApp } from '../app-change.js';
import { consumeNonce, pathAppId, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { lockApp, saveApp } from '../storage/apps.js';
import { appendAudit } from '../storage/audit.js';
import {
  activeDelegationsOfApp,
  countActiveDelegations,
  type DelegationRow,
  delegationRecord,
  findDelegation,
  insertDelegation,
  MAX_ACTIVE_DELEGATIONS,
  namespaceDelegations,
  revokeDelegation,
} from '../storage/delegations.js';
import type { RegistryTables } from '../storage/schema.js';
import { pathNamespace, requireNamespace } from './namespaces.js';

/** Logs one event in the audit log of each app, in one transaction (apps locked in id order). */
async function logOnApps(
  trx: Transaction<RegistryTables>,
  ctx: RegistryContext,
  appIds: string[],
  now: number,
  event: string,
  fields: Record<string, unknown>,
): Promise<void> {
  for (const appId of [...appIds].sort()) {
    const row = await lockApp(trx, ctx.dialect, appId);
    if (!row) continue;
    await appendAudit(trx, row, now, event, fields);
    await saveApp(trx, row);
  }
}

/**
 * Delegated keys (docs/PROTOCOL.md): only the namespace's Master key grants and revokes, so a
 * delegated key can never delegate further; grants are listed publicly (keys and actions, no
 * secret), and each grant and revocation is in the audit log of every app it lists.
 */
export function delegationRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<{ Params: { namespace: string } }>(
    '/v1/namespaces/:namespace/delegations',
    async (request, reply): Promise<DelegationRecord> => {
      const name = pathNamespace(request.params.namespace);
      const grant = parseMessage(Delegation, jsonBody(request));
      const data = grant.data;
      requireSame('namespace', data.namespace, name);
      requireFresh(ctx, data.timestamp);
      const now = nowSeconds();
      if (data.expires_at <= now) throw new SwarmError('invalid_request', 'expires_at must be in the future');
      if (data.expires_at > now + DELEGATION_MAX_SECONDS) throw new SwarmError('invalid_request', 'a delegation lasts at most 90 days');
      if (new Set(data.actions).size !== data.actions.length || new Set(data.apps).size !== data.apps.length) {
        throw new SwarmError('invalid_request', 'apps and actions must not repeat');
      }
      for (const appId of data.apps) if (!isAppId(appId)) throw new SwarmError('invalid_app_id', `${appId} is not an app_id`);
      const namespace = await requireNamespace(ctx, name);
      if (data.public_key === namespace.publicKey || namespace.guardianPublicKeys.includes(data.public_key)) {
        throw new SwarmError('invalid_request', 'a delegated key must be neither the Master key nor a Guardian key');
      }
      for (const appId of data.apps) {
        const row = await requireApp(ctx, appId);
        if (row.ownerNamespace !== name) throw new SwarmError('invalid_request', `${appId} is not an app of ${name}`);
        if (row.status === 'retired') throw new SwarmError('gone', `app ${appId} is retired`);
      }
      // The Master key only: a delegated key signing a delegation is simply not the signer.
      requireSignature('delegation', data, grant.signature, namespace.publicKey);
      await consumeNonce(ctx, namespace.publicKey, data);
      const row: DelegationRow = {
        delegationId: createHash('sha256').update(canonicalJson(data)).digest('hex').slice(0, 32),
        namespace: name,
        publicKey: data.public_key,
        apps: data.apps,
        actions: data.actions,
        expiresAt: data.expires_at,
        createdAt: now,
        revokedAt: null,
      };
      await ctx.db.transaction().execute(async (trx) => {
        if ((await countActiveDelegations(trx, name, now)) >= MAX_ACTIVE_DELEGATIONS) {
          throw new SwarmError('quota_exceeded', `${name} already has ${MAX_ACTIVE_DELEGATIONS} delegations in force; revoke one first`);
        }
        await insertDelegation(trx, row);
        await logOnApps(trx, ctx, row.apps, now, 'delegation_granted', {
          delegation_id: row.delegationId,
          public_key: row.publicKey,
          actions: row.actions,
          expires_at: row.expiresAt,
          signed_by: namespace.publicKey,
        });
      });
      reply.code(201);
      return delegationRecord(row, now);
    },
  );

  app.get<{ Params: { namespace: string } }>('/v1/namespaces/:namespace/delegations', async (request): Promise<DelegationsAnswer> => {
    const name = pathNamespace(request.params.namespace);
    await requireNamespace(ctx, name);
    const now = nowSeconds();
    return { delegations: (await namespaceDelegations(ctx.db, name)).map((row) => delegationRecord(row, now)) };
  });

  app.post<{ Params: { namespace: string; delegation_id: string } }>(
    '/v1/namespaces/:namespace/delegations/:delegation_id/revoke',
    async (request): Promise<DelegationRecord> => {
      const name = pathNamespace(request.params.namespace);
      const id = DelegationId.safeParse(request.params.delegation_id);
      if (!id.success) throw new SwarmError('invalid_request', 'delegation_id must be 32 lowercase hex characters');
      const revocation = parseMessage(DelegationRevocation, jsonBody(request));
      const data = revocation.data;
      requireSame('namespace', data.namespace, name);
      requireSame('delegation_id', data.delegation_id, id.data);
      requireFresh(ctx, data.timestamp);
      const namespace = await requireNamespace(ctx, name);
      const found = await findDelegation(ctx.db, id.data);
      if (!found || found.namespace !== name) throw new SwarmError('not_found', `no delegation ${id.data} in ${name}`);
      requireSignature('delegation_revocation', data, revocation.signature, namespace.publicKey);
      await consumeNonce(ctx, namespace.publicKey, data);
      const now = nowSeconds();
      await ctx.db.transaction().execute(async (trx) => {
        // Revoking twice is answered like once, and logged once.
        if (!(await revokeDelegation(trx, found.delegationId, now))) return;
        await logOnApps(trx, ctx, found.apps, now, 'delegation_revoked', {
          delegation_id: found.delegationId,
          public_key: found.publicKey,
          signed_by: namespace.publicKey,
        });
      });
      return delegationRecord((await findDelegation(ctx.db, found.delegationId)) ?? found, nowSeconds());
    },
  );

  /** What providers and backbone parts read to accept a delegated key: the grants in force now. */
  app.get<{ Params: { app_id: string } }>('/v1/apps/:app_id/delegations', async (request): Promise<DelegationsAnswer> => {
    const row = await requireApp(ctx, pathAppId(request.params.app_id), 'read');
    const now = nowSeconds();
    const grants = await activeDelegationsOfApp(ctx.db, row.ownerNamespace, row.appId, now);
    return { delegations: grants.map((grant) => delegationRecord(grant, now)) };
  });
}
