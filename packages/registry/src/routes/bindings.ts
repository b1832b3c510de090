import { createHash } from 'node:crypto';
import {
  BindingRequest,
  canonicalJson,
  isAppId,
  nowSeconds,
  type ProvisionData,
  parseMessage,
  requireSignature,
  SwarmError,
} from '@swarm/protocol';
import { compileOnce, isUniqueViolation, jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireActive, requireApp } from '../app-change.js';
import { consumeNonce, requireFresh } from '../checks.js';
import { DEVELOPER_PROOF_MAX_AGE, type RegistryContext } from '../context.js';
import { ownerSignerKey } from '../master-key.js';
import { signedContext } from '../operational-context.js';
import { bindingRecord } from '../records.js';
import type { AppRow } from '../storage/apps.js';
import { appendAudit } from '../storage/audit.js';
import { type BindingRow, findBindingByProof, findBindingClashes, insertBinding } from '../storage/bindings.js';
import type { CatalogRow } from '../storage/catalog.js';
import { findProvider } from '../storage/catalog.js';
import { findNamespace } from '../storage/namespaces.js';
import type { RegistryTables } from '../storage/schema.js';

/** Active instances one app, and all apps of one namespace, may hold of one tier. */
export interface InstanceQuota {
  perApp: number;
  perNamespace: number;
}

/** Quotas by tier name; `*` stands for every tier not named. */
export type InstanceQuotas = Record<string, InstanceQuota>;

/**
 * A free account gets 100 of a kind, like Cloudflare Workers' free plan (100 Workers per
 * account); paid tiers ten times that. Enough for any app, too few for one tenant to crowd
 * Service DNS or a provider's heartbeats.
 */
export const DEFAULT_INSTANCE_QUOTAS: Readonly<InstanceQuotas> = Object.freeze({
  free: { perApp: 100, perNamespace: 1000 },
  '*': { perApp: 1000, perNamespace: 10_000 },
});

/** `free=100/1000,*=1000/10000`: per tier, instances per app / per namespace (SWARM_INSTANCE_QUOTAS, `--instance-quotas`). */
export function parseInstanceQuotas(text: string): InstanceQuotas {
  const quotas: InstanceQuotas = { ...DEFAULT_INSTANCE_QUOTAS };
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9_*-]+)=(\d+)\/(\d+)$/.exec(part);
    if (!match) throw new Error(`instance quota "${part}" is not <tier>=<per app>/<per namespace>`);
    quotas[match[1] as string] = { perApp: Number(match[2]), perNamespace: Number(match[3]) };
  }
  return quotas;
}

/** The app's and its namespace's active instances of the tier, in one query (the app is one of the namespace's). */
function activeCounts(untiered: boolean) {
  return compileOnce<
    RegistryTables,
    { appId: string; namespace: string; tier: string },
    { namespace_wide: number | string; in_app: number | string | null }
  >((db, value) => {
    const query = db
      .selectFrom('bindings')
      .innerJoin('apps', 'apps.app_id', 'bindings.app_id')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('namespace_wide'),
        eb.fn.sum<number | string | null>(eb.case().when('bindings.app_id', '=', value('appId')).then(1).else(0).end()).as('in_app'),
      ])
      .where('bindings.status', '=', 'active')
      .where('apps.owner_namespace', '=', value('namespace'));
    return untiered ? query.where('bindings.service_tier', 'is', null) : query.where('bindings.service_tier', '=', value('tier'));
  });
}
// Every binding counts: compiled once.
const activeCountsOfTier = activeCounts(false);
const activeCountsUntiered = activeCounts(true);

/**
 * Refuses the binding that would take the app or its namespace past the tier's quota (`422
 * quota_exceeded`). Runs inside the app's locked change, so one app's bindings count in turn.
 */
async function requireQuota(
  trx: Parameters<Parameters<typeof changeApp>[2]>[0],
  quotas: InstanceQuotas,
  app: AppRow,
  tier: string | null,
): Promise<void> {
  const quota = (tier !== null ? quotas[tier] : undefined) ?? quotas['*'];
  if (!quota) return;
  const counts = await (tier === null ? activeCountsUntiered : activeCountsOfTier).first(trx, {
    appId: app.appId,
    namespace: app.ownerNamespace,
    tier: tier ?? '',
  });
  const label = tier ?? 'default';
  if (Number(counts?.in_app ?? 0) >= quota.perApp) {
    throw new SwarmError('quota_exceeded', `the app already has ${quota.perApp} active instances of tier ${label}, its quota`);
  }
  if (Number(counts?.namespace_wide ?? 0) >= quota.perNamespace) {
    throw new SwarmError('quota_exceeded', `the namespace already has ${quota.perNamespace} active instances of tier ${label}, its quota`);
  }
}

/** A developer proof is identified by its payload: it carries the developer's own nonce and timestamp. */
function proofHash(payload: ProvisionData): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

function storageLimit(payload: ProvisionData, offer: CatalogRow): number | null {
  if (payload.storage_limit_gb !== undefined) return payload.storage_limit_gb;
  const tier = offer.entry.tiers.find((t) => t.name === payload.service_tier);
  return tier ? tier.storage_limit_gb_default : null;
}

/** `app`: the app row as this change saved it (absent when a racing replica's binding was found). */
type Outcome = { status: 200 | 201; binding: BindingRow; app?: AppRow };

function existingOutcome(existing: BindingRow, serviceId: string, provider: string): Outcome {
  if (existing.serviceId === serviceId && existing.provider === provider) return { status: 200, binding: existing };
  throw new SwarmError('proof_reused', 'this developer proof already bound another instance');
}

export function bindingRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  /** SPEC §5.2: the checks run in exactly this order, each with its own code. */
  app.post('/v1/bindings', async (request, reply) => {
    const body = parseMessage(BindingRequest, jsonBody(request));
    const payload = body.developer_proof.payload;
    const service = body.service_binding;

    const offer = await findProvider(ctx.db, payload.target_provider);
    if (!offer) throw new SwarmError('unknown_provider', `no provider ${payload.target_provider} in the catalog`);
    if (service.service_type !== offer.entry.service_type) {
      throw new SwarmError('wrong_provider', `${offer.entry.provider} offers ${offer.entry.service_type}, not ${service.service_type}`);
    }
    const signed = { developer_proof: body.developer_proof, service_binding: service };
    requireSignature('binding', signed, body.binding_signature, offer.entry.public_key);
    requireFresh(ctx, service.timestamp);
    await consumeNonce(ctx, offer.entry.public_key, service);

    if (!isAppId(payload.app_id)) throw new SwarmError('invalid_app_id', 'developer_proof.payload.app_id is not an app_id');
    const found = requireActive(await requireApp(ctx, payload.app_id));
    const namespace = await findNamespace(ctx.db, found.ownerNamespace);
    if (!namespace) throw new SwarmError('invalid_signature', 'the developer proof is not signed by the app’s Master key');
    // The Master key, or a key it delegated `provision` on this app to.
    await ownerSignerKey(ctx, found, namespace.publicKey, 'provision', payload, body.developer_proof.signature, 'provision');
    const now = nowSeconds();
    if (now - payload.timestamp > DEVELOPER_PROOF_MAX_AGE || payload.timestamp - now > ctx.freshnessSeconds) {
      throw new SwarmError('stale_timestamp', 'the developer proof is more than 15 minutes old');
    }

    const hash = proofHash(payload);
    let outcome: Outcome;
    try {
      outcome = await changeApp(ctx, found.appId, async (trx, row): Promise<Outcome> => {
        requireActive(row);
        const clashes = await findBindingClashes(trx, {
          proofHash: hash,
          appId: row.appId,
          provider: offer.entry.provider,
          serviceId: service.service_id,
        });
        const existing = clashes.find((clash) => clash.proofHash === hash);
        if (existing) return { ...existingOutcome(existing, service.service_id, offer.entry.provider), app: row };
        if (clashes.length > 0) throw new SwarmError('conflict', `service_id ${service.service_id} is already bound`);
        await requireQuota(trx, ctx.instanceQuotas, row, payload.service_tier ?? null);
        const binding: BindingRow = {
          appId: row.appId,
          serviceId: service.service_id,
          provider: offer.entry.provider,
          serviceType: service.service_type,
          endpointUrl: service.endpoint_url,
          publicKey: service.public_key,
          previousPublicKey: null,
          previousKeyExpiresAt: null,
          serviceTier: payload.service_tier ?? null,
          region: payload.region ?? null,
          storageLimitGb: storageLimit(payload, offer),
          boundAt: now,
          status: 'active',
          proofHash: hash,
          lastHeartbeatAt: now,
          heartbeatStatus: null,
          revokedAt: null,
          changedAt: null,
        };
        await insertBinding(trx, binding);
        await appendAudit(trx, row, now, 'service_bound', {
          ...bindingRecord(binding),
          developer_proof_signature: body.developer_proof.signature,
          signed_by: offer.entry.public_key,
        });
        return { status: 201, binding, app: row };
      });
    } catch (error) {
      // A racing replica bound the same proof first: the unique constraint decided.
      if (!isUniqueViolation(error)) throw error;
      const existing = await findBindingByProof(ctx.db, hash);
      if (!existing) throw new SwarmError('conflict', `service_id ${service.service_id} is already bound`);
      outcome = existingOutcome(existing, service.service_id, offer.entry.provider);
    }

    const current = outcome.app ?? (await ctx.reads.apps.find(found.appId)) ?? found;
    reply.code(outcome.status);
    return { binding: bindingRecord(outcome.binding), ...signedContext(ctx, current, nowSeconds()) };
  });
}
