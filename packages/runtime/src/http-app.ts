import { isIPv6, type Socket } from 'node:net';
import { MAX_BODY_BYTES, readJsonBody, SwarmError } from '@swarm/protocol';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { ReadinessCheck } from './observability/health.js';
import { readiness } from './observability/health.js';
import { type MetricsOptions, type ObservedApp, observeApp } from './observability/http-observability.js';
import type { PartMetrics } from './observability/metrics.js';

export interface HttpAppOptions {
  /** pino level, or false for silence (tests). Default: SWARM_LOG_LEVEL or 'info'. */
  logLevel?: string | false;
  /** Name in every log line. */
  name: string;
  /** Readiness probe for `/readyz`; throws or returns false when not ready. */
  ready?: () => Promise<boolean>;
  /** Named readiness checks (database, redis, registry): `/readyz` is ready when all pass. */
  checks?: Record<string, ReadinessCheck>;
  /** The part's metrics (made here when not given); the request histogram is added to them. */
  metrics?: PartMetrics;
  /** Who may read `/metrics` and on which port (docs/OPERATIONS.md, "Metrics"). */
  metricsAccess?: MetricsOptions;
  /**
   * On close, requests in flight get this long to finish before their connections are cut
   * (new ones are answered 503 meanwhile). Default SWARM_DRAIN_TIMEOUT_MS, else 10 000.
   */
  drainTimeoutMs?: number;
  bodyLimit?: number;
  /** Timeouts and connection caps; each unset one comes from the environment, else its default. */
  limits?: Partial<ServerLimits>;
}

/**
 * What one client may hold of a server. Every server of the swarm is built here, so these
 * apply to the registry, the backbone and every domain service alike.
 */
export interface ServerLimits {
  /** All request headers must arrive within this (Apache's mod_reqtimeout allows 20 s). */
  headersTimeoutMs: number;
  /** The whole request, headers and body, must arrive within this (Node's own default, 5 min). */
  requestTimeoutMs: number;
  /** Silence allowed while a request is read or answered (nginx's client_body_timeout, 60 s). */
  bodyTimeoutMs: number;
  /** A keep-alive connection with no request open is closed after this (Node's default, 5 s). */
  idleTimeoutMs: number;
  /** From the first byte to the last byte of the answer; past it the request is cut off. */
  totalTimeoutMs: number;
  /** Open connections from one client address (an IPv6 /64 counts as one address); more are closed at once. */
  maxConnectionsPerAddress: number;
  /** Open connections in all; more are closed at once. */
  maxConnections: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  bodyTimeoutMs: 60_000,
  idleTimeoutMs: 5_000,
  totalTimeoutMs: 330_000,
  maxConnectionsPerAddress: 256,
  maxConnections: 10_000,
});

/** The environment variable that sets each limit (a positive integer). */
export const SERVER_LIMIT_ENV: Readonly<Record<keyof ServerLimits, string>> = Object.freeze({
  headersTimeoutMs: 'SWARM_HTTP_HEADERS_TIMEOUT_MS',
  requestTimeoutMs: 'SWARM_HTTP_REQUEST_TIMEOUT_MS',
  bodyTimeoutMs: 'SWARM_HTTP_BODY_TIMEOUT_MS',
  idleTimeoutMs: 'SWARM_HTTP_IDLE_TIMEOUT_MS',
  totalTimeoutMs: 'SWARM_HTTP_TOTAL_TIMEOUT_MS',
  maxConnectionsPerAddress: 'SWARM_HTTP_MAX_CONNECTIONS_PER_ADDRESS',
  maxConnections: 'SWARM_HTTP_MAX_CONNECTIONS',
});

/** The limits a server runs with: `given`, else the SWARM_HTTP_* variables, else the defaults. */
export function serverLimits(given: Partial<ServerLimits> = {}, env: NodeJS.ProcessEnv = process.env): ServerLimits {
  const limits = { ...DEFAULT_SERVER_LIMITS };
  for (const name of Object.keys(limits) as Array<keyof ServerLimits>) {
    const raw = env[SERVER_LIMIT_ENV[name]];
    const value = given[name] ?? (raw === undefined || raw === '' ? undefined : Number(raw));
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${SERVER_LIMIT_ENV[name]} must be a positive integer, not ${value}`);
    limits[name] = value;
  }
  // Node refuses a headers timeout longer than the request timeout.
  limits.headersTimeoutMs = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return limits;
}

/**
 * A Fastify instance with Swarm's HTTP rules: bodies kept raw and parsed by the protocol's
 * untrusted-body reader, every failure answered as `{ error: { code, message } }`, detail of a
 * 5xx kept in the log, and `/healthz` + `/readyz`.
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const level = options.logLevel ?? process.env.SWARM_LOG_LEVEL ?? 'info';
  const limits = serverLimits(options.limits);
  const app = Fastify({
    http: {
      headersTimeout: limits.headersTimeoutMs,
      // Node checks the headers and request timeouts on this tick (30 s by default, longer
      // than the bounds themselves); a tenth of the shorter bound keeps the overshoot small.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 10))),
    },
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.bodyTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    logger: level === false ? false : { level, name: options.name },
    bodyLimit: options.bodyLimit ?? MAX_BODY_BYTES,
    // Request bodies are parsed by readJsonBody, which refuses what JSON.parse would let by.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2048 },
    // A path the router cannot decode (`%C3`) gets the SPEC error shape too.
    frameworkErrors: (error, _request, reply) => {
      const swarmError = toSwarmError(error);
      (reply as FastifyReply).code(swarmError.status).send(swarmError.toBody());
    },
  });

  limitConnections(app, limits);
  let inFlight = 0;
  let drained: (() => void) | null = null;
  app.addHook('onRequest', (request, reply, done) => {
    const timer = setTimeout(() => cutOff(request, reply), limits.totalTimeoutMs);
    timer.unref();
    inFlight++;
    reply.raw.once('close', () => {
      clearTimeout(timer);
      if (--inFlight === 0) drained?.();
    });
    done();
  });
  // Graceful drain: Fastify answers new requests 503 once closing; those already running finish
  // (up to the drain timeout) before the connections are cut.
  const drainMs = options.drainTimeoutMs ?? (Number(process.env.SWARM_DRAIN_TIMEOUT_MS) || 10_000);
  app.addHook('preClose', async () => {
    if (inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, drainMs);
      drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  });
  const checks = (): Record<string, ReadinessCheck> => ({
    ...(options.ready ? { ready: options.ready } : {}),
    ...options.checks,
  });
  observed.set(
    app,
    observeApp(
      app,
      {
        name: options.name,
        logging: level !== false && level !== 'silent',
        metrics: options.metrics,
        metricsAccess: options.metricsAccess,
      },
      checks,
    ),
  );

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error, request, reply) => {
    const swarmError = toSwarmError(error);
    if (swarmError.status >= 500) request.log.error({ err: error }, 'request failed');
    reply.code(swarmError.status).send(swarmError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(new SwarmError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`).toBody());
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  // Who may call: anyone (load balancers, orchestrators). They say ok or failing per check, never why.
  app.get('/readyz', async (_request, reply) => {
    const state = await readiness(checks());
    reply.code(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not_ready', checks: state.checks });
  });
  return app;
}

const observed = new WeakMap<FastifyInstance, ObservedApp>();

/** The metrics, tracer and metrics listener of an app made by createHttpApp. */
export function observedOf(app: FastifyInstance): ObservedApp {
  const found = observed.get(app);
  if (!found) throw new Error('the app was not made by createHttpApp');
  return found;
}

/** Past the total request time: a 503 when nothing was answered yet, else the connection is cut. */
function cutOff(request: FastifyRequest, reply: FastifyReply): void {
  if (reply.raw.headersSent) {
    request.raw.socket.destroy();
    return;
  }
  request.log.warn({ url: request.url }, 'request cut off after the total request time');
  reply.header('connection', 'close');
  reply.code(503).send(new SwarmError('registry_unavailable', 'the request took too long').toBody());
}

/**
 * Counts open connections per client address and closes, at once, each one past the cap, so one
 * address holding idle sockets cannot take the server's connections from the others.
 */
function limitConnections(app: FastifyInstance, limits: ServerLimits): void {
  const open = new Map<string, number>();
  app.server.maxConnections = limits.maxConnections;
  app.server.on('connection', (socket: Socket) => {
    const address = clientAddress(socket.remoteAddress);
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** IPv4 addresses count one by one; IPv6 by /64, the smallest block a client is usually given. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(remote)) return remote;
  const [head = '', tail = ''] = remote.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = remote.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** The request body as a JSON object, checked by the protocol's untrusted-body rules. */
export function jsonBody(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === undefined || body === null) throw new SwarmError('invalid_request', 'a JSON body is required');
  if (Buffer.isBuffer(body)) return readJsonBody(body);
  throw new SwarmError('invalid_request', 'a JSON body is required');
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '53300', // too_many_connections
  'SQLITE_BUSY',
]);

/** Maps anything thrown in a handler to the SPEC error it stands for. */
export function toSwarmError(error: unknown): SwarmError {
  if (error instanceof SwarmError) return error;
  const { code, statusCode, message } = (error ?? {}) as { code?: string; statusCode?: number; message?: string };
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new SwarmError('payload_too_large', 'body is too large');
  if (code && UNAVAILABLE_CODES.has(code)) return new SwarmError('registry_unavailable', 'storage is unavailable, try again');
  if (isConnectionLoss(message)) return new SwarmError('registry_unavailable', 'storage is unavailable, try again');
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    if (statusCode === 413) return new SwarmError('payload_too_large', 'body is too large');
    if (statusCode === 404) return new SwarmError('not_found', 'not found');
    return new SwarmError('invalid_request', message ?? 'invalid request');
  }
  return new SwarmError('internal_error', message ?? 'internal error', { cause: error });
}

function isConnectionLoss(message: string | undefined): boolean {
  return (
    !!message &&
    /Connection terminated|connection timeout|Client has encountered a connection error|The client is closed|Socket closed/i.test(message)
  );
}
