import {
  Broadcast,
  type BroadcastData,
  checkFreshness,
  type DelegableAction,
  type DelegationRecord,
  DelegationsAnswer,
  errorFromBody,
  MasterKeyRecord,
  nonceExpiresAt,
  nonceScopes,
  type Purpose,
  parseAnswer,
  parseMessage,
  type ReplayStore,
  requireAppId,
  type ServiceRecord,
  ServicesAnswer,
  SwarmError,
  type TrustedRegistries,
  type TrustedRegistry,
  verify,
} from '@swarm/protocol';
import { getJson } from './http-client.js';
import type { TraceContext } from './observability/trace-context.js';
import { SingleFlight, TtlCache } from './ttl-cache.js';

export interface RegistryClientOptions {
  /** SPEC §5.1: Master keys are cached at most 60 s. */
  masterKeyTtlMs?: number;
  /** How long a Service DNS answer is reused by billing/logging checks. */
  servicesTtlMs?: number;
  /** How long the registry's "no such app" (any 4xx error) is remembered. Default 5 s. */
  negativeTtlMs?: number;
  /** Apps whose answers are kept at once, per kind; the least recently used go first. Default 10 000. */
  maxApps?: number;
  timeoutMs?: number;
}

/** What the registry said about an app: an answer, or an error it gave (kept briefly). */
type Known<T> = { value: T } | { error: SwarmError };

const known = <T>(entry: Known<T>): T => {
  if ('error' in entry) throw new SwarmError(entry.error.code, entry.error.message);
  return entry.value;
};

/** Resolvers keep NXDOMAIN briefly (RFC 2308) for the same reason: unknown names are the cheap flood. */
export const DEFAULT_NEGATIVE_TTL_MS = 5_000;
export const DEFAULT_MAX_CACHED_APPS = 10_000;

/**
 * What a service or backbone asks of the registries it trusts. Only registries in the trusted
 * table are contacted; everything else is `unknown_registry` before any network request.
 * Answers are kept per app in bounded caches, errors the registry gave about an app (unknown,
 * suspended) for a few seconds, and concurrent lookups of one app share one request.
 */
export class RegistryClient {
  readonly trusted: TrustedRegistries;
  readonly #masterKeys: TtlCache<string, Known<MasterKeyRecord>>;
  readonly #services: TtlCache<string, Known<ServiceRecord[]>>;
  readonly #masterKeyLoads = new SingleFlight<string, MasterKeyRecord>();
  readonly #serviceLoads = new SingleFlight<string, ServiceRecord[]>();
  readonly #masterKeyTtlMs: number;
  readonly #servicesTtlMs: number;
  readonly #negativeTtlMs: number;
  readonly #timeoutMs: number;

  constructor(trusted: TrustedRegistries, options: RegistryClientOptions = {}) {
    this.trusted = trusted;
    this.#masterKeyTtlMs = Math.min(options.masterKeyTtlMs ?? 60_000, 60_000);
    this.#servicesTtlMs = options.servicesTtlMs ?? 2_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    const maxApps = options.maxApps ?? DEFAULT_MAX_CACHED_APPS;
    this.#masterKeys = new TtlCache(maxApps);
    this.#services = new TtlCache(maxApps);
  }

  /** The registry an app_id names, from the trusted table (`invalid_app_id`, `unknown_registry`). */
  registryFor(appId: string): TrustedRegistry {
    return this.trusted.forApp(requireAppId(appId));
  }

  /** The app's Master public key; `unknown_app`, `app_suspended` or `registry_unavailable` otherwise. */
  async masterKey(appId: string, options: { fresh?: boolean; trace?: TraceContext | undefined } = {}): Promise<MasterKeyRecord> {
    const registry = this.registryFor(appId);
    const cached = options.fresh ? undefined : this.#masterKeys.get(appId);
    if (cached) return known(cached);
    return this.#masterKeyLoads.run(appId, async () => {
      const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}/master-key`, {
        timeoutMs: this.#timeoutMs,
        trace: options.trace,
      });
      if (status !== 200) {
        const error = errorFromBody(body);
        this.#masterKeys.delete(appId);
        if (error && status < 500) throw this.#remember(this.#masterKeys, appId, error);
        throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
      }
      const record = parseAnswer(MasterKeyRecord, body, `registry ${registry.authority}`);
      if (record.status === 'suspended') {
        throw this.#remember(this.#masterKeys, appId, new SwarmError('app_suspended', `app ${appId} is suspended`));
      }
      this.#masterKeys.set(appId, { value: record }, this.#masterKeyTtlMs);
      return record;
    });
  }

  /** Keeps an error the registry gave about an app for a few seconds, and returns it to throw. */
  #remember<T>(cache: TtlCache<string, Known<T>>, appId: string, error: SwarmError): SwarmError {
    if (this.#negativeTtlMs > 0) cache.set(appId, { error }, this.#negativeTtlMs);
    return error;
  }

  /**
   * Verifies a Master-signed object. A signature that fails under a cached key is retried once
   * with a freshly fetched key, in case the Master key was rotated (SPEC §5.1).
   */
  async verifyMasterSigned(
    appId: string,
    purpose: Purpose,
    data: unknown,
    signature: string,
    trace?: TraceContext,
  ): Promise<MasterKeyRecord> {
    const cached = this.#masterKeys.get(appId);
    const wasCached = !!cached && 'value' in cached;
    let record = await this.masterKey(appId, { trace });
    if (verify(purpose, data, signature, record.public_key)) return record;
    if (wasCached) {
      record = await this.masterKey(appId, { fresh: true, trace });
      if (verify(purpose, data, signature, record.public_key)) return record;
    }
    throw new SwarmError('invalid_signature', 'signature does not verify under the Master key');
  }

  /**
   * The key a delegation granted `action` on the app that verifies this signature (docs/PROTOCOL.md,
   * "Delegated keys"). The grants in force are read from the registry each time, never cached:
   * a revocation holds from the next request on. Only reached when the Master key did not
   * verify. A grant that verifies but lacks the action is `forbidden`; none is `invalid_signature`.
   */
  async verifyDelegateSigned(
    appId: string,
    action: DelegableAction,
    purpose: Purpose,
    data: unknown,
    signature: string,
  ): Promise<DelegationRecord> {
    const registry = this.registryFor(appId);
    const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}/delegations`, {
      timeoutMs: this.#timeoutMs,
    });
    if (status !== 200) {
      const error = errorFromBody(body);
      if (error && status < 500) throw error;
      throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
    }
    const { delegations } = parseAnswer(DelegationsAnswer, body, `registry ${registry.authority}`);
    const grant = delegations.find((candidate) => candidate.status === 'active' && verify(purpose, data, signature, candidate.public_key));
    if (!grant) throw new SwarmError('invalid_signature', 'signature does not verify under the Master key or a delegated key');
    if (!grant.actions.includes(action) || !grant.apps.includes(appId)) {
      throw new SwarmError('forbidden', `delegation ${grant.delegation_id} does not grant ${action} on ${appId}`);
    }
    return grant;
  }

  /** Forgets cached Master keys (of one app, or all): after a rotation or recovery broadcast. */
  dropMasterKeys(appId?: string): void {
    if (appId) this.#masterKeys.delete(appId);
    else this.#masterKeys.clear();
  }

  /** The app's Service DNS records over HTTP (revoked ones are left out by the registry). */
  async services(appId: string, options: { fresh?: boolean } = {}): Promise<ServiceRecord[]> {
    const registry = this.registryFor(appId);
    const cached = options.fresh ? undefined : this.#services.get(appId);
    if (cached) return known(cached);
    return this.#serviceLoads.run(appId, async () => {
      const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}/services`, {
        timeoutMs: this.#timeoutMs,
      });
      if (status !== 200) {
        const error = errorFromBody(body);
        if (error && status < 500) throw this.#remember(this.#services, appId, error);
        throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
      }
      const records = parseAnswer(ServicesAnswer, body, `registry ${registry.authority}`).records.filter((r) => r.status !== 'revoked');
      this.#services.set(appId, { value: records }, this.#servicesTtlMs);
      return records;
    });
  }

  dropServices(appId?: string): void {
    if (appId) this.#services.delete(appId);
    else this.#services.clear();
  }

  /**
   * The instance's Service DNS record when `service_id` is bound to the app, or null. Callers
   * then verify the report's signature with `record.public_key`.
   */
  async instance(appId: string, serviceId: string, options: { fresh?: boolean } = {}): Promise<ServiceRecord | null> {
    const records = await this.services(appId, options);
    return records.find((record) => record.service_id === serviceId) ?? null;
  }
}

/**
 * Checks a registry broadcast (SPEC §9.4): shape, version, a trusted `origin`, the registry's
 * signature, freshness, then the nonce (consumed only after the signature verified).
 * Returns null for a repeat, which receivers acknowledge without acting again.
 */
export async function verifyBroadcast(
  trusted: TrustedRegistries,
  body: unknown,
  replay: ReplayStore,
  options: {
    windowSeconds?: number /** A receiver for one app (a path's app): another app's broadcast is refused before its nonce is spent. */;
    appId?: string;
  } = {},
): Promise<BroadcastData | null> {
  const envelope = parseMessage(Broadcast, body);
  const data = envelope.data;
  if (options.appId !== undefined && data.app_id !== options.appId) throw new SwarmError('forbidden', 'the broadcast is for another app');
  const registry = trusted.byAuthority(data.origin);
  if (registry.authority !== trusted.forApp(requireAppId(data.app_id)).authority) {
    throw new SwarmError('forbidden', 'a registry speaks only for its own apps');
  }
  if (!verify('broadcast', data, envelope.signature, registry.publicKey)) {
    throw new SwarmError('invalid_signature', 'broadcast is not signed by the registry');
  }
  // Broadcasts are retried for a while; a delayed delivery is still worth acting on.
  const windowSeconds = options.windowSeconds ?? 3600;
  checkFreshness(data.timestamp, { windowSeconds });
  const fresh = await replay.unique(nonceScopes.broadcast(registry.authority), data.nonce, nonceExpiresAt(data.timestamp, windowSeconds));
  return fresh ? data : null;
}
