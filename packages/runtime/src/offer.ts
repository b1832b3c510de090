import {
  type CatalogEntry,
  type Envelope,
  errorFromBody,
  newNonce,
  nowSeconds,
  type OfferData,
  type SigningKey,
  SwarmError,
  signEnvelope,
} from '@swarm/protocol';
import { requestJson } from './http-client.js';

/** What a provider offers; the URLs and the key come from where it listens and what it signs with. */
export type OfferTerms = Omit<CatalogEntry, 'provision_url' | 'events_url' | 'public_key'>;

export interface ProviderOffer {
  catalogEntry: CatalogEntry;
  /** The catalog entry signed with the provider key (`offer`), with a fresh timestamp and nonce. */
  offer(): Envelope<OfferData>;
  /**
   * `PUT {registryUrl}/v1/catalog/{provider}` (SPEC §6); the admin token is needed the first time
   * only. Answers the registry's body; a refusal is thrown as the registry's error.
   */
  registerOffer(registryUrl: string, adminToken?: string): Promise<unknown>;
}

/**
 * A provider's catalog entry and its signed offer: `provision_url` is `<publicUrl><provisionPath>`,
 * `events_url` is `<publicUrl>/v1/events` (where registry broadcasts arrive, SPEC §9.4).
 */
export function providerOffer(terms: OfferTerms, where: { publicUrl: string; provisionPath: string }, key: SigningKey): ProviderOffer {
  const catalogEntry: CatalogEntry = {
    ...terms,
    provision_url: `${where.publicUrl}${where.provisionPath}`,
    events_url: `${where.publicUrl}/v1/events`,
    public_key: key.publicKey,
  };
  const offer = () => signEnvelope('offer', { ...catalogEntry, timestamp: nowSeconds(), nonce: newNonce() }, key.privateKey);
  return {
    catalogEntry,
    offer,
    async registerOffer(registryUrl, adminToken) {
      const url = `${registryUrl.replace(/\/+$/, '')}/v1/catalog/${encodeURIComponent(catalogEntry.provider)}`;
      const headers: Record<string, string> = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
      const { status, body } = await requestJson('PUT', url, offer(), { headers });
      if (status >= 200 && status < 300) return body;
      throw errorFromBody(body) ?? new SwarmError('registry_unavailable', `the registry answered ${status} to the offer`);
    },
  };
}
