import { randomInt } from 'node:crypto';
import {
  AppManifest,
  type AppRegistration,
  AUDIT_GENESIS_HASH,
  appDnsZone,
  BackboneUpdate,
  type ConfigEpochAnswer,
  DelegateAuthority,
  type MasterKeyRecord,
  nowSeconds,
  parseMessage,
  requireSignature,
  SwarmError,
} from '@swarm/protocol';
import { isUniqueViolation, jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireActive, requireApp } from '../app-change.js';
import { queueBroadcast } from '../broadcasts.js';
import { consumeNonce, pathAppId, requireFresh, requireSame } from '../checks.js';
import { DEFAULT_RETIRE_PREVIOUS_AFTER, type RegistryContext } from '../context.js';
import { requireMasterSigned } from '../master-key.js';
import { appPublicRecord } from '../operational-context.js';
import { pageAfterSeq, pageLimit } from '../pages.js';
import { isRetiredSlug } from '../storage/app-retirements.js';
import type { AppRow } from '../storage/apps.js';
import { insertApp } from '../storage/apps.js';
import { AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, AUDIT_PAGE_MAX_CHARS, appendAudit, auditPage } from '../storage/audit.js';
import { findNamespace } from '../storage/namespaces.js';

const HASH_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomHash(): string {
  let hash = '';
  for (let i = 0; i < 10; i++) hash += HASH_ALPHABET[randomInt(HASH_ALPHABET.length)];
  return hash;
}

export function appRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post('/v1/apps', async (request, reply) => {
    const manifest = parseMessage(AppManifest, jsonBody(request));
    const data = manifest.data;
    requireFresh(ctx, data.timestamp);
    const namespace = await findNamespace(ctx.db, data.owner_namespace);
    if (!namespace) throw new SwarmError('unknown_namespace', `no namespace ${data.owner_namespace} here`);
    requireSignature('app', data, manifest.signature, namespace.publicKey);
    if (await isRetiredSlug(ctx.db, data.owner_namespace, data.project_slug)) {
      throw new SwarmError('conflict', `${data.project_slug} was the slug of a retired app of ${data.owner_namespace}; it is not reused`);
    }
    await consumeNonce(ctx, namespace.publicKey, data);
    const now = nowSeconds();
    for (let attempt = 0; ; attempt++) {
      const appId = `${ctx.appIdPrefix}.${data.owner_namespace}.${data.project_slug}.${randomHash()}`;
      const row: AppRow = {
        appId,
        zone: appDnsZone(appId).slice(0, -1),
        ownerNamespace: data.owner_namespace,
        projectSlug: data.project_slug,
        displayName: data.display_name,
        description: data.description ?? null,
        status: 'active',
        createdAt: now,
        configEpoch: 1,
        authProviderUrl: null,
        authPublicKey: null,
        authPreviousPublicKey: null,
        authPreviousExpiresAt: null,
        billingProviderUrl: ctx.defaultBillingUrl,
        loggingServiceUrl: ctx.defaultLoggingUrl,
        services: {},
        logSeq: 0,
        logHash: AUDIT_GENESIS_HASH,
        successor: null,
      };
      try {
        await ctx.db.transaction().execute(async (trx) => {
          await appendAudit(trx, row, now, 'app_registered', {
            app_id: appId,
            owner_namespace: row.ownerNamespace,
            project_slug: row.projectSlug,
            display_name: row.displayName,
            signed_by: namespace.publicKey,
          });
          await insertApp(trx, row);
          await ctx.announceChange(trx, appId);
        });
        // Its zone was NXDOMAIN until now.
        ctx.lookups.changed(appId);
      } catch (error) {
        if (isUniqueViolation(error) && attempt < 5) continue;
        throw error;
      }
      reply.code(201);
      const registered: AppRegistration = {
        app_id: appId,
        owner_namespace: row.ownerNamespace,
        project_slug: row.projectSlug,
        display_name: row.displayName,
        status: row.status,
        created_at: row.createdAt,
      };
      return registered;
    }
  });

  app.get<{ Params: { app_id: string } }>('/v1/apps/:app_id', async (request) => {
    const row = await requireApp(ctx, pathAppId(request.params.app_id));
    return appPublicRecord(row, nowSeconds());
  });

  app.get<{ Params: { app_id: string } }>('/v1/apps/:app_id/master-key', async (request): Promise<MasterKeyRecord> => {
    const row = requireActive(await requireApp(ctx, pathAppId(request.params.app_id)));
    const namespace = await findNamespace(ctx.db, row.ownerNamespace);
    if (!namespace) throw new SwarmError('unknown_app', `app ${row.appId} has no namespace`);
    return { app_id: row.appId, namespace: namespace.namespace, public_key: namespace.publicKey, status: row.status };
  });

  // Paged (SPEC §15): entries go out as stored, never parsed, so a page costs the loop little.
  app.get<{ Params: { app_id: string }; Querystring: { after?: unknown; limit?: unknown } }>(
    '/v1/apps/:app_id/log',
    async (request, reply) => {
      const appId = pathAppId(request.params.app_id);
      const after = pageAfterSeq(request.query.after);
      const limit = pageLimit(request.query.limit, AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX);
      const row = await requireApp(ctx, appId, 'read');
      const page = await auditPage(ctx.db, row.appId, after, limit, AUDIT_PAGE_MAX_CHARS);
      const next = page.next === null ? 'null' : JSON.stringify(String(page.next));
      return reply.type('application/json; charset=utf-8').send(`{"entries":[${page.entries.join(',')}],"next":${next}}`);
    },
  );

  app.post<{ Params: { app_id: string } }>('/v1/apps/:app_id/auth', async (request): Promise<ConfigEpochAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const delegation = parseMessage(DelegateAuthority, jsonBody(request));
    const data = delegation.data;
    requireSame('app_id', data.app_id, appId);
    requireFresh(ctx, data.timestamp);
    const signedBy = await requireMasterSigned(
      ctx,
      requireActive(await requireApp(ctx, appId)),
      'delegate_authority',
      data,
      delegation.signature,
    );
    ctx.egress.requireAllowed('auth_provider_url', data.auth_provider_url);
    const now = nowSeconds();
    const epoch = await changeApp(ctx, appId, async (trx, row) => {
      const retire = data.retire_previous_after ?? DEFAULT_RETIRE_PREVIOUS_AFTER;
      if (row.authPublicKey !== null && row.authPublicKey !== data.auth_public_key && retire > 0) {
        row.authPreviousPublicKey = row.authPublicKey;
        row.authPreviousExpiresAt = now + retire;
      } else if (retire === 0 || row.authPreviousPublicKey === data.auth_public_key) {
        row.authPreviousPublicKey = null;
        row.authPreviousExpiresAt = null;
      }
      row.authPublicKey = data.auth_public_key;
      row.authProviderUrl = data.auth_provider_url;
      row.configEpoch += 1;
      await appendAudit(trx, row, now, 'auth_delegated', {
        auth_public_key: data.auth_public_key,
        auth_provider_url: data.auth_provider_url,
        retire_previous_after: retire,
        config_epoch: row.configEpoch,
        signed_by: signedBy,
      });
      await queueBroadcast(trx, ctx, row, { event: 'BACKBONE_UPDATE', config_epoch: row.configEpoch });
      return row.configEpoch;
    });
    return { app_id: appId, config_epoch: epoch };
  });

  app.patch<{ Params: { app_id: string } }>('/v1/apps/:app_id/operational-context', async (request): Promise<ConfigEpochAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const update = parseMessage(BackboneUpdate, jsonBody(request));
    const data = update.data;
    requireSame('app_id', data.app_id, appId);
    requireFresh(ctx, data.timestamp);
    const row = requireActive(await requireApp(ctx, appId));
    const signedBy = await requireMasterSigned(ctx, row, 'backbone_update', data, update.signature, undefined, 'backbone_update');
    ctx.egress.requireAllowed('billing_provider_url', data.operational_context.billing_provider_url);
    ctx.egress.requireAllowed('logging_service_url', data.operational_context.logging_service_url);
    const now = nowSeconds();
    const epoch = await changeApp(ctx, appId, async (trx, row) => {
      const replaced = [row.billingProviderUrl, row.loggingServiceUrl];
      const changes = data.operational_context;
      if (changes.billing_provider_url !== undefined) row.billingProviderUrl = changes.billing_provider_url;
      if (changes.logging_service_url !== undefined) row.loggingServiceUrl = changes.logging_service_url;
      if (changes.services !== undefined) row.services = changes.services;
      row.configEpoch += 1;
      await appendAudit(trx, row, now, 'backbone_updated', {
        billing_provider_url: row.billingProviderUrl,
        logging_service_url: row.loggingServiceUrl,
        services: row.services,
        config_epoch: row.configEpoch,
        signed_by: signedBy,
      });
      // The services being replaced hear of it too, so they can stop taking the app's reports.
      await queueBroadcast(trx, ctx, row, { event: 'BACKBONE_UPDATE', config_epoch: row.configEpoch }, { extraBackbone: replaced });
      return row.configEpoch;
    });
    return { app_id: appId, config_epoch: epoch };
  });
}
