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
import { requestJson } from '@swarm/runtime';

/** The auth provider's catalog entry (docs/DEVELOPING.md): one tier `standard`, region `local`. */
export function authCatalogEntry(provider: string, url: string, publicKey: string): CatalogEntry {
  return {
    service_type: 'auth',
    provider,
    provision_url: `${url}/v1/provision`,
    events_url: `${url}/v1/events`,
    public_key: publicKey,
    tiers: [{ name: 'standard', storage_limit_gb_max: 0, storage_limit_gb_default: 0 }],
    regions: ['local'],
    description: 'Swarm Auth Provider: a user store and EdDSA user tokens per app (trust anchor)',
  };
}

/** A provider-signed `offer` for `PUT /v1/catalog/{provider}` (SPEC §6). */
export function signOffer(entry: CatalogEntry, key: SigningKey): Envelope<OfferData> {
  return signEnvelope('offer', { ...entry, timestamp: nowSeconds(), nonce: newNonce() }, key.privateKey);
}

/** Puts the offer into a registry's catalog; the admin token is needed the first time. */
export async function putOffer(registryUrl: string, entry: CatalogEntry, key: SigningKey, adminToken?: string): Promise<unknown> {
  const url = `${registryUrl.replace(/\/+$/, '')}/v1/catalog/${encodeURIComponent(entry.provider)}`;
  const headers: Record<string, string> = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
  const { status, body } = await requestJson('PUT', url, signOffer(entry, key), { headers });
  if (status >= 200 && status < 300) return body;
  throw errorFromBody(body) ?? new SwarmError('registry_unavailable', `the registry answered ${status} to the offer`);
}
