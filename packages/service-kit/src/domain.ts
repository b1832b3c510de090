import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely, Migration } from 'kysely';
import type { InstanceInfo } from './instances.js';
import type { UserClaims } from './tokens.js';

/** What a domain is given once, when the service starts. */
export interface DomainContext {
  /** The service database (SQLite or PostgreSQL); domain tables carry a `service_id` column. */
  db: Kysely<unknown>;
  dialect: 'sqlite' | 'postgres';
  /** A folder of the service's own for files (blobs). */
  dataDir: string;
}

/**
 * A domain plugs into the kit with this. Its routes run in an encapsulated Fastify scope under
 * `/i/:service_id/api/v1`, after the kit found an active instance and verified the user token;
 * `requestInstance(request)` and `requestClaims(request)` give both to a handler.
 */
export interface Domain {
  /** Numbered migrations, applied with their own migration table. */
  migrations: Record<string, Migration>;
  routes(scope: FastifyInstance, context: DomainContext): void | Promise<void>;
  /** Deletes every record and file of one instance (termination with `wipe`). */
  wipe(instance: InstanceInfo, context: DomainContext): Promise<void>;
  /** Gauges reported with usage, e.g. `{ bytes_stored }`. */
  usage?(instance: InstanceInfo, context: DomainContext): Promise<Record<string, number>>;
}

const instances = new WeakMap<FastifyRequest, InstanceInfo>();
const claims = new WeakMap<FastifyRequest, UserClaims>();

export function attachRequestState(request: FastifyRequest, instance: InstanceInfo, user: UserClaims): void {
  instances.set(request, instance);
  claims.set(request, user);
}

/** The instance of a request that passed the instance checks, or undefined. */
export function instanceOfRequest(request: FastifyRequest): InstanceInfo | undefined {
  return instances.get(request);
}

/** The active instance a domain request is for. */
export function requestInstance(request: FastifyRequest): InstanceInfo {
  const instance = instances.get(request);
  if (!instance) throw new Error('requestInstance called outside an instance scope');
  return instance;
}

/** The verified user-token claims of a domain request. */
export function requestClaims(request: FastifyRequest): UserClaims {
  const user = claims.get(request);
  if (!user) throw new Error('requestClaims called outside an instance scope');
  return user;
}
