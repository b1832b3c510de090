import {
  Broadcast,
  type BroadcastData,
  checkFreshness,
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

export interface RegistryClientOptions {
  /** SPEC §5.1: Master keys are cached at most 60 s. */
  masterKeyTtlMs?: number;
  /** How long a Service DNS answer is reused by billing/logging checks. */
  servicesTtlMs?: number;
  timeoutMs?: number;
}

interface Cached<T> {
  value: T;
  expiresAt: number;
}

/**
 * What a service or backbone asks of the registries it trusts. Only registries in the trusted
 * table are contacted; everything else is `unknown_registry` before any network request.
 */
export class RegistryClient {
  readonly trusted: TrustedRegistries;
  readonly #masterKeys = new Map<string, Cached<MasterKeyRecord>>();
  readonly #services = new Map<string, Cached<ServiceRecord[]>>();
  readonly #masterKeyTtlMs: number;
  readonly #servicesTtlMs: number;
  readonly #timeoutMs: number;

  constructor(trusted: TrustedRegistries, options: RegistryClientOptions = {}) {
    this.trusted = trusted;
    this.#masterKeyTtlMs = Math.min(options.masterKeyTtlMs ?? 60_000, 60_000);
    this.#servicesTtlMs = options.servicesTtlMs ?? 2_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** The registry an app_id names, from the trusted table (`invalid_app_id`, `unknown_registry`). */
  registryFor(appId: string): TrustedRegistry {
    return this.trusted.forApp(requireAppId(appId));
  }

  /** The app's Master public key; `unknown_app`, `app_suspended` or `registry_unavailable` otherwise. */
  async masterKey(appId: string, options: { fresh?: boolean } = {}): Promise<MasterKeyRecord> {
    const registry = this.registryFor(appId);
    const cached = this.#masterKeys.get(appId);
    if (!options.fresh && cached && cached.expiresAt > Date.now()) return cached.value;
    const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}/master-key`, {
      timeoutMs: this.#timeoutMs,
    });
    if (status !== 200) {
      const error = errorFromBody(body);
      this.#masterKeys.delete(appId);
      if (error && status < 500) throw error;
      throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
    }
    const record = parseAnswer(MasterKeyRecord, body, `registry ${registry.authority}`);
    if (record.status === 'suspended') throw new SwarmError('app_suspended', `app ${appId} is suspended`);
    this.#masterKeys.set(appId, { value: record, expiresAt: Date.now() + this.#masterKeyTtlMs });
    return record;
  }

  /**
   * Verifies a Master-signed object. A signature that fails under a cached key is retried once
   * with a freshly fetched key, in case the Master key was rotated (SPEC §5.1).
   */
  async verifyMasterSigned(appId: string, purpose: Purpose, data: unknown, signature: string): Promise<MasterKeyRecord> {
    const cached = this.#masterKeys.get(appId);
    const wasCached = !!cached && cached.expiresAt > Date.now();
    let record = await this.masterKey(appId);
    if (verify(purpose, data, signature, record.public_key)) return record;
    if (wasCached) {
      record = await this.masterKey(appId, { fresh: true });
      if (verify(purpose, data, signature, record.public_key)) return record;
    }
    throw new SwarmError('invalid_signature', 'signature does not verify under the Master key');
  }

  /** Forgets cached Master keys (of one app, or all): after a rotation or recovery broadcast. */
  dropMasterKeys(appId?: string): void {
    if (appId) this.#masterKeys.delete(appId);
    else this.#masterKeys.clear();
  }

  /** The app's Service DNS records over HTTP (revoked ones are left out by the registry). */
  async services(appId: string, options: { fresh?: boolean } = {}): Promise<ServiceRecord[]> {
    const registry = this.registryFor(appId);
    const cached = this.#services.get(appId);
    if (!options.fresh && cached && cached.expiresAt > Date.now()) return cached.value;
    const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}/services`, {
      timeoutMs: this.#timeoutMs,
    });
    if (status !== 200) {
      const error = errorFromBody(body);
      if (error && status < 500) throw error;
      throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
    }
    const records = parseAnswer(ServicesAnswer, body, `registry ${registry.authority}`).records.filter((r) => r.status !== 'revoked');
    this.#services.set(appId, { value: records, expiresAt: Date.now() + this.#servicesTtlMs });
    return records;
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
  options: { windowSeconds?: number } = {},
): Promise<BroadcastData | null> {
  const envelope = parseMessage(Broadcast, body);
  const data = envelope.data;
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
