import { GuardianChange, nowSeconds, parseMessage, requireSignature, SwarmError, verify } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { consumeNonce, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { findAppIdsOfNamespace, lockApp, saveApp } from '../storage/apps.js';
import { appendAudit } from '../storage/audit.js';
import { namespaceDelegations } from '../storage/delegations.js';
import { namespaceRecord, replaceGuardians } from '../storage/namespaces.js';
import { pathNamespace, requireNamespace } from './namespaces.js';

/**
 * A namespace's new Guardian set (docs/PROTOCOL.md, "Apps and namespaces change"): the Master
 * key signs and a key of the CURRENT Guardian set co-signs the same data. A stolen Master key
 * alone cannot swap in the thief's Guardians (who could then recover the namespace), and one
 * Guardian alone cannot change who else may recover. Recovery reads the set as changed here.
 */
export function guardianRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<{ Params: { ns: string } }>('/v1/namespaces/:ns/guardians', async (request) => {
    const name = pathNamespace(request.params.ns);
    const change = parseMessage(GuardianChange, jsonBody(request));
    const data = change.data;
    requireSame('namespace', data.namespace, name);
    const guardians = data.guardian_public_keys;
    if (new Set(guardians).size !== guardians.length) throw new SwarmError('invalid_request', 'guardian keys must differ from each other');
    requireFresh(ctx, data.timestamp);
    const namespace = await requireNamespace(ctx, name);
    if (guardians.includes(namespace.publicKey)) throw new SwarmError('invalid_request', 'guardian keys must differ from the Master key');
    const now = nowSeconds();
    const delegated = (await namespaceDelegations(ctx.db, name)).filter((grant) => grant.revokedAt === null && grant.expiresAt > now);
    if (delegated.some((grant) => guardians.includes(grant.publicKey))) {
      throw new SwarmError('invalid_request', 'a key delegated actions in this namespace cannot be a Guardian key');
    }
    // The Master key only: a delegated key or a Guardian signing in its place is not the signer.
    requireSignature('guardian_change', data, change.signature, namespace.publicKey);
    const approval = change.guardian_approval;
    if (
      !namespace.guardianPublicKeys.includes(approval.public_key) ||
      !verify('guardian_change', data, approval.signature, approval.public_key)
    ) {
      throw new SwarmError('invalid_signature', 'the change is not co-signed by a current Guardian key of the namespace');
    }
    await consumeNonce(ctx, namespace.publicKey, data);
    const current = [...namespace.guardianPublicKeys].sort().join();
    if ([...guardians].sort().join() === current) throw new SwarmError('invalid_request', 'the new Guardian set is the current one');
    // Nothing is broadcast: Guardian keys are used here only (recovery, migration approvals).
    await ctx.db.transaction().execute(async (trx) => {
      if (!(await replaceGuardians(trx, namespace, guardians, now))) {
        throw new SwarmError('conflict', 'the Guardian set or the Master key changed meanwhile; try again');
      }
      for (const appId of await findAppIdsOfNamespace(trx, name)) {
        const row = await lockApp(trx, ctx.dialect, appId);
        // A released or importing app's log goes on at its other registry.
        if (!row || row.status === 'migrated' || row.status === 'importing') continue;
        await appendAudit(trx, row, now, 'guardians_changed', {
          namespace: name,
          previous_guardian_public_keys: namespace.guardianPublicKeys,
          guardian_public_keys: guardians,
          signed_by: namespace.publicKey,
          approved_by: approval.public_key,
        });
        await saveApp(trx, row);
      }
    });
    return namespaceRecord({ ...namespace, guardianPublicKeys: guardians });
  });
}
