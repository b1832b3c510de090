import { MAX_BODY_BYTES, readJsonBody, SwarmError } from '@swarm/protocol';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';

export interface HttpAppOptions {
  /** pino level, or false for silence (tests). Default: SWARM_LOG_LEVEL or 'info'. */
  logLevel?: string | false;
  /** Name in every log line. */
  name: string;
  /** Readiness probe for `/readyz`; throws or returns false when not ready. */
  ready?: () => Promise<boolean>;
  bodyLimit?: number;
}

/**
 * A Fastify instance with Swarm's HTTP rules: bodies kept raw and parsed by the protocol's
 * untrusted-body reader, every failure answered as `{ error: { code, message } }`, detail of a
 * 5xx kept in the log, and `/healthz` + `/readyz`.
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const level = options.logLevel ?? process.env.SWARM_LOG_LEVEL ?? 'info';
  const app = Fastify({
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
  app.get('/readyz', async (_request, reply) => {
    const ok = options.ready ? await options.ready().catch(() => false) : true;
    reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready' });
  });
  return app;
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
