import { createHash } from 'node:crypto';
import {
  canonicalJson,
  type InstanceUpdateData,
  nowSeconds,
  parseMessage,
  requireSignature,
  SwarmError,
  type UpdateBindingAnswer,
  UpdateBindingRequest,
} from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireActive, requireApp } from '../app-change.js';
import { consumeNonce, pathAppId, requireFresh, requireSame } from '../checks.js';
import { DEVELOPER_PROOF_MAX_AGE, type RegistryContext } from '../context.js';
import { ownerSignerKey } from '../master-key.js';
import { bindingRecord } from '../records.js';
import { appendAudit } from '../storage/audit.js';
import { applyBindingUpdate, type BindingUpdateRow, findBindingUpdate } from '../storage/binding-updates.js';
import { findBinding } from '../storage/bindings.js';
import { findProvider } from '../storage/catalog.js';
import { findNamespace } from '../storage/namespaces.js';
import { pathServiceId } from './instances.js';

/** An update is named by its signed payload, which carries the owner's own nonce and timestamp. */
export function updateIdOf(payload: InstanceUpdateData): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex').slice(0, 32);
}

type UpdateParams = { Params: { app_id: string; service_id: string } };

/**
 * The provider's notice of an owner's instance update (docs/PROTOCOL.md): the registry applies
 * what the owner signed, only when the instance's own provider forwards it, so neither a
 * provider alone nor a replayed owner request can change what Service DNS lists.
 */
export function instanceUpdateRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<UpdateParams>('/v1/apps/:app_id/services/:service_id/update', async (request, reply): Promise<UpdateBindingAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const serviceId = pathServiceId(request.params.service_id);
    const body = parseMessage(UpdateBindingRequest, jsonBody(request));
    const payload = body.developer_proof.payload;
    requireSame('developer_proof.payload.app_id', payload.app_id, appId);
    requireSame('developer_proof.payload.service_id', payload.service_id, serviceId);
    requireSame('service_update.service_id', body.service_update.service_id, serviceId);

    const binding = await findBinding(ctx.db, appId, serviceId);
    if (binding?.status !== 'active') throw new SwarmError('forbidden', `${serviceId} is not an active instance of ${appId}`);
    if (payload.target_provider !== binding.provider) {
      throw new SwarmError('wrong_provider', `${serviceId} is served by ${binding.provider}, not ${payload.target_provider}`);
    }
    const offer = await findProvider(ctx.db, binding.provider);
    if (!offer) throw new SwarmError('unknown_provider', `no provider ${binding.provider} in the catalog`);
    const signed = { developer_proof: body.developer_proof, service_update: body.service_update };
    requireSignature('update_binding', signed, body.update_signature, offer.entry.public_key);
    requireFresh(ctx, body.service_update.timestamp);
    await consumeNonce(ctx, offer.entry.public_key, body.service_update);

    const found = requireActive(await requireApp(ctx, appId));
    const namespace = await findNamespace(ctx.db, found.ownerNamespace);
    if (!namespace) throw new SwarmError('invalid_signature', 'the update is not signed by the app’s Master key');
    const signedBy = await ownerSignerKey(
      ctx,
      found,
      namespace.publicKey,
      'instance_update',
      payload,
      body.developer_proof.signature,
      'update',
    );
    const updateId = updateIdOf(payload);
    // A retry of an update already applied: the same answer, however old the proof is by now.
    const applied = await findBindingUpdate(ctx.db, updateId);
    if (applied) {
      reply.code(200);
      return { update_id: updateId, binding: bindingRecord((await findBinding(ctx.db, appId, serviceId)) ?? binding) };
    }
    const now = nowSeconds();
    if (now - payload.timestamp > DEVELOPER_PROOF_MAX_AGE || payload.timestamp - now > ctx.freshnessSeconds) {
      throw new SwarmError('stale_timestamp', 'the owner’s update is more than 15 minutes old');
    }
    const tier = offer.entry.tiers.find((t) => t.name === payload.service_tier);
    if (!tier) throw new SwarmError('unsupported_tier', `tier ${payload.service_tier} is not offered`);
    if (payload.storage_limit_gb > tier.storage_limit_gb_max) {
      throw new SwarmError('storage_limit_exceeded', `tier ${tier.name} allows at most ${tier.storage_limit_gb_max} GB`);
    }
    if (payload.region !== undefined && !offer.entry.regions.includes(payload.region)) {
      throw new SwarmError('unsupported_region', `region ${payload.region} is not offered`);
    }

    const update: BindingUpdateRow = {
      updateId,
      appId,
      serviceId,
      serviceTier: payload.service_tier,
      region: payload.region ?? binding.region,
      storageLimitGb: payload.storage_limit_gb,
      at: now,
    };
    await changeApp(ctx, appId, async (trx, row) => {
      requireActive(row);
      if (!(await applyBindingUpdate(trx, binding, update))) {
        throw new SwarmError('forbidden', `${serviceId} is not an active instance of ${appId}`);
      }
      await appendAudit(trx, row, now, 'service_updated', {
        service_id: serviceId,
        update_id: updateId,
        provider: binding.provider,
        from: { service_tier: binding.serviceTier, region: binding.region, storage_limit_gb: binding.storageLimitGb },
        to: { service_tier: update.serviceTier, region: update.region, storage_limit_gb: update.storageLimitGb },
        developer_proof_signature: body.developer_proof.signature,
        signed_by: signedBy,
      });
    });
    reply.code(201);
    return { update_id: updateId, binding: bindingRecord((await findBinding(ctx.db, appId, serviceId)) ?? binding) };
  });
}
