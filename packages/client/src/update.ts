import { setTimeout as sleep } from 'node:timers/promises';
import {
  type InstanceUpdateAnswer as Answer,
  InstanceUpdateAnswer,
  type InstanceUpdateData,
  isErrorCode,
  type SigningKey,
  SwarmError,
  signEnvelope,
} from '@swarm/protocol';
import { offerOfProvider } from './catalog.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';
import { services } from './services.js';

export interface UpdateInput {
  appId: string;
  serviceId: string;
  master: SigningKey;
  /** The new tier; the current one when absent. */
  tier?: string;
  /** The new storage limit; when absent, the current one (same tier) or the new tier's default. */
  storageGb?: number;
  /** Only the instance's own region: providers here do not move instances between regions. */
  region?: string;
  /** Called with each answer while the update waits for the registry. */
  onProgress?: (answer: Answer) => void;
  /** How long to follow a `202` (default 120 s). */
  waitMs?: number;
}

/**
 * Changes a running instance's tier or storage limit (docs/PROTOCOL.md, "Changing a running
 * instance"): reads the instance from Service DNS and its provider's offer from the catalog,
 * signs the update with the Master key, sends it to the provider and follows a `202` until
 * it is `applied` (returned) or `failed` (thrown).
 *
 * @example
 * await updateInstance(options, { appId, serviceId, master, tier: 'pro_cluster', storageGb: 50 });
 */
export async function updateInstance(options: ClientOptions, input: UpdateInput): Promise<Answer> {
  const record = (await services(options, input.appId)).find((r) => r.service_id === input.serviceId);
  if (!record) throw new SwarmError('not_found', `${input.serviceId} is not an active instance of ${input.appId}`);
  const offer = await offerOfProvider(options, record.provider);
  const tierName = input.tier ?? record.service_tier;
  if (!tierName) throw new SwarmError('invalid_request', `${input.serviceId} has no tier; name one with --tier`);
  const tier = offer.tiers.find((t) => t.name === tierName);
  if (!tier) throw new SwarmError('unsupported_tier', `${record.provider} offers no tier ${tierName}`);
  const storage =
    input.storageGb ?? (tierName === record.service_tier && record.storage_limit_gb !== null ? record.storage_limit_gb : undefined);
  const data: InstanceUpdateData = {
    app_id: input.appId,
    service_id: input.serviceId,
    target_provider: record.provider,
    service_tier: tierName,
    storage_limit_gb: storage ?? tier.storage_limit_gb_default,
    ...(input.region === undefined ? {} : { region: input.region }),
    ...freshness(),
    context: 'instance_update',
  };
  const envelope = signEnvelope('instance_update', data, input.master.privateKey);
  const url = `${offer.provision_url}/${encodeURIComponent(input.serviceId)}`;
  let { body: answer } = await call('PATCH', url, InstanceUpdateAnswer, envelope, { timeoutMs: 60_000 });
  input.onProgress?.(answer);
  const statusUrl = answer.status_url ?? `${url}/updates/${answer.update_id}`;
  const deadline = Date.now() + (input.waitMs ?? 120_000);
  let delayMs = 250;
  while (answer.status === 'pending') {
    if (Date.now() > deadline)
      throw new SwarmError('registry_unavailable', `update ${answer.update_id} is still pending; check ${statusUrl}`);
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 2_000);
    answer = (await call('GET', statusUrl, InstanceUpdateAnswer)).body;
    input.onProgress?.(answer);
  }
  if (answer.status === 'failed') {
    const code = isErrorCode(answer.error?.code) ? answer.error.code : 'conflict';
    throw new SwarmError(code, answer.error?.message ?? `update ${answer.update_id} failed`);
  }
  return answer;
}
