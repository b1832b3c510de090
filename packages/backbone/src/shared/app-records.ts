import { errorFromBody, SwarmError } from '@swarm/protocol';
import { DEFAULT_MAX_CACHED_APPS, DEFAULT_NEGATIVE_TTL_MS, getJson, type RegistryClient, SingleFlight, TtlCache } from '@swarm/runtime';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';

export interface AppAuth {
  issuer: string;
  audience: string;
  /** The app's JWKS from its context, imported once. */
  keys: ReturnType<typeof createLocalJWKSet>;
  kids: Set<string>;
}

type AppRecord = {
  auth: AppAuth | null;
  /** The app's Billing and Logging URLs from the same record. */
  receivers: { billing?: string; logging?: string };
};
type CachedAuth = (AppRecord & { fetchedAt: number }) | { error: SwarmError };

const TTL_MS = 60_000;
/** SPEC §8: an unknown kid refreshes an app's keys at most once per 30 s. */
const REFRESH_MS = 30_000;

/**
 * The `auth` block of apps' public records at the registry (`GET /v1/apps/{app_id}`): who
 * issues their user tokens and with which keys. Cached for a bounded number of apps (least
 * recently used first out); an error the registry gave (an unknown app) is kept a few seconds,
 * so a flood of unknown app ids is not a flood of registry requests; an unknown kid refetches
 * sparingly.
 */
export class AppAuthCache {
  readonly #registry: RegistryClient;
  readonly #cache: TtlCache<string, CachedAuth>;
  readonly #loads = new SingleFlight<string, AppRecord>();

  constructor(registry: RegistryClient, options: { maxApps?: number } = {}) {
    this.#registry = registry;
    this.#cache = new TtlCache(options.maxApps ?? DEFAULT_MAX_CACHED_APPS);
  }

  async forKid(appId: string, kid: string): Promise<AppAuth | null> {
    const cached = this.#cache.get(appId);
    if (cached && 'error' in cached) throw new SwarmError(cached.error.code, cached.error.message);
    const age = cached ? Date.now() - cached.fetchedAt : Number.POSITIVE_INFINITY;
    if (cached && (cached.auth?.kids.has(kid) || age < REFRESH_MS)) return cached.auth;
    return (await this.#refresh(appId)).auth;
  }

  /** The app's `billing_provider_url` or `logging_service_url` as its registry lists it. */
  async receiverUrl(appId: string, kind: 'billing' | 'logging'): Promise<string | undefined> {
    const cached = this.#cache.get(appId);
    if (cached && 'error' in cached) throw new SwarmError(cached.error.code, cached.error.message);
    return (cached ?? (await this.#refresh(appId))).receivers[kind];
  }

  /** One registry request per app at a time; an error the registry gave is kept a few seconds. */
  #refresh(appId: string): Promise<AppRecord> {
    return this.#loads.run(appId, async () => {
      try {
        const record = await this.#fetch(appId);
        this.#cache.set(appId, { ...record, fetchedAt: Date.now() }, TTL_MS);
        return record;
      } catch (error) {
        if (error instanceof SwarmError && error.status < 500) this.#cache.set(appId, { error }, DEFAULT_NEGATIVE_TTL_MS);
        throw error;
      }
    });
  }

  drop(appId: string): void {
    this.#cache.delete(appId);
  }

  async #fetch(appId: string): Promise<AppRecord> {
    const registry = this.#registry.registryFor(appId);
    const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}`, { timeoutMs: 5000 });
    if (status !== 200) {
      const error = errorFromBody(body);
      if (error && status < 500) throw error;
      throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
    }
    const record = (body ?? {}) as { auth?: unknown; billing_provider_url?: unknown; logging_service_url?: unknown };
    const receivers = {
      ...(typeof record.billing_provider_url === 'string' ? { billing: record.billing_provider_url } : {}),
      ...(typeof record.logging_service_url === 'string' ? { logging: record.logging_service_url } : {}),
    };
    const auth = record.auth as { issuer?: unknown; audience?: unknown; jwks?: { keys?: unknown } } | null | undefined;
    if (!auth || typeof auth.issuer !== 'string' || !Array.isArray(auth.jwks?.keys)) return { auth: null, receivers };
    const jwks = auth.jwks as JSONWebKeySet;
    return {
      auth: {
        issuer: auth.issuer,
        audience: typeof auth.audience === 'string' ? auth.audience : appId,
        keys: createLocalJWKSet(jwks),
        kids: new Set(jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string')),
      },
      receivers,
    };
  }
}
