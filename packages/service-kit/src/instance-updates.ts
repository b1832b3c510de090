import { createHash } from 'node:crypto';
import {
  canonicalJson,
  errorFromBody,
  type InstanceUpdateAnswer,
  type InstanceUpdateData,
  InstanceUpdateRequest,
  isErrorCode,
  newNonce,
  nowSeconds,
  PROTOCOL_VERSION,
  parseAnswer,
  SwarmError,
  sign,
  UpdateBindingAnswer,
} from '@swarm/protocol';
import { postJson, verifyOwnerSigned, withTables } from '@swarm/runtime';
import type { Kysely } from 'kysely';
import type { Kit } from './kit.js';
import type { KitInstanceUpdatesTable, KitTables } from './store.js';

/** Finished updates kept per instance (their status documents); older ones are dropped. */
export const UPDATES_KEPT_PER_INSTANCE = 20;

type UpdateRow = KitInstanceUpdatesTable;
type Outcome = { status: 200 | 202; body: InstanceUpdateAnswer };

const dbOf = (kit: Kit): Kysely<KitTables> => withTables<KitTables>(kit.database.db);

/** An update is named by the owner's signed payload (the registry derives the same id). */
export function updateIdOf(payload: InstanceUpdateData): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex').slice(0, 32);
}

export function updateStatusUrl(kit: Pick<Kit, 'publicUrl'>, serviceId: string, updateId: string): string {
  return `${kit.publicUrl}/v1/instances/${serviceId}/updates/${updateId}`;
}

/**
 * An owner's change of a running instance (docs/SERVICE-KIT.md, "Updating an instance"),
 * checked like provisioning by the one owner-signed verifier: instance, provider, tier, region
 * and storage against the offer before the timestamp, then the Master key and the nonce. The
 * data must fit the new limit. The registry learns it first (through the provider's signed
 * notice); only then the instance changes, all at once. While the registry cannot be reached
 * the update waits (`202`, status URL) and is retried.
 */
export async function updateInstance(kit: Kit, serviceId: string, body: unknown): Promise<Outcome> {
  const {
    data,
    signature,
    expected: instance,
  } = await verifyOwnerSigned(InstanceUpdateRequest, body, {
    purpose: 'instance_update',
    action: 'update',
    registry: kit.registry,
    replay: kit.replay,
    freshnessSeconds: kit.config.freshnessSeconds,
    expect: async (data) => {
      if (data.service_id !== serviceId) throw new SwarmError('invalid_request', 'data.service_id must name the instance in the URL');
      if (data.target_provider !== kit.config.provider) {
        throw new SwarmError('wrong_provider', `this is ${kit.config.provider}, not ${data.target_provider}`);
      }
      const instance = await kit.instances.get(serviceId);
      if (!instance || instance.appId !== data.app_id || instance.status === 'failed' || instance.wiped) {
        throw new SwarmError('not_found', 'no such instance');
      }
      if (instance.terminated || instance.status === 'revoked') throw new SwarmError('gone', 'this instance no longer serves');
      if (instance.status !== 'active') throw new SwarmError('conflict', 'the instance is still binding; update it once it is active');
      const tier = kit.config.tiers.find((t) => t.name === data.service_tier);
      if (!tier) throw new SwarmError('unsupported_tier', `tier ${data.service_tier} is not offered`);
      if (data.region !== undefined && !kit.config.regions.includes(data.region)) {
        throw new SwarmError('unsupported_region', `region ${data.region} is not offered`);
      }
      // Moving data between regions is a move to another instance, not an update.
      if (data.region !== undefined && data.region !== instance.region) {
        throw new SwarmError(
          'unsupported_region',
          `${kit.config.provider} does not move an instance from ${instance.region} to ${data.region}`,
        );
      }
      if (data.storage_limit_gb > tier.storage_limit_gb_max) {
        throw new SwarmError('storage_limit_exceeded', `tier ${tier.name} allows at most ${tier.storage_limit_gb_max} GB`);
      }
      return instance;
    },
  });
  const db = dbOf(kit);
  const pending = await db
    .selectFrom('kit_instance_updates')
    .select('update_id')
    .where('service_id', '=', serviceId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  if (pending) throw new SwarmError('conflict', `update ${pending.update_id} of ${serviceId} is still pending`);
  await kit.domain.checkStorageLimit(instance.info, data.storage_limit_gb);

  const row: UpdateRow = {
    update_id: updateIdOf(data),
    service_id: serviceId,
    app_id: data.app_id,
    developer_proof: JSON.stringify({ payload: data, signature }),
    service_tier: data.service_tier,
    region: data.region ?? instance.region,
    storage_limit_gb: data.storage_limit_gb,
    status: 'pending',
    error_code: null,
    error_message: null,
    requested_at: nowSeconds(),
    applied_at: null,
  };
  // Kept before the registry hears of it, so a crash in between resumes instead of forgetting.
  await db.insertInto('kit_instance_updates').values(row).execute();
  await pruneUpdates(db, serviceId);
  const after = await settleUpdate(kit, row);
  if (after.status === 'failed') {
    const code = isErrorCode(after.error?.code) ? after.error.code : 'conflict';
    throw new SwarmError(code, after.error?.message ?? 'update refused');
  }
  return { status: after.status === 'applied' ? 200 : 202, body: after };
}

/** The status document of an update (`GET /v1/instances/{service_id}/updates/{update_id}`). */
export async function updateStatus(kit: Kit, serviceId: string, updateId: string): Promise<InstanceUpdateAnswer> {
  const row = await dbOf(kit)
    .selectFrom('kit_instance_updates')
    .selectAll()
    .where('update_id', '=', updateId)
    .where('service_id', '=', serviceId)
    .executeTakeFirst();
  if (!row) throw new SwarmError('not_found', 'no such update');
  return answerOf(kit, row);
}

/** Retries every update still waiting for the registry (a timer of the service, and at start). */
export async function retryPendingUpdates(kit: Kit): Promise<void> {
  const rows = await dbOf(kit).selectFrom('kit_instance_updates').selectAll().where('status', '=', 'pending').limit(100).execute();
  for (const row of rows) await settleUpdate(kit, row).catch(() => {});
}

/**
 * Tells the registry, then applies: the instance's tier, region and limit and the update's
 * status change in one transaction. A refusal leaves the instance as it was.
 */
async function settleUpdate(kit: Kit, row: UpdateRow): Promise<InstanceUpdateAnswer> {
  const proof = JSON.parse(row.developer_proof) as { payload: InstanceUpdateData; signature: string };
  const serviceUpdate = { service_id: row.service_id, timestamp: nowSeconds(), nonce: newNonce() };
  const request = {
    version: PROTOCOL_VERSION,
    developer_proof: proof,
    service_update: serviceUpdate,
    update_signature: sign('update_binding', { developer_proof: proof, service_update: serviceUpdate }, kit.providerKey.privateKey),
  };
  const registry = kit.registry.registryFor(row.app_id);
  const url = `${registry.baseUrl}/v1/apps/${row.app_id}/services/${row.service_id}/update`;
  let answer: { status: number; body: unknown };
  try {
    answer = await postJson(url, request, { timeoutMs: 5000 });
  } catch {
    return answerOf(kit, row);
  }
  const db = dbOf(kit);
  if (answer.status === 200 || answer.status === 201) {
    const recorded = parseAnswer(UpdateBindingAnswer, answer.body, 'the registry');
    if (recorded.update_id !== row.update_id) throw new SwarmError('registry_unavailable', 'the registry recorded another update');
    const appliedAt = nowSeconds();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('kit_instances')
        .set({ service_tier: row.service_tier, region: row.region, storage_limit_gb: row.storage_limit_gb })
        .where('service_id', '=', row.service_id)
        .execute();
      await trx
        .updateTable('kit_instance_updates')
        .set({ status: 'applied', applied_at: appliedAt })
        .where('update_id', '=', row.update_id)
        .execute();
    });
    kit.instances.forget(row.service_id);
    // What was counted under the old terms goes out now, so Billing's next period starts at the change.
    void kit.reporter.flush().catch(() => {});
    return answerOf(kit, { ...row, status: 'applied', applied_at: appliedAt });
  }
  const error = errorFromBody(answer.body);
  if (answer.status >= 500 || !error || error.code === 'registry_unavailable') return answerOf(kit, row);
  const failed = { status: 'failed' as const, error_code: error.code, error_message: error.message.slice(0, 500) };
  await db.updateTable('kit_instance_updates').set(failed).where('update_id', '=', row.update_id).execute();
  return answerOf(kit, { ...row, ...failed });
}

async function pruneUpdates(db: Kysely<KitTables>, serviceId: string): Promise<void> {
  const oldest = await db
    .selectFrom('kit_instance_updates')
    .select('requested_at')
    .where('service_id', '=', serviceId)
    .orderBy('requested_at', 'desc')
    .limit(1)
    .offset(UPDATES_KEPT_PER_INSTANCE - 1)
    .executeTakeFirst();
  if (!oldest) return;
  await db
    .deleteFrom('kit_instance_updates')
    .where('service_id', '=', serviceId)
    .where('status', '!=', 'pending')
    .where('requested_at', '<', Number(oldest.requested_at))
    .execute();
}

function answerOf(kit: Kit, row: UpdateRow): InstanceUpdateAnswer {
  const base: InstanceUpdateAnswer = {
    update_id: row.update_id,
    service_id: row.service_id,
    app_id: row.app_id,
    status: row.status,
    service_tier: row.service_tier,
    region: row.region,
    storage_limit_gb: Number(row.storage_limit_gb),
    requested_at: Number(row.requested_at),
  };
  if (row.status === 'applied' && row.applied_at !== null) return { ...base, applied_at: Number(row.applied_at) };
  if (row.status === 'pending') return { ...base, status_url: updateStatusUrl(kit, row.service_id, row.update_id) };
  return { ...base, error: { code: row.error_code ?? 'conflict', message: row.error_message ?? 'update refused' } };
}
