import { setTimeout as sleep } from 'node:timers/promises';
import {
  type InstanceMoveData,
  isErrorCode,
  type MoveStatusAnswer,
  MoveStatusAnswer as MoveStatusSchema,
  type ProvisionAnswer,
  type ServiceRecord,
  type SigningKey,
  SwarmError,
  signEnvelope,
  type TransferSummary,
} from '@swarm/protocol';
import { offerOfProvider } from './catalog.js';
import { type DecommissionResult, decommission } from './decommission.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';
import { provision } from './provision.js';
import { services } from './services.js';

export interface MoveInput {
  appId: string;
  serviceId: string;
  master: SigningKey;
  /** The provider to move to: another provider of the same service type. */
  to: string;
  /** The new instance's terms; the old one's unless given. */
  tier?: string;
  region?: string;
  storageGb?: number;
  /** An instance at `to` that a failed move left behind: the transfer resumes into it instead of a new one. */
  into?: string;
  /** Called at each step and while the transfer runs. */
  onProgress?: (progress: MoveProgress) => void;
  /** How long to follow the transfer (default 30 minutes). */
  waitMs?: number;
}

export type MoveProgress =
  | { step: 'provisioned'; instance: ProvisionAnswer }
  | { step: 'transfer'; status: MoveStatusAnswer }
  | { step: 'verified'; summary: TransferSummary }
  | { step: 'switched'; decommission: DecommissionResult };

/** What `swarm move` prints: where the data went, what was checked, and the old instance's receipt. */
export interface MoveReceipt {
  app_id: string;
  move_id: string;
  from: { service_id: string; provider: string };
  to: { service_id: string; provider: string; endpoint_url: string };
  items: number;
  digest: string;
  receipt: DecommissionResult['receipt'];
  revocation: DecommissionResult['revocation'];
}

/**
 * Moves an instance to another provider with its data (docs/DATA-TRANSFER.md): provisions an
 * instance at `to` (the old one's tier, region and limit unless given), asks it to copy the old
 * instance's data with the owner's signed `instance_move`, follows the transfer, checks that
 * both instances hold the same count and digest, then decommissions the old instance (its
 * termination receipt, then revocation at the registry), so Service DNS lists the new one only.
 * Until that last step nothing is taken from the old instance: a move that fails on the way
 * leaves it serving, and the error says how to resume or drop the copy.
 *
 * @example
 * const receipt = await moveInstance(options, { appId, serviceId, master, to: 'article2.cms.local' });
 */
export async function moveInstance(options: ClientOptions, input: MoveInput): Promise<MoveReceipt> {
  const records = await services(options, input.appId);
  const record = records.find((r) => r.service_id === input.serviceId);
  if (!record) throw new SwarmError('not_found', `${input.serviceId} is not an active instance of ${input.appId}`);
  if (record.provider === input.to) throw new SwarmError('invalid_request', `${input.serviceId} is already at ${input.to}`);
  const target = await offerOfProvider(options, input.to);
  if (target.service_type !== record.service_type) {
    throw new SwarmError('invalid_request', `${input.to} offers ${target.service_type}, not ${record.service_type}`);
  }
  const destination = input.into ? existingTarget(records, input) : await provisionTarget(options, input, record, target);
  if (!input.into) input.onProgress?.({ step: 'provisioned', instance: destination as ProvisionAnswer });
  const newId = destination.service_id;
  const stillServes = (what: string) =>
    `${what}. ${input.serviceId} still serves at ${record.provider}. Resume with \`swarm move ${input.serviceId} --to ${input.to} ` +
    `--into ${newId} --app ${input.appId} --key …\`, or drop the copy with \`swarm decommission ${newId} --app ${input.appId} --key …\``;

  const move: InstanceMoveData = {
    app_id: input.appId,
    service_id: input.serviceId,
    source_provider: record.provider,
    target_provider: input.to,
    new_service_id: newId,
    ...freshness(),
    context: 'instance_move',
  };
  const importUrl = `${target.provision_url}/${encodeURIComponent(newId)}/import`;
  let status: MoveStatusAnswer;
  try {
    status = (await call('POST', importUrl, MoveStatusSchema, signEnvelope('instance_move', move, input.master.privateKey))).body;
    input.onProgress?.({ step: 'transfer', status });
    status = await followTransfer(importUrl, status, input);
  } catch (error) {
    throw refusal(error, stillServes);
  }
  if (status.status === 'failed') {
    const code = isErrorCode(status.error?.code) ? status.error.code : 'conflict';
    throw new SwarmError(code, stillServes(status.error?.message ?? 'the transfer failed'));
  }
  const { source, imported } = status;
  if (!source || !imported || source.items !== imported.items || source.digest !== imported.digest) {
    throw new SwarmError('conflict', stillServes('the copy does not match the old instance (count or digest)'));
  }
  input.onProgress?.({ step: 'verified', summary: imported });

  const switched = await decommission(options, { appId: input.appId, serviceId: input.serviceId, master: input.master }).catch((error) => {
    throw refusal(
      error,
      (what) => `${what}. The data is at ${newId}; finish with \`swarm decommission ${input.serviceId} --app ${input.appId} --key …\``,
    );
  });
  input.onProgress?.({ step: 'switched', decommission: switched });
  return {
    app_id: input.appId,
    move_id: status.move_id,
    from: { service_id: input.serviceId, provider: record.provider },
    to: { service_id: newId, provider: input.to, endpoint_url: destination.endpoint_url ?? '' },
    items: imported.items,
    digest: imported.digest,
    receipt: switched.receipt,
    revocation: switched.revocation,
  };
}

function existingTarget(records: ServiceRecord[], input: MoveInput): ServiceRecord {
  const found = records.find((r) => r.service_id === input.into);
  if (!found || found.provider !== input.to) {
    throw new SwarmError('not_found', `${input.into} is not an active instance of ${input.appId} at ${input.to}`);
  }
  return found;
}

async function provisionTarget(
  options: ClientOptions,
  input: MoveInput,
  record: ServiceRecord,
  target: Awaited<ReturnType<typeof offerOfProvider>>,
): Promise<ProvisionAnswer> {
  const tier = input.tier ?? record.service_tier;
  const region = input.region ?? record.region;
  if (!tier || !region)
    throw new SwarmError('invalid_request', `${input.serviceId} has no tier or region; name them with --tier and --region`);
  const storageGb =
    input.storageGb ?? (tier === record.service_tier && record.storage_limit_gb !== null ? record.storage_limit_gb : undefined);
  try {
    return await provision(options, {
      appId: input.appId,
      serviceType: record.service_type,
      master: input.master,
      tier,
      region,
      ...(storageGb === undefined ? {} : { storageGb }),
      offer: target,
    });
  } catch (error) {
    throw refusal(error, (what) => `${what}. Nothing was moved: ${input.serviceId} still serves at ${record.provider}`);
  }
}

async function followTransfer(importUrl: string, first: MoveStatusAnswer, input: MoveInput): Promise<MoveStatusAnswer> {
  let status = first;
  const deadline = Date.now() + (input.waitMs ?? 30 * 60_000);
  let delayMs = 100;
  while (status.status === 'running') {
    if (Date.now() > deadline) throw new SwarmError('registry_unavailable', `the transfer is still running; check ${status.status_url}`);
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 1_000);
    status = (await call('GET', importUrl, MoveStatusSchema)).body;
    input.onProgress?.({ step: 'transfer', status });
  }
  return status;
}

/** The same error, its message saying where the move stands and what to do next. */
function refusal(error: unknown, explain: (what: string) => string): SwarmError {
  if (error instanceof SwarmError) return new SwarmError(error.code, explain(error.message), { cause: error });
  return new SwarmError('registry_unavailable', explain(error instanceof Error ? error.message : String(error)), { cause: error });
}
