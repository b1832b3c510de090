import { SwarmError } from '@swarm/protocol';
import { isStandardRole, requireBearerToken, requireRole, toSwarmError } from '@swarm/runtime';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { attachRequestState, decorateRequestState, instanceOfRequest, type SignedAccess } from './domain.js';
import type { Instance } from './instances.js';
import type { Kit } from './kit.js';
import type { TokenVerifier, UserClaims } from './tokens.js';

/** Throws the SPEC error for an instance that does not serve (gone, wiped, not yet active). */
function requireServing(instance: Instance | null): asserts instance is Instance {
  if (!instance || instance.status === 'failed' || instance.wiped) throw new SwarmError('not_found', 'no such instance');
  if (instance.status === 'revoked' || instance.terminated) throw new SwarmError('gone', 'this instance no longer serves');
  if (instance.status !== 'active') throw new SwarmError('not_found', 'this instance is not active yet');
}

const serviceIdOf = (request: FastifyRequest) => (request.params as { service_id?: string }).service_id ?? '';

/**
 * The requests each instance is serving, so a termination can let them finish before it wipes:
 * a PUT still running would otherwise write its object after the wipe. A request is in flight
 * from its first hook until both its handler has settled and its response has closed.
 */
export class InFlightRequests {
  readonly #open = new Map<string, Set<FastifyRequest>>();
  readonly #idle = new Map<string, Set<() => void>>();

  enter(serviceId: string, request: FastifyRequest, reply: FastifyReply): void {
    let open = this.#open.get(serviceId);
    if (!open) {
      open = new Set();
      this.#open.set(serviceId, open);
    }
    open.add(request);
    const state = { handlerStarted: false, handlerDone: false, closed: false };
    const settle = () => {
      if (state.closed && (state.handlerDone || !state.handlerStarted)) this.#leave(serviceId, request);
    };
    handlerStates.set(request, {
      start: () => {
        state.handlerStarted = true;
      },
      done: () => {
        state.handlerDone = true;
        settle();
      },
    });
    reply.raw.once('close', () => {
      state.closed = true;
      settle();
    });
  }

  count(serviceId: string): number {
    return this.#open.get(serviceId)?.size ?? 0;
  }

  /** Resolves true once the instance has no request in flight, false when `timeoutMs` passed first. */
  drained(serviceId: string, timeoutMs: number): Promise<boolean> {
    if (this.count(serviceId) === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let waiters = this.#idle.get(serviceId);
      if (!waiters) {
        waiters = new Set();
        this.#idle.set(serviceId, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        resolve(false);
      }, timeoutMs);
      waiters.add(done);
    });
  }

  /** Cuts the connections of the instance's requests still in flight (a stalled upload, say). */
  abort(serviceId: string): void {
    for (const request of this.#open.get(serviceId) ?? []) request.raw.destroy();
  }

  #leave(serviceId: string, request: FastifyRequest): void {
    const open = this.#open.get(serviceId);
    if (!open?.delete(request) || open.size > 0) return;
    this.#open.delete(serviceId);
    for (const done of [...(this.#idle.get(serviceId) ?? [])]) done();
    this.#idle.delete(serviceId);
  }
}

/** GET and HEAD change nothing: a termination need not wait for them. */
function isReadOnly(method: string | string[]): boolean {
  if (typeof method === 'string') return method === 'GET' || method === 'HEAD';
  return method.every((m) => m === 'GET' || m === 'HEAD');
}

const handlerStates = new WeakMap<FastifyRequest, { start(): void; done(): void }>();
const inFlightByKit = new WeakMap<Kit, InFlightRequests>();

/** The kit's in-flight request counts (one per kit). */
export function inFlightRequests(kit: Kit): InFlightRequests {
  let inFlight = inFlightByKit.get(kit);
  if (!inFlight) {
    inFlight = new InFlightRequests();
    inFlightByKit.set(kit, inFlight);
  }
  return inFlight;
}

/**
 * The domain's routes under `/i/:service_id/api/v1`. Before any body is read, the instance must
 * be active (`410 gone` once revoked or terminated, `404 not_found` once wiped) and the user
 * token must be one of its app; then requests and thrown 5xx errors are counted for usage and logs.
 */
export function registerInstanceScope(app: FastifyInstance, kit: Kit, verifyToken: TokenVerifier): void {
  /** The checks when something is not in memory yet: the instance row, its context, a new token. */
  async function admitSlowly(request: FastifyRequest): Promise<{ instance: Instance; claims: UserClaims }> {
    const instance = await kit.instances.get(serviceIdOf(request));
    requireServing(instance);
    // Bound through another replica sharing the database: its context is there, not in memory yet.
    if (!kit.contexts.get(instance.serviceId)) await kit.contexts.load(instance.serviceId);
    return { instance, claims: await verifyToken(requireBearerToken(request.headers.authorization), instance) };
  }

  /**
   * The route's role is checked once the token is the app's; then the request is counted, on
   * disk before it is handled, so a crash after the answer loses no usage. A refused token or
   * role is not counted.
   */
  function admitted(request: FastifyRequest, instance: Instance, claims: UserClaims): Promise<void> {
    const role = request.routeOptions.config.role;
    // No role only where no route matched: the scope's 404 answers, with nothing to open.
    if (role !== undefined) requireRole(claims.roles, role);
    attachRequestState(request, instance.info, claims);
    return kit.reporter.record(instance.serviceId, instance.appId, 'requests');
  }

  /** A tokenless request to a route that takes its own proof (a presigned URL): the instance must serve all the same. */
  async function admitSigned(request: FastifyRequest, signedAccess: SignedAccess): Promise<void> {
    const instance = kit.instances.cached(serviceIdOf(request)) ?? (await kit.instances.get(serviceIdOf(request)));
    requireServing(instance);
    await admitted(request, instance, signedAccess(request, instance.info));
  }

  app.register(
    async (scope) => {
      decorateRequestState(scope);
      const refusals = new RefusalLog((serviceId, appId, entry) => kit.reporter.log(serviceId, appId, entry));
      const inFlight = inFlightRequests(kit);
      scope.addHook('onRoute', (route) => {
        // Secure by default: a domain route that does not say which role it needs is a start-up error.
        if (!isStandardRole(route.config?.role)) {
          throw new Error(`${route.method} ${route.url} must declare the role it needs (needs('reader' | 'editor' | 'admin'))`);
        }
        // Every writing handler says when it has settled: its response may be sent before it is done.
        // Reads are not waited for (a read racing a wipe answers what it found, or 404): only a write
        // can leave data behind a wipe, and the hot read path stays free of this bookkeeping.
        if (isReadOnly(route.method)) return;
        const handler = route.handler as (this: FastifyInstance, ...args: Parameters<RouteHandlerMethod>) => unknown;
        route.handler = async function (this: FastifyInstance, request, reply) {
          const state = handlerStates.get(request);
          state?.start();
          try {
            return await handler.call(this, request, reply);
          } finally {
            state?.done();
          }
        };
      });
      // A callback hook, not an async one: a request whose instance and token are already in
      // memory passes without a promise until its usage count is on disk.
      scope.addHook('onRequest', (request, reply, done) => {
        // Counted before the instance is checked: a termination that starts after this check
        // still waits for the request.
        if (!isReadOnly(request.method)) inFlight.enter(serviceIdOf(request), request, reply);
        let counted: Promise<void>;
        const signedAccess = request.routeOptions.config.signedAccess;
        if (signedAccess && request.headers.authorization === undefined) {
          admitSigned(request, signedAccess).then(() => done(), done);
          return;
        }
        try {
          const instance = kit.instances.cached(serviceIdOf(request));
          if (instance !== undefined) requireServing(instance);
          const claims = instance ? verifyToken.fromCache(requireBearerToken(request.headers.authorization), instance) : null;
          counted =
            instance && claims
              ? admitted(request, instance, claims)
              : admitSlowly(request).then((checked) => admitted(request, checked.instance, checked.claims));
          // admitted() may throw synchronously on the fast path (a missing role): caught below.
        } catch (error) {
          done(error as Error);
          return;
        }
        counted.then(() => done(), done);
      });
      // A failure is counted where it is answered (no per-request hook for the rare case): a
      // domain reports a failure by throwing.
      scope.setErrorHandler((error, request, reply) => {
        const swarmError = toSwarmError(error);
        const instance = instanceOfRequest(request);
        if (swarmError.status >= 500) {
          request.log.error({ err: error }, 'request failed');
          if (instance) {
            kit.reporter.count(instance.serviceId, instance.appId, 'errors');
            kit.reporter.log(instance.serviceId, instance.appId, {
              level: 'error',
              message: `${request.method} ${request.routeOptions.url ?? ''} answered ${swarmError.status}`,
            });
          }
        } else if (swarmError.code === 'invalid_token' || swarmError.code === 'forbidden') {
          // The app's owner sees refused tokens in its logs (a stolen or stale token, a missing role).
          const refused = instance ?? kit.instances.cached(serviceIdOf(request));
          if (refused)
            refusals.note(refused.serviceId, refused.appId, swarmError.code, `${request.method} ${request.routeOptions.url ?? ''}`);
        }
        reply.code(swarmError.status).send(swarmError.toBody());
      });
      await kit.domain.routes(scope);
    },
    { prefix: '/i/:service_id/api/v1' },
  );
}

/**
 * Refused requests as `warn` log entries, at most one per instance and code per window with the
 * number refused since: a flood of bad tokens costs one entry per window, never the batch that
 * error logs travel in. Bounded by instances seen (cleared past `maxKeys`).
 */
export class RefusalLog {
  readonly #windows = new Map<string, { startedAt: number; refused: number }>();

  constructor(
    private readonly write: (
      serviceId: string,
      appId: string,
      entry: { level: 'warn'; message: string; fields?: Record<string, string> },
    ) => void,
    private readonly windowMs = 10_000,
    private readonly maxKeys = 10_000,
  ) {}

  note(serviceId: string, appId: string, code: string, route: string): void {
    const key = `${serviceId} ${code}`;
    const now = Date.now();
    const window = this.#windows.get(key);
    if (window && now - window.startedAt < this.windowMs) {
      window.refused += 1;
      return;
    }
    if (this.#windows.size >= this.maxKeys) this.#windows.clear();
    this.#windows.set(key, { startedAt: now, refused: 1 });
    const earlier = window && window.refused > 1 ? ` (${window.refused - 1} more refused in the window before)` : '';
    this.write(serviceId, appId, { level: 'warn', message: `${route} refused: ${code}${earlier}`, fields: { code } });
  }
}
