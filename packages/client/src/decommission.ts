import {
  DecommissionAnswer,
  type DecommissionData,
  type PermanentTerminationData,
  type SigningKey,
  SwarmError,
  signEnvelope,
  TerminationReceipt,
} from '@swarm/protocol';
import { offerOfProvider } from './catalog.js';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';
import { services } from './services.js';

export interface DecommissionInput {
  appId: string;
  serviceId: string;
  master: SigningKey;
  /** Keep the instance's data at the provider (default: wipe it). */
  retain?: boolean;
  /** Revoke at the registry only, without asking the provider ("double kill", SPEC §11.3). */
  emergency?: boolean;
}

export interface DecommissionResult {
  app_id: string;
  service_id: string;
  receipt: TerminationReceipt | null;
  revocation: DecommissionAnswer;
}

/**
 * Asks the provider to terminate an instance (SPEC §11.1) and returns its signed Termination
 * Receipt. The provider is found through the app's Service DNS and the catalog.
 */
export async function terminate(
  options: ClientOptions,
  input: { appId: string; serviceId: string; master: SigningKey; retain?: boolean },
): Promise<TerminationReceipt> {
  const record = (await services(options, input.appId)).find((r) => r.service_id === input.serviceId);
  if (!record) throw new SwarmError('not_found', `${input.serviceId} is not bound to ${input.appId}`);
  const offer = await offerOfProvider(options, record.provider);
  const data: PermanentTerminationData = {
    app_id: input.appId,
    service_id: input.serviceId,
    ...freshness(),
    context: 'permanent_termination',
    data_handling: input.retain ? 'retain' : 'wipe',
  };
  const url = `${offer.provision_url}/${encodeURIComponent(input.serviceId)}`;
  const envelope = signEnvelope('permanent_termination', data, input.master.privateKey);
  return (await call('DELETE', url, TerminationReceipt, envelope)).body;
}

/** Revokes the binding at the registry (SPEC §11.2), with the provider's receipt when there is one. */
export async function revoke(
  options: ClientOptions,
  input: { appId: string; serviceId: string; master: SigningKey; receipt?: TerminationReceipt },
): Promise<DecommissionAnswer> {
  const data: DecommissionData = {
    app_id: input.appId,
    service_id: input.serviceId,
    ...freshness(),
    context: 'decommission',
    ...(input.receipt ? { provider_receipt: input.receipt } : {}),
  };
  const url = registryUrl(options, `${appPath(input.appId)}/services/${encodeURIComponent(input.serviceId)}/decommission`);
  return (await call('POST', url, DecommissionAnswer, signEnvelope('decommission', data, input.master.privateKey))).body;
}

/**
 * Decommissions an instance: termination at the provider, then revocation at the registry with
 * the receipt (SPEC §11). With `emergency`, only the revocation.
 */
export async function decommission(options: ClientOptions, input: DecommissionInput): Promise<DecommissionResult> {
  const receipt = input.emergency ? null : await terminate(options, input);
  const revocation = await revoke(options, { ...input, ...(receipt ? { receipt } : {}) });
  return { app_id: input.appId, service_id: input.serviceId, receipt, revocation };
}
