import { CatalogAnswer, type CatalogEntry, SwarmError } from '@swarm/protocol';
import { type ClientOptions, call, registryUrl } from './http.js';

/** The Service Registry's offers, all or of one `service_type` (SPEC §6). */
export async function catalog(options: ClientOptions, serviceType?: string): Promise<CatalogEntry[]> {
  const path = serviceType ? `/v1/catalog/${encodeURIComponent(serviceType)}` : '/v1/catalog';
  return (await call('GET', registryUrl(options, path), CatalogAnswer)).body.services;
}

/** The offer to provision from: the named provider, else the first one of the type. */
export async function findOffer(options: ClientOptions, serviceType: string, provider?: string): Promise<CatalogEntry> {
  const offers = await catalog(options, serviceType).catch((error: unknown) => {
    if (error instanceof SwarmError && error.code === 'not_found') return [];
    throw error;
  });
  const offer = offers.find((entry) => entry.service_type === serviceType && (!provider || entry.provider === provider));
  if (!offer) {
    const what = provider ? `provider ${provider} of type ${serviceType}` : `provider of type ${serviceType}`;
    throw new SwarmError('unknown_provider', `no ${what} in the catalog`);
  }
  return offer;
}

/** The offer of a named provider, whatever its type. */
export async function offerOfProvider(options: ClientOptions, provider: string): Promise<CatalogEntry> {
  const offer = (await catalog(options)).find((entry) => entry.provider === provider);
  if (!offer) throw new SwarmError('unknown_provider', `provider ${provider} is not in the catalog`);
  return offer;
}
