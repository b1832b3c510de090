import { type AddressedOwnerQueryData, type LogEntry, type SigningKey, SwarmError, signEnvelope } from '@swarm/protocol';
import { getApp } from './apps.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';

export interface OwnerQueryInput {
  appId: string;
  master: SigningKey;
  serviceId?: string;
  since?: number;
}

/**
 * The app's usage as its Billing service counted it, read with a Master-signed `owner_query`
 * (SPEC §9.3: readable by the owner only).
 */
export async function usage(options: ClientOptions, input: OwnerQueryInput): Promise<UsageAnswer> {
  const app = await getApp(options, input.appId);
  if (!app.billing_provider_url) throw new SwarmError('not_found', `app ${input.appId} has no Billing service`);
  return ownerQuery<UsageAnswer>(app.billing_provider_url, '/v1/usage/query', input, {});
}

/** The app's logs from its Logging service, optionally of one instance and one level. */
export async function logs(options: ClientOptions, input: OwnerQueryInput & { level?: LogEntry['level'] }): Promise<LogsAnswer> {
  const app = await getApp(options, input.appId);
  if (!app.logging_service_url) throw new SwarmError('not_found', `app ${input.appId} has no Logging service`);
  return ownerQuery<LogsAnswer>(app.logging_service_url, '/v1/logs/query', input, input.level ? { level: input.level } : {});
}

/** Billing's summary of an app's usage. */
export interface UsageAnswer {
  app_id: string;
  service_id?: string;
  /** Accepted reports; a repeated nonce counts once. */
  reports: number;
  period: { start: number; end: number } | null;
  /** Per instance and metric. */
  totals: Array<{ service_id: string; metric: string; value: number }>;
  /** Per metric over the app (or the one instance asked for). */
  app_totals: Array<{ metric: string; value: number }>;
}

export interface LogsAnswer {
  app_id: string;
  entries: Array<LogEntry & { service_id?: string }>;
}

/** A Master-signed `owner_query` addressed to the receiver at `baseUrl` (its `audience`), so no other receiver takes it. */
async function ownerQuery<T>(baseUrl: string, path: string, input: OwnerQueryInput, extra: Partial<AddressedOwnerQueryData>): Promise<T> {
  const data: AddressedOwnerQueryData = {
    app_id: input.appId,
    audience: trim(baseUrl),
    ...(input.serviceId ? { service_id: input.serviceId } : {}),
    ...extra,
    ...(input.since === undefined ? {} : { since: input.since }),
    ...freshness(),
  };
  return (await call<T>('POST', `${trim(baseUrl)}${path}`, signEnvelope('owner_query', data, input.master.privateKey))).body;
}

const trim = (url: string) => url.replace(/\/+$/, '');
