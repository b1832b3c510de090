import { setTimeout as sleep } from 'node:timers/promises';
import {
  AuthProvisionAnswer,
  type CatalogEntry,
  ConfigEpochAnswer,
  type DelegateAuthorityData,
  isErrorCode,
  ProvisionAnswer,
  type ProvisionData,
  type SigningKey,
  SwarmError,
  signEnvelope,
} from '@swarm/protocol';
import { findOffer } from './catalog.js';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

export interface ProvisionInput {
  appId: string;
  serviceType: string;
  master: SigningKey;
  tier: string;
  region: string;
  storageGb?: number;
  /** A provider of the type; the first in the catalog otherwise. */
  provider?: string;
  /** The offer to provision from, when the caller has it: skips the catalog lookup. */
  offer?: CatalogEntry;
  /** Called with each answer while the instance binds. */
  onProgress?: (answer: ProvisionAnswer) => void;
  /** How long to follow a `202` before giving up (default 120 s). */
  waitMs?: number;
}

/**
 * Provisions a domain service for an app (SPEC §5.1): looks the provider up in the catalog,
 * signs the request with the Master key, and follows a `202 binding` answer until the instance
 * is `active` (returned) or `failed` (thrown as the SwarmError the provider reports).
 *
 * @example
 * const instance = await provision(options, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local' });
 * console.log(instance.endpoint_url);
 */
export async function provision(options: ClientOptions, input: ProvisionInput): Promise<ProvisionAnswer> {
  const offer = input.offer ?? (await findOffer(options, input.serviceType, input.provider));
  const data: ProvisionData = {
    app_id: input.appId,
    target_provider: offer.provider,
    service_tier: input.tier,
    region: input.region,
    ...(input.storageGb === undefined ? {} : { storage_limit_gb: input.storageGb }),
    ...freshness(),
  };
  const envelope = signEnvelope('provision', data, input.master.privateKey);
  let { body: answer } = await call('POST', offer.provision_url, ProvisionAnswer, envelope, { timeoutMs: 60_000 });
  input.onProgress?.(answer);
  const statusUrl = answer.status_url ?? `${offer.provision_url}/${encodeURIComponent(answer.service_id)}`;
  const deadline = Date.now() + (input.waitMs ?? 120_000);
  let delayMs = 250;
  while (answer.status === 'binding') {
    if (Date.now() > deadline) throw new SwarmError('registry_unavailable', `${answer.service_id} is still binding; check ${statusUrl}`);
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 2_000);
    answer = (await call('GET', statusUrl, ProvisionAnswer)).body;
    input.onProgress?.(answer);
  }
  if (answer.status !== 'active') throw failure(answer);
  return answer;
}

/** A `failed` (or `revoked`) instance as the SwarmError its provider reported; `conflict` when it named none we know. */
function failure(answer: ProvisionAnswer): SwarmError {
  const code = isErrorCode(answer.error?.code) ? answer.error.code : 'conflict';
  return new SwarmError(code, answer.error?.message ?? `${answer.service_id} ended ${answer.status}`);
}

export interface AuthProvisioning extends AuthProvisionAnswer {
  provider: string;
  config_epoch: number;
}

/**
 * Provisions the app's trust anchor (SPEC §4.3 steps 1–3): picks an `auth` provider from the
 * catalog, asks it for the app's user store and Auth key, then announces that key to the
 * registry as the app's User Validator.
 */
export async function provisionAuth(
  options: ClientOptions,
  input: { appId: string; master: SigningKey; provider?: string; retirePreviousAfter?: number },
): Promise<AuthProvisioning> {
  const offer = await findOffer(options, 'auth', input.provider);
  const request: ProvisionData = { app_id: input.appId, target_provider: offer.provider, ...freshness() };
  const pulse = signEnvelope('provision', request, input.master.privateKey);
  const { body: anchor } = await call('POST', offer.provision_url, AuthProvisionAnswer, pulse, { timeoutMs: 60_000 });
  const announcement: DelegateAuthorityData = {
    action: 'DELEGATE_AUTHORITY',
    app_id: input.appId,
    auth_public_key: anchor.auth_public_key,
    auth_provider_url: anchor.auth_provider_url,
    ...(input.retirePreviousAfter === undefined ? {} : { retire_previous_after: input.retirePreviousAfter }),
    ...freshness(),
  };
  const envelope = signEnvelope('delegate_authority', announcement, input.master.privateKey);
  const url = registryUrl(options, `${appPath(input.appId)}/auth`);
  const { body: delegated } = await call('POST', url, ConfigEpochAnswer, envelope);
  return { ...anchor, provider: offer.provider, config_epoch: delegated.config_epoch };
}
