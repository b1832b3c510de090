import { type SigningKey, SwarmError, signEnvelope, type TokenRequestData } from '@swarm/protocol';
import { getApp } from './apps.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';

export interface UserToken {
  access_token: string;
  token_type: string;
  expires_in: number;
}

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
): Promise<UserToken> {
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
  return (await call<UserToken>('POST', url, envelope)).body;
}
