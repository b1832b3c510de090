import {
  Broadcast,
  type BroadcastData,
  checkFreshness,
  type DelegableAction,
  type DelegationRecord,
  DelegationsAnswer,
  errorFromBody,
  MasterKeyRecord,
  MigrationRecord,
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
import type { SuccessorStore } from './app-registries.js';
import { getJson } from './http-client.js';
import type { TraceContext } from './observability/trace-context.js';
import { type FollowedApp, isActivatedMove, MAX_REGISTRY_HOPS, migratedSuccessor, Successors, verifyApprovedMove } from './successors.js';
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
  /** Where followed migrations are kept (the part's `AppRegistries`); in memory only without one. */
  successors?: SuccessorStore;
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
  /** Apps that moved to another registry (docs/SERVICE-KIT.md, "Following a migration"). */
  readonly successors: Successors;

  constructor(trusted: TrustedRegistries, options: RegistryClientOptions = {}) {
    this.trusted = trusted;
    this.successors = new Successors(trusted, options.successors);
    this.#masterKeyTtlMs = Math.min(options.masterKeyTtlMs ?? 60_000, 60_000);
    this.#servicesTtlMs = options.servicesTtlMs ?? 2_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    const maxApps = options.maxApps ?? DEFAULT_MAX_CACHED_APPS;
    this.#masterKeys = new TtlCache(maxApps);
    this.#services = new TtlCache(maxApps);
  }

  /**
   * The registry that holds the app now, from the trusted table: the one its app_id names, or the
   * last successor followed from there (`invalid_app_id`, `unknown_registry`). The one place an
   * app is resolved to a registry.
   */
  registryFor(appId: string): TrustedRegistry {
    return this.successors.registryFor(requireAppId(appId));
  }

  /**
   * Follows a signed successor (an `APP_MIGRATED` broadcast or a `410 app_migrated` body): checked
   * under the app's current registry's trusted key, the successor trusted too, at most three
   * hops, then kept. Cached answers of the app are dropped, so the next lookup asks the successor.
   */
  async follow(appId: string, successor: unknown): Promise<FollowedApp> {
    const followed = await this.successors.follow(requireAppId(appId), successor);
    if (followed.changed) this.#drop(appId);
    return followed;
  }

  /**
   * Follows a move S did not release: the owner's evidence `{ export, proof, guardian_approval }`
   * (Guardian path) or `{ export, proof, activation }` (contest path) is checked first (no request
   * is sent before it verifies and names a trusted target); on the Guardian path the target must
   * then say the move is active there. It is kept as a link of the app's chain like a successor.
   */
  async followApproved(appId: string, move: unknown): Promise<FollowedApp> {
    const current = this.registryFor(appId);
    const issuer = (move as { proof?: { data?: { previous_registry?: unknown } } } | null)?.proof?.data?.previous_registry;
    // Not from the registry holding the app now: a repeat of a move followed already, or refused there.
    if (issuer !== current.authority) return this.follow(appId, move);
    const target = verifyApprovedMove(this.trusted, appId, move, current.authority);
    // T's signed activation is T's word already: nothing to ask it.
    if (isActivatedMove(move)) return this.follow(appId, move);
    const { status, body } = await getJson(`${target.baseUrl}/v1/apps/${encodeURIComponent(appId)}/migration`, {
      timeoutMs: this.#timeoutMs,
    });
    const record = status === 200 ? parseAnswer(MigrationRecord, body, `registry ${target.authority}`) : null;
    if (record?.state !== 'active' || record.source !== current.authority) {
      throw new SwarmError('conflict', `${target.authority} holds no active move of ${appId} from ${current.authority}`);
    }
    return this.follow(appId, move);
  }

  /** Called after each follow that moved an app to another registry. */
  onFollow(listener: (appId: string, registry: TrustedRegistry) => void): () => void {
    return this.successors.onFollow(listener);
  }

  /** Reads the kept successors back (at start, before anything is resolved). */
  load(): Promise<void> {
    return this.successors.load();
  }

  #drop(appId: string): void {
    this.#masterKeys.delete(appId);
    this.#services.delete(appId);
  }

  /**
   * GET of an app's resource at its registry. A `410 app_migrated` carries the signed successor:
   * it is followed (verified, trusted, bounded hops) and the request asked again there.
   */
  async #getFollowing(
    appId: string,
    path: string,
    trace?: TraceContext,
  ): Promise<{ status: number; body: unknown; registry: TrustedRegistry }> {
    for (let hop = 0; ; hop++) {
      const registry = this.registryFor(appId);
      const { status, body } = await getJson(`${registry.baseUrl}/v1/apps/${encodeURIComponent(appId)}${path}`, {
        timeoutMs: this.#timeoutMs,
        trace,
      });
      const successor = migratedSuccessor(status, body);
      if (successor === undefined || hop >= MAX_REGISTRY_HOPS) return { status, body, registry };
      await this.follow(appId, successor);
    }
  }

  /** The app's Master public key; `unknown_app`, `app_suspended` or `registry_unavailable` otherwise. */
  async masterKey(appId: string, options: { fresh?: boolean; trace?: TraceContext | undefined } = {}): Promise<MasterKeyRecord> {
    this.registryFor(appId);
    const cached = options.fresh ? undefined : this.#masterKeys.get(appId);
    if (cached) return known(cached);
    return this.#masterKeyLoads.run(appId, async () => {
      const { status, body, registry } = await this.#getFollowing(appId, '/master-key', options.trace);
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
    const { status, body, registry } = await this.#getFollowing(appId, '/delegations');
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
    this.registryFor(appId);
    const cached = options.fresh ? undefined : this.#services.get(appId);
    if (cached) return known(cached);
    return this.#serviceLoads.run(appId, async () => {
      const { status, body, registry } = await this.#getFollowing(appId, '/services');
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
 *
 * A registry speaks only for the apps it holds: given the part's `RegistryClient`, that is the
 * registry the app resolves to now (after a followed migration, the successor). A registry the
 * app moved away from is heard only for `APP_MIGRATED` (its successor, checked when followed).
 */
export async function verifyBroadcast(
  registries: TrustedRegistries | RegistryClient,
  body: unknown,
  replay: ReplayStore,
  options: {
    windowSeconds?: number /** A receiver for one app (a path's app): another app's broadcast is refused before its nonce is spent. */;
    appId?: string;
  } = {},
): Promise<BroadcastData | null> {
  const trusted = registries instanceof RegistryClient ? registries.trusted : registries;
  const envelope = parseMessage(Broadcast, body);
  const data = envelope.data;
  if (options.appId !== undefined && data.app_id !== options.appId) throw new SwarmError('forbidden', 'the broadcast is for another app');
  const registry = trusted.byAuthority(data.origin);
  const appId = requireAppId(data.app_id);
  const holder = registries instanceof RegistryClient ? registries.registryFor(appId) : trusted.forApp(appId);
  const formerHolder =
    registries instanceof RegistryClient &&
    data.event === 'APP_MIGRATED' &&
    registries.successors.formerRegistries(appId).includes(data.origin);
  if (registry.authority !== holder.authority && !formerHolder) {
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
