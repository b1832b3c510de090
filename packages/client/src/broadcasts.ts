import {
  BroadcastPage,
  BroadcastRetryAnswer,
  type BroadcastRetryData,
  type BroadcastState,
  type SigningKey,
  signEnvelope,
} from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

export type { BroadcastPage, BroadcastState, BroadcastView as BroadcastRow } from '@swarm/protocol';

/** A page of the app's broadcasts in one state (dead letters by default). */
export async function listBroadcasts(
  options: ClientOptions,
  appId: string,
  query: { state?: BroadcastState; after?: string; limit?: number } = {},
): Promise<BroadcastPage> {
  const params = new URLSearchParams({ state: query.state ?? 'dead' });
  if (query.after) params.set('after', query.after);
  if (query.limit) params.set('limit', String(query.limit));
  return (await call('GET', registryUrl(options, `${appPath(appId)}/broadcasts?${params}`), BroadcastPage)).body;
}

/** Puts the app's dead-letter broadcasts (all, or `ids`) back in the queue; signed by the Master key. */
export async function retryBroadcasts(
  options: ClientOptions,
  input: { appId: string; master: SigningKey; ids?: string[] },
): Promise<BroadcastRetryAnswer> {
  const data: BroadcastRetryData = {
    app_id: input.appId,
    action: 'retry_broadcasts',
    ...(input.ids && input.ids.length > 0 ? { ids: input.ids } : {}),
    ...freshness(),
  };
  const body = signEnvelope('broadcast_retry', data, input.master.privateKey);
  return (await call('POST', registryUrl(options, `${appPath(input.appId)}/broadcasts/retry`), BroadcastRetryAnswer, body)).body;
}
