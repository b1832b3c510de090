import type { BindingRecord } from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';

/** A Service DNS record over HTTP: the binding plus its health. */
export type ServiceRecord = BindingRecord & { health?: string };

/** The app's bound instances from Service DNS (SPEC §6); revoked ones are left out. */
export async function services(options: ClientOptions, appId: string, serviceType?: string): Promise<ServiceRecord[]> {
  const query = serviceType ? `?type=${encodeURIComponent(serviceType)}` : '';
  const url = registryUrl(options, `${appPath(appId)}/services${query}`);
  return (await call<{ records: ServiceRecord[] }>('GET', url)).body.records ?? [];
}
