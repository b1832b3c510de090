import type { KeyObject } from 'node:crypto';
import {
  errorFromBody,
  jwkThumbprint,
  newNonce,
  nowSeconds,
  type OperationalContext,
  parseMessage,
  publicKeyFromJwk,
  publicKeyObject,
  SignedContext,
  SwarmError,
  signEnvelope,
  verify,
} from '@swarm/protocol';
import {
  type CacheCounts,
  compileOnce,
  migratedSuccessor,
  postJson,
  type RegistryClient,
  slotsOf,
  type TraceContext,
} from '@swarm/runtime';
import type { Kysely, Transaction } from 'kysely';
import type { Instance } from './instances.js';
import { type ContextRow, contextToRow, contextToTable, type KitContextsTable, type KitTables } from './store.js';

/** A verified operational context with its Auth keys imported once. */
export interface CachedContext {
  context: OperationalContext;
  signature: string;
  authKeys: Map<string, KeyObject>;
  /** Unix seconds after which a retiring key is no longer taken (its JWK's `exp`). */
  authKeyExpiry: Map<string, number>;
}

/** The context's Auth key named `kid`, unless it is unknown or retired by `now` (Unix seconds). */
export function authKeyOf(cached: CachedContext, kid: string, now = Date.now() / 1000): KeyObject | undefined {
  const expiresAt = cached.authKeyExpiry.get(kid);
  if (expiresAt !== undefined && expiresAt <= now) return undefined;
  return cached.authKeys.get(kid);
}

/** Whether `candidate` was issued after `current`: a later epoch, or the same epoch signed later. */
export function isNewerContext(candidate: OperationalContext, current: OperationalContext): boolean {
  if (candidate.config_epoch !== current.config_epoch) return candidate.config_epoch > current.config_epoch;
  return candidate.issued_at >= current.issued_at;
}

/** A stored context as the signed message it was accepted from. */
function signedOf(row: ContextRow): unknown {
  return { operational_context: JSON.parse(row.context), context_signature: row.contextSignature };
}

const UNKNOWN_KID_REFRESH_MS = 30_000;

/**
 * A signed context its caller parsed already, with the same schemas (a binding answer carries
 * one): its signature and content are checked as any other, its shape is not parsed twice.
 */
export class ParsedContext {
  constructor(readonly value: SignedContext) {}
}

const CONTEXT_COLUMNS = ['service_id', 'app_id', 'config_epoch', 'context', 'context_signature', 'fetched_at'] as const;
/** A context's upsert, run by every binding: compiled once. */
const contextStore = compileOnce<KitTables, KitContextsTable, unknown>((db, value) =>
  db
    .insertInto('kit_contexts')
    .values(slotsOf(value, CONTEXT_COLUMNS))
    // A replica sharing the database may have stored a later epoch meanwhile.
    .onConflict((oc) =>
      oc.column('service_id').doUpdateSet(slotsOf(value, CONTEXT_COLUMNS)).where('kit_contexts.config_epoch', '<=', value('config_epoch')),
    ),
);

/**
 * The operational context of each instance (SPEC §5.3): verified against the trusted registry
 * key, persisted, and used from the database at start even while the registry is down.
 */
export class ContextCache {
  readonly #db: Kysely<KitTables>;
  readonly #registry: RegistryClient;
  readonly #byService = new Map<string, CachedContext>();
  readonly #lastKidRefresh = new Map<string, number>();
  readonly #stopListening: () => void;
  readonly #counts: CacheCounts;

  /**
   * `registry` resolves each app to the registry holding it now (after a migration, its successor);
   * `counts`: hits and misses of `get` (metrics `cache="context"`).
   */
  constructor(db: Kysely<KitTables>, registry: RegistryClient, counts: CacheCounts = { hit: 0, miss: 0 }) {
    this.#db = db;
    this.#registry = registry;
    this.#counts = counts;
    this.#stopListening = registry.trusted.onChange(() => this.#reverify());
  }

  /** Stops following the trust table (the service is closing). */
  close(): void {
    this.#stopListening();
  }

  /**
   * The trust table changed: a context whose registry is no longer trusted, or whose key is not
   * the one trusted now, is dropped at once, so no token is taken on its word; the instance
   * fetches a new one from the registry the table names (or is refused while none is trusted).
   */
  #reverify(): void {
    for (const [serviceId, cached] of this.#byService) {
      try {
        this.#verified(cached.context.app_id, { operational_context: cached.context, context_signature: cached.signature });
      } catch {
        this.#byService.delete(serviceId);
      }
    }
  }

  async loadAll(): Promise<void> {
    const rows = await this.#db.selectFrom('kit_contexts').selectAll().execute();
    for (const row of rows.map(contextToRow)) {
      try {
        this.#byService.set(row.serviceId, this.#verified(row.appId, signedOf(row)));
      } catch {
        // A stored context that no longer verifies (the trust table changed) is refetched later.
      }
    }
  }

  get(serviceId: string): CachedContext | undefined {
    const cached = this.#byService.get(serviceId);
    if (cached) this.#counts.hit++;
    else this.#counts.miss++;
    return cached;
  }

  /**
   * The instance's context, read from the database when this process has none: a replica
   * sharing the database stored it when it bound the instance.
   */
  async load(serviceId: string): Promise<CachedContext | undefined> {
    const cached = this.#byService.get(serviceId);
    if (cached) return cached;
    const found = await this.#db.selectFrom('kit_contexts').selectAll().where('service_id', '=', serviceId).executeTakeFirst();
    if (!found) return undefined;
    const row = contextToRow(found);
    try {
      const loaded = this.#verified(row.appId, signedOf(row));
      this.#byService.set(serviceId, loaded);
      return loaded;
    } catch {
      return undefined;
    }
  }

  /**
   * Verifies a signed context for the instance's app and keeps it, unless it is older than the
   * one kept (epoch, then issued_at): a delayed answer must not bring back a retired key.
   * `alongside` writes in the same transaction as the context (the binding handshake activates
   * the instance with it: one commit); it runs alone when a later context is kept already. `fresh`: the
   * instance was created by this process for this call, so no stored context can exist to
   * compare with and the database is not asked (the upsert still keeps a later stored epoch).
   */
  async accept(
    instance: Pick<Instance, 'serviceId' | 'appId'>,
    signed: unknown,
    options: { fresh?: boolean; alongside?: (trx: Transaction<KitTables>) => Promise<void> } = {},
  ): Promise<CachedContext> {
    const cached = this.#verified(instance.appId, signed);
    const current = this.#byService.get(instance.serviceId) ?? (options.fresh ? undefined : await this.load(instance.serviceId));
    if (current && !isNewerContext(cached.context, current.context)) {
      if (options.alongside) await this.#db.transaction().execute(options.alongside);
      return current;
    }
    const row = contextToTable({
      serviceId: instance.serviceId,
      appId: instance.appId,
      configEpoch: cached.context.config_epoch,
      context: JSON.stringify(cached.context),
      contextSignature: cached.signature,
      fetchedAt: nowSeconds(),
    });
    const store = (db: Kysely<KitTables>) => contextStore.run(db, row);
    const { alongside } = options;
    if (alongside) {
      await this.#db.transaction().execute(async (trx) => {
        await store(trx);
        await alongside(trx);
      });
    } else {
      await store(this.#db);
    }
    this.#byService.set(instance.serviceId, cached);
    return cached;
  }

  /**
   * Asks the registry for the instance's current context (SPEC §9.1), signed by the instance key.
   * A `410 app_migrated` is followed (the kit then re-binds the instance at the successor).
   */
  async refresh(instance: Instance, trace?: TraceContext): Promise<CachedContext> {
    if (!instance.key) throw new SwarmError('not_found', 'instance has no key');
    const registry = this.#registry.registryFor(instance.appId);
    const data = { app_id: instance.appId, service_id: instance.serviceId, timestamp: nowSeconds(), nonce: newNonce() };
    const url = `${registry.baseUrl}/v1/apps/${encodeURIComponent(instance.appId)}/services/${encodeURIComponent(instance.serviceId)}/context`;
    const { status, body } = await postJson(url, signEnvelope('service_call', data, instance.key.privateKey), { timeoutMs: 5000, trace });
    const successor = migratedSuccessor(status, body);
    if (successor !== undefined) await this.#registry.follow(instance.appId, successor);
    if (status !== 200) {
      throw errorFromBody(body) ?? new SwarmError('registry_unavailable', `registry answered ${status} to a context refresh`);
    }
    return this.accept(instance, body);
  }

  /** An unknown token `kid` may mean a new Auth key: refresh, at most once per 30 s per app. */
  mayRefreshForKid(appId: string): boolean {
    const last = this.#lastKidRefresh.get(appId) ?? 0;
    if (Date.now() - last < UNKNOWN_KID_REFRESH_MS) return false;
    this.#lastKidRefresh.set(appId, Date.now());
    return true;
  }

  /** Forgets the instance's context, stored and in memory (its binding was refused). */
  async remove(serviceId: string): Promise<void> {
    await this.#db.deleteFrom('kit_contexts').where('service_id', '=', serviceId).execute();
    this.#byService.delete(serviceId);
  }

  /**
   * The keys a kept context of the app may be signed with: its registry's, then those of the
   * registries it moved away from (still trusted), so an instance keeps serving with the context
   * it held until its new registry signs one; contexts are only fetched from the current one.
   */
  #signers(appId: string): string[] {
    const keys = [this.#registry.registryFor(appId).publicKey];
    for (const authority of this.#registry.successors.formerRegistries(appId)) {
      try {
        keys.push(this.#registry.trusted.byAuthority(authority).publicKey);
      } catch {
        // No longer trusted: its contexts are not taken.
      }
    }
    return keys;
  }

  #verified(appId: string, signed: unknown): CachedContext {
    const { operational_context: context, context_signature: signature } =
      signed instanceof ParsedContext ? signed.value : parseMessage(SignedContext, signed);
    // The registry key comes from the trust table, never from the context that claims it.
    if (!this.#signers(appId).some((publicKey) => verify('operational_context', context, signature, publicKey))) {
      throw new SwarmError('invalid_signature', 'operational context is not signed by the trusted registry');
    }
    if (context.app_id !== appId) throw new SwarmError('invalid_request', 'operational context is for another app');
    const authKeys = new Map<string, KeyObject>();
    const authKeyExpiry = new Map<string, number>();
    for (const jwk of context.auth?.jwks.keys ?? []) {
      try {
        const wire = publicKeyFromJwk(jwk);
        if (jwkThumbprint(wire) !== jwk.kid) continue;
        authKeys.set(jwk.kid, publicKeyObject(wire));
        if (jwk.exp !== undefined) authKeyExpiry.set(jwk.kid, jwk.exp);
      } catch {
        // A malformed key is left out; tokens naming it are refused.
      }
    }
    return { context, signature, authKeys, authKeyExpiry };
  }
}
