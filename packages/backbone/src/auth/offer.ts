import type { SigningKey } from '@swarm/protocol';
import { type ProviderOffer, providerOffer } from '@swarm/runtime';

/** The auth provider's offer (docs/DEVELOPING.md): one tier `standard`, region `local`, provisioning at `/v1/provision`. */
export function authOffer(provider: string, publicUrl: string, key: SigningKey): ProviderOffer {
  return providerOffer(
    {
      service_type: 'auth',
      provider,
      tiers: [{ name: 'standard', storage_limit_gb_max: 0, storage_limit_gb_default: 0 }],
      regions: ['local'],
      description: 'Swarm Auth Provider: a user store and EdDSA user tokens per app (trust anchor)',
    },
    { publicUrl, provisionPath: '/v1/provision' },
    key,
  );
}
