import {
  AppMigratedBody,
  canonicalDigest,
  MigrationControl,
  MigrationPrepare,
  type MigrationRecord,
  type MigrationSuccessor,
  MigrationVeto,
  nowSeconds,
  parseMessage,
  type RebindAnswer,
  ServiceRebind,
  SwarmError,
  verify,
  verifyServiceRebind,
  verifySuccessor,
} from '@swarm/protocol';
import { getJson, jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp } from '../app-change.js';
import { consumeNonce, pathAppId, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { consumeProof, importApp, migrationRecord, removeImport, verifyPrepare } from '../migration-import.js';
import { appendAudit } from '../storage/audit.js';
import { activateImportedBinding, findBinding } from '../storage/bindings.js';
import { findProvider } from '../storage/catalog.js';
import { findImport, type MigrationImportRow, putImport, saveImport } from '../storage/migration-imports.js';
import { findNamespace } from '../storage/namespaces.js';
import { pathServiceId } from './instances.js';

type AppParams = { Params: { app_id: string } };

async function requireImport(ctx: RegistryContext, appId: string): Promise<MigrationImportRow> {
  const row = await findImport(ctx.db, appId);
  if (!row) throw new SwarmError('unknown_app', `no migration of ${appId} was prepared here`);
  return row;
}

/** The Master key an owner's migration request must verify under: the namespace's, never a delegated key. */
async function masterKeyOf(ctx: RegistryContext, appId: string): Promise<{ masterKey: string; guardians: string[]; namespace: string }> {
  const app = await ctx.db.selectFrom('apps').select('owner_namespace').where('app_id', '=', appId).executeTakeFirst();
  const namespace = app ? await findNamespace(ctx.db, app.owner_namespace) : null;
  if (!namespace) throw new SwarmError('unknown_app', `no migration of ${appId} is held here`);
  return { masterKey: namespace.publicKey, guardians: namespace.guardianPublicKeys, namespace: namespace.namespace };
}

/**
 * The source's signed successor for this migration, or null: from the request, else asked of the
 * source (`GET {source}/v1/apps/{app_id}` answers `410 app_migrated` with it once released). It must
 * verify under the source's key from this registry's trust table, name this registry, and carry the
 * digest of the proof this registry holds. A successor the client sent that fails is an error; one
 * the source answered that fails (or a source that is down) only means the release path is closed.
 */
async function releasedSuccessor(
  ctx: RegistryContext,
  record: MigrationImportRow,
  given: MigrationSuccessor | undefined,
): Promise<MigrationSuccessor | null> {
  const check = (envelope: unknown): MigrationSuccessor => {
    const { data } = verifySuccessor(envelope, ctx.trust, record.appId, { expectPrevious: record.source, requireTrustedSuccessor: false });
    if (data.successor !== ctx.authority)
      throw new SwarmError('conflict', `${record.source} released ${record.appId} to ${data.successor}, not to ${ctx.authority}`);
    if (data.proof_digest !== record.proofDigest)
      throw new SwarmError('conflict', `${record.source} released ${record.appId} with another proof than the one prepared here`);
    return envelope as MigrationSuccessor;
  };
  if (given) return check(given);
  try {
    const source = ctx.trust.byAuthority(record.source);
    const answer = await getJson(`${source.baseUrl}/v1/apps/${encodeURIComponent(record.appId)}`, { timeoutMs: 5000 });
    if (answer.status !== 410) return null;
    const body = AppMigratedBody.safeParse(answer.body);
    return body.success ? check(body.data.successor) : null;
  } catch {
    return null;
  }
}

/**
 * Registry migration at the target (docs/REGISTRY.md, "Migration"): prepare, status, activate,
 * abort, a Guardian's veto, and the re-binding of imported instances.
 */
export function migrationRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<AppParams>('/v1/apps/:app_id/migration', async (request, reply): Promise<MigrationRecord> => {
    const appId = pathAppId(request.params.app_id);
    const body = parseMessage(MigrationPrepare, jsonBody(request));
    if (body.export === undefined || body.proof === undefined)
      throw new SwarmError('invalid_request', 'body: export and proof are required');
    const verified = verifyPrepare(ctx, appId, body.export, body.proof, body.guardian_approval);
    requireFresh(ctx, verified.proof.timestamp);
    const proofDigest = canonicalDigest(body.proof);
    const earlier = await findImport(ctx.db, appId);
    // A retry of the prepare that succeeded: the same answer, nothing written twice.
    if (earlier && earlier.proofDigest === proofDigest && earlier.state !== 'aborted') {
      reply.code(201);
      return migrationRecord(ctx, ctx.db, earlier, nowSeconds());
    }
    await consumeProof(ctx, verified.exported.master_public_key, verified.proof);
    const now = nowSeconds();
    const row = await ctx.db.transaction().execute(async (trx) => {
      const created = await importApp(trx, ctx, verified, now);
      const record: MigrationImportRow = {
        appId,
        source: verified.exported.source.authority,
        state: 'importing',
        path: verified.guardianKey ? 'guardian' : 'release',
        exportJson: JSON.stringify(body.export),
        proofJson: JSON.stringify(body.proof),
        proofDigest,
        guardianKey: verified.guardianKey,
        serviceIds: created.serviceIds,
        createdNamespace: created.createdNamespace,
        createdProviders: created.createdProviders,
        successor: null,
        contestEndsAt: verified.guardianKey ? null : now + ctx.migrationContestSeconds,
        preparedAt: now,
        activatedAt: null,
        endedAt: null,
      };
      await putImport(trx, record);
      return record;
    });
    ctx.lookups.changed(appId);
    reply.code(201);
    return migrationRecord(ctx, ctx.db, row, now);
  });

  app.get<AppParams>('/v1/apps/:app_id/migration', async (request): Promise<MigrationRecord> => {
    const appId = pathAppId(request.params.app_id);
    return migrationRecord(ctx, ctx.db, await requireImport(ctx, appId), nowSeconds());
  });

  app.post<AppParams>('/v1/apps/:app_id/migration/activate', async (request): Promise<MigrationRecord> => {
    const appId = pathAppId(request.params.app_id);
    const control = parseMessage(MigrationControl, jsonBody(request));
    const data = control.data;
    requireSame('app_id', data.app_id, appId);
    if (data.context !== 'activate') throw new SwarmError('invalid_request', 'data.context must be "activate" here');
    requireFresh(ctx, data.timestamp);
    const record = await requireImport(ctx, appId);
    const { masterKey } = await masterKeyOf(ctx, appId);
    if (!verify('migration_control', data, control.signature, masterKey)) {
      throw new SwarmError('invalid_signature', 'activation is signed by the namespace Master key only');
    }
    await consumeNonce(ctx, masterKey, data);
    if (record.state === 'active') return migrationRecord(ctx, ctx.db, record, nowSeconds());
    if (record.state === 'vetoed')
      throw new SwarmError('conflict', `a Guardian vetoed this migration of ${appId}: it can never be activated; abort it`);
    if (record.state === 'aborted') throw new SwarmError('conflict', `this migration of ${appId} was aborted; prepare it again`);
    const successor = await releasedSuccessor(ctx, record, control.successor);
    const now = nowSeconds();
    const path = successor
      ? 'release'
      : record.guardianKey
        ? 'guardian'
        : record.contestEndsAt !== null && now >= record.contestEndsAt
          ? 'contest'
          : null;
    if (path === null) {
      const ends = record.contestEndsAt ?? now;
      throw new SwarmError(
        'conflict',
        `${record.source} has not released ${appId} to ${ctx.authority} and no Guardian approved the move: ` +
          `activation waits for the release, or for the contest window to end at ${new Date(ends * 1000).toISOString()} (${ends})`,
      );
    }
    const exported = JSON.parse(record.exportJson) as { data: { config_epoch: number; audit_head: { seq: number; hash: string } } };
    const activated = await changeApp(
      ctx,
      appId,
      async (trx, row) => {
        const locked = await findImport(trx, appId);
        if (!locked) throw new SwarmError('unknown_app', `no migration of ${appId} was prepared here`);
        if (locked.state === 'active') return locked;
        if (locked.state !== 'importing') throw new SwarmError('conflict', `this migration of ${appId} is ${locked.state}`);
        // The chain goes on from the source's last entry: its release, or what the export showed.
        const head = successor ? successor.data.audit_head : exported.data.audit_head;
        row.logSeq = head.seq;
        row.logHash = head.hash;
        row.status = 'active';
        row.configEpoch = exported.data.config_epoch + 1;
        await appendAudit(trx, row, now, 'migration_activated', {
          source: record.source,
          path,
          proof_digest: record.proofDigest,
          successor_digest: successor ? canonicalDigest(successor) : null,
          guardian_key: path === 'guardian' ? record.guardianKey : null,
          config_epoch: row.configEpoch,
          signed_by: masterKey,
        });
        const next: MigrationImportRow = {
          ...locked,
          state: 'active',
          path,
          activatedAt: now,
          successor: successor ? JSON.stringify(successor) : null,
        };
        await saveImport(trx, next);
        return next;
      },
      { importing: true },
    );
    return migrationRecord(ctx, ctx.db, activated, now);
  });

  app.post<AppParams>('/v1/apps/:app_id/migration/abort', async (request): Promise<MigrationRecord> => {
    const appId = pathAppId(request.params.app_id);
    const control = parseMessage(MigrationControl, jsonBody(request));
    const data = control.data;
    requireSame('app_id', data.app_id, appId);
    if (data.context !== 'abort') throw new SwarmError('invalid_request', 'data.context must be "abort" here');
    requireFresh(ctx, data.timestamp);
    const record = await requireImport(ctx, appId);
    if (record.state === 'aborted') return migrationRecord(ctx, ctx.db, record, nowSeconds());
    const { masterKey, namespace } = await masterKeyOf(ctx, appId);
    if (!verify('migration_control', data, control.signature, masterKey)) {
      throw new SwarmError('invalid_signature', 'an abort is signed by the namespace Master key only');
    }
    await consumeNonce(ctx, masterKey, data);
    const now = nowSeconds();
    const aborted = await ctx.db.transaction().execute(async (trx) => {
      const locked = await findImport(trx, appId);
      if (!locked) throw new SwarmError('unknown_app', `no migration of ${appId} was prepared here`);
      if (locked.state === 'active') throw new SwarmError('conflict', `the migration of ${appId} is already active: it cannot be aborted`);
      if (locked.state === 'aborted') return locked;
      await removeImport(trx, locked, namespace);
      const next: MigrationImportRow = { ...locked, state: 'aborted', endedAt: now };
      await saveImport(trx, next);
      return next;
    });
    ctx.lookups.changed(appId);
    return migrationRecord(ctx, ctx.db, aborted, now);
  });

  app.post<AppParams>('/v1/apps/:app_id/migration/veto', async (request): Promise<MigrationRecord> => {
    const appId = pathAppId(request.params.app_id);
    const veto = parseMessage(MigrationVeto, jsonBody(request));
    const data = veto.data;
    requireSame('app_id', data.app_id, appId);
    requireFresh(ctx, data.timestamp);
    const record = await requireImport(ctx, appId);
    const { guardians } = await masterKeyOf(ctx, appId);
    const guardian = guardians.find((key) => verify('migration_veto', data, veto.signature, key));
    if (!guardian) throw new SwarmError('invalid_signature', 'a veto is signed by a Guardian key of the app namespace');
    await consumeNonce(ctx, guardian, data);
    if (record.state === 'vetoed') return migrationRecord(ctx, ctx.db, record, nowSeconds());
    const now = nowSeconds();
    const vetoed = await ctx.db.transaction().execute(async (trx) => {
      const locked = await findImport(trx, appId);
      if (!locked) throw new SwarmError('unknown_app', `no migration of ${appId} was prepared here`);
      if (locked.state !== 'importing')
        throw new SwarmError('conflict', `the migration of ${appId} is ${locked.state}: only a prepared one can be vetoed`);
      const next: MigrationImportRow = { ...locked, state: 'vetoed', endedAt: now };
      await saveImport(trx, next);
      return next;
    });
    return migrationRecord(ctx, ctx.db, vetoed, now);
  });

  app.post<{ Params: { app_id: string; service_id: string } }>(
    '/v1/apps/:app_id/services/:service_id/rebind',
    async (request): Promise<RebindAnswer> => {
      const appId = pathAppId(request.params.app_id);
      const serviceId = pathServiceId(request.params.service_id);
      const rebind = parseMessage(ServiceRebind, jsonBody(request));
      const data = rebind.data;
      requireSame('app_id', data.app_id, appId);
      requireSame('service_id', data.service_id, serviceId);
      requireFresh(ctx, data.timestamp);
      const record = await requireImport(ctx, appId);
      if (record.state !== 'importing' && record.state !== 'active') {
        throw new SwarmError('conflict', `the migration of ${appId} is ${record.state}: nothing to re-bind`);
      }
      if (data.previous_registry !== record.source) {
        throw new SwarmError('invalid_request', `data.previous_registry is ${data.previous_registry}; ${appId} came from ${record.source}`);
      }
      const binding = await findBinding(ctx.db, appId, serviceId);
      if (!binding || !record.serviceIds.includes(serviceId))
        throw new SwarmError('not_found', `${serviceId} was not imported with ${appId}`);
      if (data.provider !== binding.provider)
        throw new SwarmError('wrong_provider', `${serviceId} runs at ${binding.provider}, not ${data.provider}`);
      if (data.public_key !== binding.publicKey) {
        throw new SwarmError('invalid_signature', `the instance key is not the one ${serviceId} was imported with`);
      }
      const provider = await findProvider(ctx.db, binding.provider);
      if (!provider) throw new SwarmError('unknown_provider', `provider ${binding.provider} is not in the catalog`);
      verifyServiceRebind(rebind, binding.publicKey, provider.entry.public_key);
      await consumeNonce(ctx, binding.publicKey, data);
      if (binding.status === 'revoked') throw new SwarmError('conflict', `${serviceId} was decommissioned`);
      const now = nowSeconds();
      const epoch = await changeApp(
        ctx,
        appId,
        async (trx, row) => {
          const changed = await activateImportedBinding(trx, binding, data.endpoint_url, now);
          // Before activation the chain has not started here: the activation entry comes first.
          if (changed && row.status === 'active') {
            await appendAudit(trx, row, now, 'service_rebound', {
              service_id: serviceId,
              provider: binding.provider,
              public_key: binding.publicKey,
              endpoint_url: data.endpoint_url,
              signed_by: provider.entry.public_key,
            });
          }
          return row.configEpoch;
        },
        { importing: true },
      );
      return {
        app_id: appId,
        service_id: serviceId,
        config_epoch: epoch,
        context_url: `${ctx.publicUrl}/v1/apps/${appId}/services/${serviceId}/context`,
      };
    },
  );
}
