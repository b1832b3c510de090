import { randomInt } from 'node:crypto';
import {
  generateSigningKey,
  nowSeconds,
  type ProvisionAnswer,
  ProvisionData,
  ProvisionRequest,
  privateKeyToPem,
  RegionName,
  SwarmError,
  TierName,
} from '@swarm/protocol';
import { type TraceContext, verifyOwnerSigned } from '@swarm/runtime';
import { type Instance, type InstanceInfo, instanceInfo } from './instances.js';
import { endpointUrl, type Kit, statusUrl } from './kit.js';

/** Domain services need tier and region; the shared schema leaves them optional for auth. */
const DomainProvisionRequest = ProvisionRequest.extend({
  data: ProvisionData.extend({ service_tier: TierName, region: RegionName }),
});

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newServiceId(serviceType: string): string {
  let suffix = '';
  for (let i = 0; i < 10; i++) suffix += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return `${serviceType}-${suffix}`;
}

/**
 * A provisioning request (SPEC §5.1), checked in SPEC's order by the one owner-signed verifier:
 * provider, tier, region and storage against the offer come before the timestamp. Then the
 * instance is created and bound.
 */
export async function provision(kit: Kit, body: unknown, trace?: TraceContext): Promise<{ status: 201 | 202; body: ProvisionAnswer }> {
  const {
    data,
    signature,
    expected: tier,
  } = await verifyOwnerSigned(DomainProvisionRequest, body, {
    purpose: 'provision',
    action: 'provision',
    registry: kit.registry,
    replay: kit.replay,
    freshnessSeconds: kit.config.freshnessSeconds,
    trace,
    expect: (data) => {
      if (data.target_provider !== kit.config.provider) {
        throw new SwarmError('wrong_provider', `this is ${kit.config.provider}, not ${data.target_provider}`);
      }
      const tier = kit.config.tiers.find((t) => t.name === data.service_tier);
      if (!tier) throw new SwarmError('unsupported_tier', `tier ${data.service_tier} is not offered`);
      if (!kit.config.regions.includes(data.region)) throw new SwarmError('unsupported_region', `region ${data.region} is not offered`);
      if ((data.storage_limit_gb ?? tier.storage_limit_gb_default) > tier.storage_limit_gb_max) {
        throw new SwarmError('storage_limit_exceeded', `tier ${tier.name} allows at most ${tier.storage_limit_gb_max} GB`);
      }
      return tier;
    },
  });
  const storage = data.storage_limit_gb ?? tier.storage_limit_gb_default;

  const key = generateSigningKey();
  const row = {
    serviceId: newServiceId(kit.config.serviceType),
    appId: data.app_id,
    serviceTier: tier.name,
    region: data.region,
    storageLimitGb: storage,
    status: 'binding' as const,
    errorCode: null,
    errorMessage: null,
    instanceKey: privateKeyToPem(key.privateKey),
    pendingKey: null,
    developerProof: JSON.stringify({ payload: data, signature }),
    attempts: 0,
    nextAttemptAt: 0,
    boundAt: null,
    terminated: 0,
    wiped: 0,
    createdAt: nowSeconds(),
  };
  kit.instances.rememberKey(row.instanceKey, key);
  await kit.instances.insert(row);
  const instance: Instance = { ...row, key, info: instanceInfo(row) };
  const outcome = await kit.binder.bind(instance, trace, { fresh: true });
  if (outcome.status === 'failed') throw outcome.error;
  // The answer is built from what the activation wrote, not read back.
  if (outcome.status === 'active') return { status: 201, body: answer(kit, { ...instance, status: 'active', boundAt: outcome.boundAt }) };
  return { status: 202, body: answer(kit, instance) };
}

/** The provisioning answer and status document of an instance (SPEC §5.1). */
export function answer(
  kit: Kit,
  instance: InstanceInfo & Pick<Instance, 'status' | 'boundAt' | 'errorCode' | 'errorMessage' | 'terminated'>,
): ProvisionAnswer {
  // A terminated instance serves nothing any more, whether or not the registry revoked it yet.
  const status = instance.terminated && instance.status === 'active' ? 'revoked' : instance.status;
  const base: ProvisionAnswer = {
    service_id: instance.serviceId,
    status,
    endpoint_url: endpointUrl(kit, instance.serviceId),
    app_id: instance.appId,
    service_type: kit.config.serviceType,
    service_tier: instance.serviceTier,
    region: instance.region,
    storage_limit_gb: instance.storageLimitGb,
  };
  // An active instance always has its binding time; a revoked one has it when it was ever bound.
  if ((status === 'active' || status === 'revoked') && instance.boundAt !== null) return { ...base, bound_at: instance.boundAt };
  if (status === 'binding') return { ...base, status_url: statusUrl(kit, instance.serviceId) };
  if (status === 'failed') {
    return { ...base, error: { code: instance.errorCode ?? 'internal_error', message: instance.errorMessage ?? 'binding failed' } };
  }
  return base;
}
