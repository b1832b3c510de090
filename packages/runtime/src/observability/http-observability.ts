import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SwarmError } from '@swarm/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../bearer.js';
import { toSwarmError } from '../http-app.js';
import { type ReadinessCheck, readiness } from './health.js';
import { METRICS_CONTENT_TYPE, PartMetrics } from './metrics.js';
import { continueTrace, parseTraceparent, type TraceContext } from './trace-context.js';
import { endHop, openTracing, type Tracing } from './tracer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The W3C trace this request belongs to, with this hop's span: pass it to `requestJson(…, { trace })`. */
    trace: TraceContext;
  }
}

/** Who may read `/metrics`, and where it is served (docs/OPERATIONS.md, "Metrics"). */
export interface MetricsOptions {
  /**
   * Bearer tokens that may read `/metrics` on the part's own port from anywhere (the registry
   * adds its admin token). Default: SWARM_METRICS_TOKEN.
   */
  tokens?: string[];
  /**
   * `open` (default): a scraper on this machine (a loopback peer) reads `/metrics` on the part's
   * port without a token, as SPEC §15 has every part serve it. `token`: it needs one too (a
   * reverse proxy on the same host would make every client look local). Env SWARM_METRICS_LOOPBACK.
   */
  loopback?: 'open' | 'token';
  /** A second listener for `/metrics`, `/healthz` and `/readyz` only (Prometheus, probes). */
  port?: number;
  /** Default 127.0.0.1. Any other address needs a token: metrics name routes, load and peers. */
  host?: string;
}

export interface ObservedApp {
  metrics: PartMetrics;
  /** The part's span exporter, null when OTEL_EXPORTER_OTLP_ENDPOINT is not set (or before listen). */
  tracing(): Tracing | null;
  /** Where the metrics listener is, once listening. */
  metricsUrl(): string | null;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** A peer on this machine: 127/8, ::1, or 127/8 written as IPv4-mapped IPv6. */
function isLoopbackPeer(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK.test(address.replace(/^::ffff:/i, ''));
}

/**
 * Adds what an operator sees of a part to its Fastify app: the trace context of each request
 * (from `traceparent`, in every log line of the request with its request id), a span per request
 * when spans are exported, the request histogram by route pattern and code, `/metrics`, the
 * readiness checks in `/readyz`, and the optional metrics listener.
 */
export function observeApp(
  app: FastifyInstance,
  options: { name: string; logging: boolean; metrics?: PartMetrics | undefined; metricsAccess?: MetricsOptions | undefined },
  checks: () => Record<string, ReadinessCheck>,
): ObservedApp {
  const metrics = options.metrics ?? new PartMetrics();
  const access = options.metricsAccess ?? {};
  const fromEnv = process.env.SWARM_METRICS_TOKEN;
  const tokens = [...(access.tokens ?? []), ...(fromEnv ? [fromEnv] : [])].filter((token) => token.length > 0).map((t) => Buffer.from(t));
  const metricsHost = access.host ?? '127.0.0.1';
  if (access.port !== undefined && tokens.length === 0 && !LOOPBACK.test(metricsHost)) {
    throw new Error(
      `the metrics listener on ${metricsHost} needs a metrics token (SWARM_METRICS_TOKEN): only loopback is served without one`,
    );
  }
  let tracing: Tracing | null = null;
  let listener: Server | null = null;
  let listenerUrl: string | null = null;

  app.decorateRequest('trace', undefined as unknown as TraceContext);
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = parseTraceparent(request.headers.traceparent);
    request.trace = tracing
      ? tracing.start(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`, 'server', parent, {
          'http.request.method': request.method,
          'http.route': request.routeOptions.url ?? 'unmatched',
        })
      : continueTrace(parent);
    // The request id is already bound (reqId); the trace id joins it in every line of the request.
    if (options.logging) request.log = request.log.child({ trace_id: request.trace.traceId });
    done();
  });
  // SWARM_METRICS=off: requests are not observed (the benchmark's baseline; an operator who scrapes nothing).
  const observeRequests = process.env.SWARM_METRICS !== 'off';
  app.addHook('onResponse', (request, reply, done) => {
    const code = reply.statusCode;
    if (observeRequests) metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', code, reply.elapsedTime / 1000);
    endHop(request.trace, code);
    done();
  });

  const authorized = (header: unknown) => {
    const token = bearerToken(header);
    if (token === null) return false;
    const given = Buffer.from(token);
    let ok = false;
    for (const expected of tokens) ok = (given.length === expected.length && timingSafeEqual(given, expected)) || ok;
    return ok;
  };

  const loopbackOpen = (access.loopback ?? (process.env.SWARM_METRICS_LOOPBACK === 'token' ? 'token' : 'open')) === 'open';
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    const local = loopbackOpen && isLoopbackPeer(request.socket.remoteAddress);
    if (!local && !authorized(request.headers.authorization)) {
      throw new SwarmError('invalid_token', 'the metrics token is required (SWARM_METRICS_TOKEN) from another machine');
    }
    reply.header('content-type', METRICS_CONTENT_TYPE).header('cache-control', 'no-store');
    return metrics.text();
  });

  app.addHook('onReady', async () => {
    tracing = await openTracing(options.name);
    if (access.port === undefined) return;
    listener = createServer((request, response) => {
      void serveOperator(request, response, { metrics, checks, authorized: tokens.length === 0 ? () => true : authorized });
    });
    await new Promise<void>((resolve, reject) => {
      listener!.once('error', reject);
      listener!.listen(access.port, metricsHost, () => resolve());
    });
    const address = listener.address();
    const port = typeof address === 'object' && address ? address.port : access.port;
    listenerUrl = `http://${metricsHost.includes(':') ? `[${metricsHost}]` : metricsHost}:${port}`;
  });
  app.addHook('onClose', async () => {
    if (listener) {
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener!.close(() => resolve()));
    }
    await tracing?.shutdown().catch(() => {});
  });

  return { metrics, tracing: () => tracing, metricsUrl: () => listenerUrl };
}

/** The metrics listener: three read-only routes, nothing else. */
async function serveOperator(
  request: IncomingMessage,
  response: ServerResponse,
  part: { metrics: PartMetrics; checks: () => Record<string, ReadinessCheck>; authorized: (header: unknown) => boolean },
): Promise<void> {
  const send = (status: number, type: string, body: string) => {
    response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  };
  const error = (e: SwarmError) => send(e.status, 'application/json', JSON.stringify(e.toBody()));
  try {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return error(new SwarmError('invalid_request', 'only GET is served here'));
    if (path === '/healthz') return send(200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      const state = await readiness(part.checks());
      return send(
        state.ready ? 200 : 503,
        'application/json',
        JSON.stringify({ status: state.ready ? 'ready' : 'not_ready', checks: state.checks }),
      );
    }
    if (path !== '/metrics') return error(new SwarmError('not_found', `no route ${request.method} ${path}`));
    if (!part.authorized(request.headers.authorization)) return error(new SwarmError('invalid_token', 'the metrics token is required'));
    send(200, METRICS_CONTENT_TYPE, await part.metrics.text());
  } catch {
    error(new SwarmError('internal_error', 'metrics could not be read'));
  }
}

/**
 * Tells `observe` how each request to the given routes ended: its status and, on failure, the
 * SPEC error code it was answered with. Counters of outcomes (provisionings, bindings,
 * heartbeats) hang here, so the routes themselves carry no metrics code.
 */
export function watchRoutes(app: FastifyInstance, routes: Record<string, (status: number, errorCode: string | null) => void>): void {
  const codes = new WeakMap<FastifyRequest, string>();
  app.addHook('onError', (request, _reply, error, done) => {
    codes.set(request, toSwarmError(error).code);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const observe = routes[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (observe) {
      const status = reply.statusCode;
      observe(status, codes.get(request) ?? (status >= 400 ? `http_${status}` : null));
    }
    done();
  });
}
