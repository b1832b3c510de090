import { type ServiceRecord, ServicesAnswer } from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';

/** The app's bound instances from Service DNS (SPEC §6); revoked ones are left out. */
export async function services(options: ClientOptions, appId: string, serviceType?: string): Promise<ServiceRecord[]> {
  const query = serviceType ? `?type=${encodeURIComponent(serviceType)}` : '';
  const url = registryUrl(options, `${appPath(appId)}/services${query}`);
  return (await call('GET', url, ServicesAnswer)).body.records;
}
