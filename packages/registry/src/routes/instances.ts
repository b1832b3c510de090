import {
  Decommission,
  type DecommissionAnswer,
  Heartbeat,
  type HeartbeatAnswer,
  KeyRotation,
  type KeyRotationAnswer,
  nowSeconds,
  parseMessage,
  requireSignature,
  ServiceCall,
  ServiceId,
  type ServicesAnswer,
  ServiceType,
  SwarmError,
  verify,
} from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireActive, requireApp } from '../app-change.js';
import { takeBeat } from '../beats.js';
import { queueBroadcast } from '../broadcasts.js';
import { consumeNonce, pathAppId, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { listingUntil } from '../kept-until.js';
import { requireMasterSigned } from '../master-key.js';
import { signedContext } from '../operational-context.js';
import { bindingRecord, instanceKeys, serviceRecord } from '../records.js';
import { appendAudit } from '../storage/audit.js';
import { type BindingRow, findBinding, revokeBinding, rotateBindingKey } from '../storage/bindings.js';

type InstanceParams = { Params: { app_id: string; service_id: string } };

export function pathServiceId(value: unknown): string {
  const parsed = ServiceId.safeParse(value);
  if (!parsed.success) throw new SwarmError('invalid_request', 'service_id must match [a-z0-9][a-z0-9-]{2,127}');
  return parsed.data;
}

async function requireBound(ctx: RegistryContext, appId: string, serviceId: string): Promise<BindingRow> {
  const binding = await findBinding(ctx.db, appId, serviceId);
  if (binding?.status !== 'active') throw new SwarmError('forbidden', `${serviceId} is not an active instance of ${appId}`);
  return binding;
}

/**
 * A service call (SPEC §9.1): path, body, matching ids, freshness, an active binding, the
 * instance key (or the previous one in its grace period), then the nonce under that key.
 */
async function verifyServiceCall(
  ctx: RegistryContext,
  params: InstanceParams['Params'],
  body: unknown,
  schema: typeof ServiceCall | typeof Heartbeat,
) {
  const appId = pathAppId(params.app_id);
  const serviceId = pathServiceId(params.service_id);
  // A plain service call is a heartbeat without its status.
  const call = parseMessage(schema as typeof Heartbeat, body);
  requireSame('app_id', call.data.app_id, appId);
  requireSame('service_id', call.data.service_id, serviceId);
  requireFresh(ctx, call.data.timestamp);
  const binding = await requireBound(ctx, appId, serviceId);
  const key = instanceKeys(binding, nowSeconds()).find((candidate) => verify('service_call', call.data, call.signature, candidate));
  if (!key) throw new SwarmError('invalid_signature', 'the call is not signed by the instance key');
  await consumeNonce(ctx, key, call.data);
  return { appId, serviceId, binding, data: call.data };
}

export function instanceRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get<{ Params: { app_id: string }; Querystring: { type?: unknown } }>('/v1/apps/:app_id/services', async (request, reply) => {
    const appId = pathAppId(request.params.app_id);
    let type: string | undefined;
    if (request.query.type !== undefined) {
      const parsed = ServiceType.safeParse(request.query.type);
      if (!parsed.success) throw new SwarmError('invalid_request', 'type must be a service_type');
      type = parsed.data;
    }
    const now = nowSeconds();
    let until = now + 1;
    const build = async () => {
      const row = await requireApp(ctx, appId);
      const bindings = await ctx.reads.bindings.active(row.appId, type);
      until = listingUntil(ctx, bindings, now);
      const records = bindings.map((binding) => serviceRecord(ctx, binding, now));
      return JSON.stringify({ app_id: row.appId, records } satisfies ServicesAnswer);
    };
    const answer = await ctx.lookups.http.get(appId, `${appId}\n${type ?? ''}`, now, build, { until: () => until });
    return reply.type('application/json; charset=utf-8').send(answer);
  });

  app.post<InstanceParams>('/v1/apps/:app_id/services/:service_id/context', async (request) => {
    const { appId } = await verifyServiceCall(ctx, request.params, jsonBody(request), ServiceCall);
    const row = requireActive(await requireApp(ctx, appId));
    return signedContext(ctx, row, nowSeconds());
  });

  app.post<InstanceParams>('/v1/apps/:app_id/services/:service_id/heartbeat', async (request): Promise<HeartbeatAnswer> => {
    // Before the binding is read: a change heard while it is read makes the read stale for `Liveness.renew`.
    const generation = ctx.liveness.generation;
    const { appId, serviceId, binding, data } = await verifyServiceCall(ctx, request.params, jsonBody(request), Heartbeat);
    if (!(await takeBeat(ctx, binding, data.status ?? 'ok', generation))) {
      throw new SwarmError('forbidden', `${serviceId} is not an active instance of ${appId}`);
    }
    const row = await requireApp(ctx, appId);
    return { config_epoch: row.configEpoch };
  });

  app.post<InstanceParams>('/v1/apps/:app_id/services/:service_id/key', async (request): Promise<KeyRotationAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const serviceId = pathServiceId(request.params.service_id);
    const rotation = parseMessage(KeyRotation, jsonBody(request));
    const data = rotation.data;
    requireSame('app_id', data.app_id, appId);
    requireSame('service_id', data.service_id, serviceId);
    requireFresh(ctx, data.rotation_timestamp);
    const binding = await requireBound(ctx, appId, serviceId);
    // Only the current key may hand over. A rotation signed by the replaced key is refused, but
    // its nonce is looked at first, so a replay of an applied rotation reads as `nonce_reused`.
    if (!verify('key_rotation', data, rotation.signature, binding.publicKey)) {
      if (binding.previousPublicKey && verify('key_rotation', data, rotation.signature, binding.previousPublicKey)) {
        await consumeNonce(ctx, binding.previousPublicKey, { nonce: data.nonce, timestamp: data.rotation_timestamp });
      }
      throw new SwarmError('invalid_signature', 'the rotation is not signed by the current instance key');
    }
    requireSignature('key_rotation', data, rotation.new_key_signature, data.new_public_key);
    await consumeNonce(ctx, binding.publicKey, { nonce: data.nonce, timestamp: data.rotation_timestamp });
    if (data.new_public_key === binding.publicKey) throw new SwarmError('invalid_request', 'the new key is the current key');
    const now = nowSeconds();
    const graceUntil = now + ctx.instanceKeyGraceSeconds;
    await changeApp(ctx, appId, async (trx, row) => {
      if (!(await rotateBindingKey(trx, binding, data.new_public_key, graceUntil, now))) {
        throw new SwarmError('conflict', 'the instance key changed meanwhile');
      }
      await appendAudit(trx, row, now, 'instance_key_rotated', {
        service_id: serviceId,
        old_public_key: binding.publicKey,
        new_public_key: data.new_public_key,
        grace_period_expiry: graceUntil,
      });
      await queueBroadcast(trx, ctx, row, {
        event: 'KEY_ROTATION',
        service_id: serviceId,
        old_public_key: binding.publicKey,
        new_public_key: data.new_public_key,
        grace_period_expiry: graceUntil,
      });
    });
    return {
      app_id: appId,
      service_id: serviceId,
      public_key: data.new_public_key,
      previous_public_key: binding.publicKey,
      previous_key_expires_at: graceUntil,
    };
  });

  app.post<InstanceParams>('/v1/apps/:app_id/services/:service_id/decommission', async (request): Promise<DecommissionAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const serviceId = pathServiceId(request.params.service_id);
    const decommission = parseMessage(Decommission, jsonBody(request));
    const data = decommission.data;
    requireSame('app_id', data.app_id, appId);
    requireSame('service_id', data.service_id, serviceId);
    requireFresh(ctx, data.timestamp);
    const row = await requireApp(ctx, appId);
    const binding = await findBinding(ctx.db, appId, serviceId);
    if (!binding) throw new SwarmError('not_found', `${serviceId} was never bound to ${appId}`);
    const receipt = data.provider_receipt;
    if (receipt) {
      if (receipt.version !== '1.0') throw new SwarmError('unsupported_version', 'provider_receipt.version must be "1.0"');
      requireSame('provider_receipt.data.app_id', receipt.data.app_id, appId);
      requireSame('provider_receipt.data.service_id', receipt.data.service_id, serviceId);
    }
    const signedBy = await requireMasterSigned(
      ctx,
      row,
      'decommission',
      data,
      decommission.signature,
      () => {
        if (!receipt) return;
        if (!instanceKeys(binding, nowSeconds()).some((key) => verify('termination_receipt', receipt.data, receipt.signature, key))) {
          throw new SwarmError('invalid_signature', 'the termination receipt is not signed by the instance key');
        }
      },
      'decommission',
    );
    const now = nowSeconds();
    const revoked = await changeApp(ctx, appId, async (trx, locked) => {
      if (!(await revokeBinding(trx, appId, serviceId, now))) return false;
      await appendAudit(trx, locked, now, 'service_revoked', {
        service_id: serviceId,
        provider: binding.provider,
        receipt_id: receipt?.data.receipt_id ?? null,
        emergency: receipt === undefined,
        signed_by: signedBy,
      });
      await queueBroadcast(trx, ctx, locked, { event: 'SERVICE_REVOKED', service_id: serviceId }, { alsoServiceId: serviceId });
      return true;
    });
    // Only once the revocation committed: until then memory may hold beats the row has not.
    if (revoked) ctx.liveness.forget(appId, serviceId, nowSeconds());
    const after = (await findBinding(ctx.db, appId, serviceId)) ?? binding;
    return { binding: bindingRecord(after), revoked };
  });
}
