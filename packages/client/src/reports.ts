import {
  type AnswerSchema,
  type LogEntry,
  LogsAnswer,
  type OwnerQueryData,
  type SigningKey,
  SwarmError,
  signEnvelope,
  UsageSummary,
} from '@swarm/protocol';
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
export async function usage(options: ClientOptions, input: OwnerQueryInput): Promise<UsageSummary> {
  const app = await getApp(options, input.appId);
  if (!app.billing_provider_url) throw new SwarmError('not_found', `app ${input.appId} has no Billing service`);
  return ownerQuery(app.billing_provider_url, '/v1/usage/query', UsageSummary, input, {});
}

/** The app's logs from its Logging service, optionally of one instance and one level. */
export async function logs(options: ClientOptions, input: OwnerQueryInput & { level?: LogEntry['level'] }): Promise<LogsAnswer> {
  const app = await getApp(options, input.appId);
  if (!app.logging_service_url) throw new SwarmError('not_found', `app ${input.appId} has no Logging service`);
  return ownerQuery(app.logging_service_url, '/v1/logs/query', LogsAnswer, input, input.level ? { level: input.level } : {});
}

/** A Master-signed `owner_query` addressed to the receiver at `baseUrl` (its `audience`), so no other receiver takes it. */
async function ownerQuery<T>(
  baseUrl: string,
  path: string,
  answer: AnswerSchema<T>,
  input: OwnerQueryInput,
  extra: Partial<OwnerQueryData>,
): Promise<T> {
  const data: OwnerQueryData = {
    app_id: input.appId,
    audience: trim(baseUrl),
    ...(input.serviceId ? { service_id: input.serviceId } : {}),
    ...extra,
    ...(input.since === undefined ? {} : { since: input.since }),
    ...freshness(),
  };
  return (await call('POST', `${trim(baseUrl)}${path}`, answer, signEnvelope('owner_query', data, input.master.privateKey))).body;
}

const trim = (url: string) => url.replace(/\/+$/, '');
