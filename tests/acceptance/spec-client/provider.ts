import { type Envelope, envelope, fresh } from './envelope.js';
import { type Answer, call } from './http.js';
import { generateSigningKey, type SigningKey } from './keys.js';

export interface Tier {
  name: string;
  storage_limit_gb_max: number;
  storage_limit_gb_default: number;
}

/** A catalog entry (SPEC §6 `GET /v1/catalog`). */
export interface CatalogEntry {
  service_type: string;
  provider: string;
  provision_url: string;
  events_url: string;
  public_key: string;
  tiers: Tier[];
  regions: string[];
  description: string;
}

/** A provider of our own: its key signs the catalog offer and binding handshakes. */
export class Provider {
  key: SigningKey = generateSigningKey();

  constructor(
    readonly registryUrl: string,
    readonly provider: string,
    readonly serviceType: string,
    readonly baseUrl: string,
  ) {}

  entry(overrides: Partial<CatalogEntry> = {}): CatalogEntry {
    return {
      service_type: this.serviceType,
      provider: this.provider,
      provision_url: `${this.baseUrl}/v1/instances`,
      events_url: `${this.baseUrl}/v1/events`,
      public_key: this.key.publicKey,
      tiers: [{ name: 'basic', storage_limit_gb_max: 5, storage_limit_gb_default: 2 }],
      regions: ['local'],
      description: 'Acceptance probe provider',
      ...overrides,
    };
  }

  offer(overrides: Partial<CatalogEntry> = {}, signer: SigningKey = this.key): Envelope {
    return envelope('offer', fresh({ ...this.entry(overrides) }), signer);
  }

  put(body: unknown, adminToken?: string): Promise<Answer> {
    return call('PUT', `${this.registryUrl}/v1/catalog/${this.provider}`, {
      body,
      ...(adminToken ? { headers: { authorization: `Bearer ${adminToken}` } } : {}),
    });
  }
}
