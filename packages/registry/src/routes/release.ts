import {
  AppMigratedError,
  canonicalDigest,
  MigrationSuccessor,
  type MigrationSuccessorData,
  nowSeconds,
  type ReleaseAnswer,
  SwarmError,
  sameKeySet,
  signEnvelope,
  verifyMigrationProof,
} from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireActive } from '../app-change.js';
import { queueBroadcast } from '../broadcasts.js';
import { pathAppId, requireFresh } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { consumeProof } from '../migration-import.js';
import { appendAudit } from '../storage/audit.js';
import { findNamespace } from '../storage/namespaces.js';

/**
 * Registry migration at the source (docs/REGISTRY.md, "Migration"): the owner's Proof of
 * Continuity releases the app to a registry this one trusts. The app becomes `migrated`: a final
 * audit entry, the signed successor kept on the row and answered to every write from then on
 * (`410 app_migrated`), and an `APP_MIGRATED` broadcast to its backbone and providers.
 */
export function releaseRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<{ Params: { app_id: string } }>('/v1/apps/:app_id/release', async (request): Promise<ReleaseAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const body = jsonBody(request);
    const row = await ctx.reads.apps.find(appId);
    if (!row) throw new SwarmError('unknown_app', `no app ${appId} here`);
    if (row.status === 'migrated') {
      // A retry of the release that succeeded gets the same successor; any other proof the tombstone.
      const kept = MigrationSuccessor.safeParse(JSON.parse(row.successor ?? 'null'));
      if (!kept.success) throw new SwarmError('gone', `app ${appId} moved to another registry`);
      if (kept.data.data.proof_digest === canonicalDigest(body)) return { successor: kept.data };
      throw new AppMigratedError(appId, kept.data);
    }
    requireActive(row);
    const namespace = await findNamespace(ctx.db, row.ownerNamespace);
    if (!namespace) throw new SwarmError('unknown_app', `app ${appId} has no namespace`);
    // The Master key as this registry holds it; a delegated key never moves an app.
    const proof = verifyMigrationProof(body, namespace.publicKey, appId);
    if (proof.previous_registry !== ctx.authority) {
      throw new SwarmError(
        'invalid_request',
        `the proof moves the app away from ${proof.previous_registry}, this registry is ${ctx.authority}`,
      );
    }
    if (proof.target_registry === ctx.authority) throw new SwarmError('invalid_request', 'an app cannot move to the registry it is at');
    const target = ctx.trust.byAuthority(proof.target_registry);
    if (!sameKeySet(proof.guardian_public_keys, namespace.guardianPublicKeys)) {
      throw new SwarmError(
        'invalid_request',
        'a Master key can never change the Guardian set: the proof must name the Guardian keys held here',
      );
    }
    requireFresh(ctx, proof.timestamp);
    await consumeProof(ctx, namespace.publicKey, proof);
    const now = nowSeconds();
    const proofDigest = canonicalDigest(body);
    const successor = await changeApp(ctx, appId, async (trx, locked) => {
      requireActive(locked);
      locked.status = 'migrated';
      await appendAudit(trx, locked, now, 'app_migrated', {
        successor: target.authority,
        successor_url: target.baseUrl,
        proof_digest: proofDigest,
        signed_by: namespace.publicKey,
      });
      const data: MigrationSuccessorData = {
        app_id: appId,
        previous_registry: ctx.authority,
        successor: target.authority,
        successor_url: target.baseUrl,
        released_at: now,
        proof_digest: proofDigest,
        audit_head: { seq: locked.logSeq, hash: locked.logHash },
      };
      const envelope = signEnvelope('migration_successor', data, ctx.registryKey.privateKey);
      locked.successor = JSON.stringify(envelope);
      await queueBroadcast(trx, ctx, locked, { event: 'APP_MIGRATED', successor: envelope });
      return envelope;
    });
    return { successor };
  });
}
