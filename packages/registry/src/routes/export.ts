import { APP_EXPORT_FORMAT, type AppExport, nowSeconds, type SignedAppExport, SwarmError, signEnvelope } from '@swarm/protocol';
import type { FastifyInstance } from 'fastify';
import { pathAppId } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { appPublicRecord, operationalContext } from '../operational-context.js';
import { findApp } from '../storage/apps.js';
import { findProvider } from '../storage/catalog.js';
import { findNamespace } from '../storage/namespaces.js';

/**
 * `GET /v1/apps/{app_id}/export` (SPEC §15): the app as this registry holds it, signed (docs/REGISTRY.md,
 * "Export"). Public like the app record, the audit log and Service DNS, which it gathers: public
 * keys, URLs and the audit head, never the namespace's contact e-mail. Read in one transaction,
 * so the bindings, the epoch and the audit head are of one moment.
 */
export function exportRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get<{ Params: { app_id: string } }>('/v1/apps/:app_id/export', async (request): Promise<SignedAppExport> => {
    const appId = pathAppId(request.params.app_id);
    // PostgreSQL's default isolation gives each statement its own snapshot; one is wanted here.
    const transaction = ctx.dialect === 'postgres' ? ctx.db.transaction().setIsolationLevel('repeatable read') : ctx.db.transaction();
    const document = await transaction.execute(async (trx): Promise<AppExport> => {
      const row = await findApp(trx, appId);
      if (!row) throw new SwarmError('unknown_app', `no app ${appId} here`);
      const namespace = await findNamespace(trx, row.ownerNamespace);
      if (!namespace) throw new SwarmError('unknown_namespace', `no namespace ${row.ownerNamespace} here`);
      const bindings = await trx
        .selectFrom('bindings')
        .selectAll()
        .where('app_id', '=', appId)
        .where('status', '=', 'active')
        .orderBy('bound_at')
        .orderBy('service_id')
        .execute();
      const providers = [];
      for (const provider of [...new Set(bindings.map((binding) => binding.provider))].sort()) {
        const offer = await findProvider(trx, provider);
        if (offer) providers.push(offer.entry);
      }
      const now = nowSeconds();
      return {
        format: APP_EXPORT_FORMAT,
        source: { authority: ctx.authority, public_key: ctx.registryKey.publicKey },
        exported_at: now,
        app_id: row.appId,
        namespace: namespace.namespace,
        master_public_key: namespace.publicKey,
        guardian_public_keys: namespace.guardianPublicKeys,
        former_master_public_keys: namespace.formerPublicKeys,
        app: appPublicRecord(row, now),
        operational_context: operationalContext(ctx, row, now),
        config_epoch: row.configEpoch,
        bindings: bindings.map((binding) => ({
          service_id: binding.service_id,
          service_type: binding.service_type,
          provider: binding.provider,
          endpoint_url: binding.endpoint_url,
          public_key: binding.public_key,
          service_tier: binding.service_tier,
          region: binding.region,
          storage_limit_gb: binding.storage_limit_gb === null ? null : Number(binding.storage_limit_gb),
          bound_at: Number(binding.bound_at),
        })),
        providers,
        audit_head: { seq: row.logSeq, hash: row.logHash },
      };
    });
    return signEnvelope('export', document, ctx.registryKey.privateKey);
  });
}
