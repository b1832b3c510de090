import {
  type AppRetirementAnswer as Answer,
  AppRetirementAnswer,
  type AppRetirementData,
  type SigningKey,
  signEnvelope,
} from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

/**
 * Retires an app at its registry (docs/REGISTRY.md, "Retiring an app"): refused with
 * `409 conflict` while instances are bound (decommission them first). The app_id and slug stay
 * taken and the audit log readable; a retry of a done retirement answers the same.
 *
 * @example
 * await retireApp(options, { appId, master });
 */
export async function retireApp(options: ClientOptions, input: { appId: string; master: SigningKey }): Promise<Answer> {
  const data: AppRetirementData = { app_id: input.appId, ...freshness(), context: 'app_retirement' };
  const envelope = signEnvelope('app_retirement', data, input.master.privateKey);
  return (await call('POST', registryUrl(options, `${appPath(input.appId)}/retire`), AppRetirementAnswer, envelope)).body;
}
