import { type AppExport, RegistryInfo, SignedAppExport, verifyAppExport } from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';

/**
 * The app's signed export from its registry (`GET /v1/apps/{app_id}/export`), checked against
 * the key the registry publishes at `/.well-known/swarm-registry` (or `registryKey`, when the
 * caller pins one): a document that does not verify is refused, not saved.
 */
export async function exportApp(
  options: ClientOptions,
  appId: string,
  registryKey?: string,
): Promise<{ signed: SignedAppExport; document: AppExport }> {
  const key = registryKey ?? (await call('GET', registryUrl(options, '/.well-known/swarm-registry'), RegistryInfo)).body.public_key;
  const { body } = await call('GET', registryUrl(options, `${appPath(appId)}/export`), SignedAppExport);
  return { signed: body, document: verifyAppExport(body, key, appId) };
}
