import { type SigningKey, SwarmError, signEnvelope, TokenAnswer, type TokenRequestData } from '@swarm/protocol';
import { getApp } from './apps.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';

/**
 * A user JWT for the app from its Auth Provider, requested by the owner with the Master key
 * (the `token_request` extension, docs/PROTOCOL.md).
 *
 * @example
 * const { access_token } = await userToken(options, { appId, sub: 'alice', master, roles: ['admin'] });
 */
export async function userToken(
  options: ClientOptions,
  input: { appId: string; sub: string; master: SigningKey; roles?: string[]; ttlSeconds?: number },
): Promise<TokenAnswer> {
  const app = await getApp(options, input.appId);
  if (!app.auth) throw new SwarmError('not_found', `app ${input.appId} has no Auth Provider yet`);
  const data: TokenRequestData = {
    app_id: input.appId,
    sub: input.sub,
    ...(input.roles && input.roles.length > 0 ? { roles: input.roles } : {}),
    ...(input.ttlSeconds === undefined ? {} : { ttl_seconds: input.ttlSeconds }),
    ...freshness(),
  };
  const envelope = signEnvelope('token_request', data, input.master.privateKey);
  const url = `${app.auth.auth_provider_url.replace(/\/+$/, '')}/v1/owner-token`;
  return (await call('POST', url, TokenAnswer, envelope)).body;
}
