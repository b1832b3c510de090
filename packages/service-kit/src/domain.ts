import type { CacheCounts, Prepare, StandardRole } from '@swarm/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely, Migration } from 'kysely';
import type { InstanceInfo } from './instances.js';
import type { UserClaims } from './tokens.js';

/** What a domain is given once, when the service starts, typed with the domain's own tables. */
export interface DomainContext<Tables = unknown> {
  /** The service database (SQLite or PostgreSQL); domain tables carry a `service_id` column. */
  db: Kysely<Tables>;
  dialect: 'sqlite' | 'postgres';
  /**
   * Compiles a query once for a hot route: `prepare((value) => db.selectFrom(…).where('id', '=', value('id')))`.
   * Outside transactions only: inside `db.transaction()` use the transaction's builder (on
   * SQLite a prepared query would wait for the transaction that is waiting for it).
   */
  prepare: Prepare;
  /** For a `ReadCache`: changes when another connection commits; null where that is unknowable. */
  dataVersion: (() => number) | null;
  /** For a `ReadCache`: where it counts its hits and misses (metrics `swarm_cache_requests_total{cache="read"}`). */
  readCacheCounts: CacheCounts;
  /** A folder of the service's own for files (blobs). */
  dataDir: string;
  /** An instance's `endpoint_url` (SPEC §5), for links a domain hands out (presigned URLs). */
  endpointUrl: (serviceId: string) => string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The role a user token needs for this route (docs/SERVICE-KIT.md): every domain route
     * declares one, `reader` for reads, `editor` for writes, `admin` for what only an admin may do.
     */
    role?: StandardRole;
    /**
     * Lets a request without an `Authorization` header in when it carries its own proof (a
     * presigned URL): returns the claims that proof grants (the role is then checked against
     * them as against a token's) or throws `invalid_token`.
     */
    signedAccess?: SignedAccess;
  }
}

/** Verifies the proof a tokenless request carries for `instance`; must not await (it runs on every such request). */
export type SignedAccess = (request: FastifyRequest, instance: InstanceInfo) => UserClaims;

/** Route options that declare the role a route needs: `scope.get('/x', needs('reader'), handler)`. */
export function needs(
  role: StandardRole,
  options: { signedAccess?: SignedAccess } = {},
): { config: { role: StandardRole; signedAccess?: SignedAccess } } {
  return { config: { role, ...options } };
}

/**
 * A domain plugs into the kit with this. Its routes run in an encapsulated Fastify scope under
 * `/i/:service_id/api/v1`, after the kit found an active instance and verified the user token;
 * `requestInstance(request)` and `requestClaims(request)` give both to a handler.
 */
export interface Domain<Tables = unknown> {
  /** Numbered migrations, applied with their own migration table. */
  migrations: Record<string, Migration>;
  routes(scope: FastifyInstance, context: DomainContext<Tables>): void | Promise<void>;
  /** Deletes every record and file of one instance (termination with `wipe`). */
  wipe(instance: InstanceInfo, context: DomainContext<Tables>): Promise<void>;
  /** Gauges reported with usage, e.g. `{ bytes_stored }`. A domain reports a failure by throwing (counted as `errors`). */
  usage?(instance: InstanceInfo, context: DomainContext<Tables>): Promise<Record<string, number>>;
  /**
   * Refuses a storage limit the instance's data no longer fits in (an owner's downgrade):
   * throws `quota_exceeded`. A domain that stores nothing sized against the limit leaves it out.
   */
  checkStorageLimit?(instance: InstanceInfo, storageLimitGb: number, context: DomainContext<Tables>): Promise<void>;
  /** The OpenAPI description of the domain's routes, served by the kit at `GET /openapi.json`. */
  openapi?: Record<string, unknown>;
  /** How an instance's data leaves and enters in the `swarm-data/1` format (docs/DATA-TRANSFER.md); a domain without it cannot be moved. */
  transfer?: DataTransfer<Tables>;
}

/** What one page of an export may hold. */
export interface TransferLimits {
  /** At most this many items. */
  maxItems: number;
  /** About this many bytes of bulk data (object bytes); a page holds at least one item. */
  maxBytes: number;
  /**
   * False: one record per item without bulk bytes (an object's `sha256` stands for them), what
   * the transfer's digest is computed over.
   */
  withData: boolean;
}

export interface DataPage {
  items: Array<Record<string, unknown>>;
  /** The domain's own cursor of the next page, opaque to the kit; null after the last. */
  next: string | null;
}

/**
 * A domain's item mapping for moving an instance (docs/DATA-TRANSFER.md); the kit does the rest
 * (page protocol, signatures, resume bookkeeping, digests).
 */
export interface DataTransfer<Tables = unknown> {
  /** The items after `cursor` (null: from the start) in a stable order; a cursor it did not make is `invalid_request`. */
  exportPage(instance: InstanceInfo, cursor: string | null, limits: TransferLimits, context: DomainContext<Tables>): Promise<DataPage>;
  /**
   * Writes a page's items into the instance, idempotent by item id (a page may come twice after
   * a resume). An item that does not parse is `invalid_request`, one that does not fit `quota_exceeded`.
   */
  importPage(instance: InstanceInfo, items: unknown[], context: DomainContext<Tables>): Promise<void>;
}

/** A domain with its context given: what the kit calls, without knowing the domain's tables. */
export interface BoundDomain {
  routes(scope: FastifyInstance): void | Promise<void>;
  wipe(instance: InstanceInfo): Promise<void>;
  /** The domain's gauges; none when it measures nothing. */
  usage(instance: InstanceInfo): Promise<Record<string, number>>;
  checkStorageLimit(instance: InstanceInfo, storageLimitGb: number): Promise<void>;
  /** The domain's data transfer with its context given; null when the domain has none. */
  transfer: {
    exportPage(instance: InstanceInfo, cursor: string | null, limits: TransferLimits): Promise<DataPage>;
    importPage(instance: InstanceInfo, items: unknown[]): Promise<void>;
  } | null;
}

export function bindDomain<Tables>(domain: Domain<Tables>, context: DomainContext<Tables>): BoundDomain {
  return {
    routes: (scope) => domain.routes(scope, context),
    wipe: (instance) => domain.wipe(instance, context),
    usage: async (instance) => (domain.usage ? domain.usage(instance, context) : {}),
    checkStorageLimit: async (instance, storageLimitGb) => domain.checkStorageLimit?.(instance, storageLimitGb, context),
    transfer: domain.transfer
      ? {
          exportPage: (instance, cursor, limits) => (domain.transfer as DataTransfer<Tables>).exportPage(instance, cursor, limits, context),
          importPage: (instance, items) => (domain.transfer as DataTransfer<Tables>).importPage(instance, items, context),
        }
      : null,
  };
}

/**
 * Per-request state, as request decorations: Fastify gives every request these slots up front,
 * which costs less than a side table looked up on each access.
 */
interface RequestState {
  swarmInstance: InstanceInfo | null;
  swarmClaims: UserClaims | null;
}

const stateOf = (request: FastifyRequest) => request as unknown as RequestState;

/** Gives every request of `scope` the slots `attachRequestState` fills. */
export function decorateRequestState(scope: FastifyInstance): void {
  scope.decorateRequest('swarmInstance', null);
  scope.decorateRequest('swarmClaims', null);
}

export function attachRequestState(request: FastifyRequest, instance: InstanceInfo, user: UserClaims): void {
  const state = stateOf(request);
  state.swarmInstance = instance;
  state.swarmClaims = user;
}

/** The instance of a request that passed the instance checks, or undefined. */
export function instanceOfRequest(request: FastifyRequest): InstanceInfo | undefined {
  return stateOf(request).swarmInstance ?? undefined;
}

/** The active instance a domain request is for. */
export function requestInstance(request: FastifyRequest): InstanceInfo {
  const instance = stateOf(request).swarmInstance;
  if (!instance) throw new Error('requestInstance called outside an instance scope');
  return instance;
}

/** The user who makes a domain request (the token's `sub`), recorded as an item's author; null if the token has none. */
export function authorOf(request: FastifyRequest): string | null {
  return requestClaims(request).sub ?? null;
}

/** The verified user-token claims of a domain request. */
export function requestClaims(request: FastifyRequest): UserClaims {
  const user = stateOf(request).swarmClaims;
  if (!user) throw new Error('requestClaims called outside an instance scope');
  return user;
}
