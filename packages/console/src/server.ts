import { type AuditEntry, SwarmError, verifyAuditChain } from '@swarm/protocol';
import { createHttpApp, jsonBody, listenApp, Shutdown } from '@swarm/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ASSETS, CONTENT_SECURITY_POLICY, INDEX_HTML } from './assets.js';
import { checkRequest } from './guard.js';
import { Live } from './live.js';
import { Operations } from './operations.js';
import { BackboneBody, DecommissionBody, LogsQuery, ProvisionBody, parse, UsageQuery } from './requests.js';
import { Login, type Session, sessionCookie } from './session.js';
import type { ConsoleSource } from './source.js';

export interface ConsoleOptions {
  source: ConsoleSource;
  /** The apps the console shows; the registry lists no apps by namespace. */
  apps: string[];
  /** 0 (default) = a free port. The console listens on 127.0.0.1 only. */
  port?: number;
  /** How often the console looks for instance changes while a tab listens (default 2 s). */
  pollMs?: number;
  logLevel?: string | false;
}

export interface ConsoleHandle {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The one-time login URL to print. */
  loginUrl: string;
  close(): Promise<void>;
}

const MAX_LOG_ENTRIES = 500;
const MASTER_KEY_CHANGES = new Set(['master_key_rotated', 'master_identity_recovered']);
/** Pending and dead-letter broadcasts shown per app (the CLI's `swarm broadcasts` pages through all). */
const BROADCASTS_SHOWN = 20;

/**
 * Starts the console on 127.0.0.1: static pages, a JSON API over the owner's `source`, and
 * server-sent events. Every route but `/login` needs the session cookie; every change needs the
 * session's CSRF token and the console's own Origin.
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleHandle> {
  const shutdown = new Shutdown();
  return shutdown.start(async () => {
    const { source } = options;
    const apps = [...new Set(options.apps)];
    if (apps.length === 0) throw new SwarmError('invalid_request', 'name at least one app (--app)');
    const login = new Login();
    const live = new Live(source, apps, options.pollMs ?? 2000);
    shutdown.onStop(() => live.close());
    const operations = new Operations((operation) => live.send('operation', operation));
    const app = createHttpApp({ name: 'console', logLevel: options.logLevel ?? false });
    shutdown.onStop(() => app.close());
    let origin = '';

    app.addHook('onRequest', async (request, reply) => {
      setSecurityHeaders(reply);
      checkRequest(origin, request.headers, request.method);
    });
    const sessionOf = (request: FastifyRequest): Session => {
      const session = login.session(request.headers.cookie);
      if (!session) throw new SwarmError('invalid_token', 'no console session: open the URL `swarm console` printed');
      return session;
    };
    const change = (request: FastifyRequest): Record<string, unknown> => {
      const session = sessionOf(request);
      if (!login.csrfMatches(session, request.headers['x-csrf-token'])) {
        throw new SwarmError('forbidden', 'missing or wrong CSRF token; reload the console');
      }
      return jsonBody(request);
    };
    const ownApp = (appId: string): string => {
      if (!apps.includes(appId)) throw new SwarmError('forbidden', `this console does not manage ${appId}`);
      return appId;
    };

    app.get<{ Querystring: { token?: unknown } }>('/login', async (request, reply) => {
      const { id } = login.exchange(request.query.token);
      // The token leaves the address bar at once, and the page is never cached with it.
      reply.header('set-cookie', sessionCookie(id)).redirect('/', 303);
    });
    app.get('/', async (request, reply) => {
      if (!login.session(request.headers.cookie)) {
        reply.code(401).type('text/html; charset=utf-8');
        return '<!doctype html><html lang="en"><title>Swarm console</title><p>Open the URL that <code>swarm console</code> printed.</p></html>';
      }
      reply.type('text/html; charset=utf-8');
      return INDEX_HTML;
    });
    for (const [path, asset] of ASSETS) {
      app.get(path, async (request, reply) => {
        sessionOf(request);
        reply.type(asset.type).header('cache-control', 'no-cache');
        return asset.body;
      });
    }

    app.get('/api/session', async (request) => {
      const session = sessionOf(request);
      const first = await source.app(apps[0] ?? '');
      const [namespace, audit] = await Promise.all([source.namespace(first.owner_namespace), source.audit(first.app_id)]);
      // The registry logs a Master key change in the audit log of every app of the namespace.
      const rotation = audit.findLast((entry) => MASTER_KEY_CHANGES.has(entry.event));
      const lastRotation = rotation ? { at: rotation.at, event: rotation.event } : null;
      return { csrf: session.csrf, apps, namespace, public_key: source.publicKey, last_rotation: lastRotation };
    });
    app.get<{ Params: { app_id: string } }>('/api/apps/:app_id', async (request) => {
      sessionOf(request);
      const appId = ownApp(request.params.app_id);
      const [record, services, pending, dead] = await Promise.all([
        source.app(appId),
        source.services(appId),
        source.broadcasts(appId, 'pending', BROADCASTS_SHOWN),
        source.broadcasts(appId, 'dead', BROADCASTS_SHOWN),
      ]);
      return {
        app: record,
        services: live.annotate(services),
        operations: operations.list(appId),
        broadcasts: { pending: pending.broadcasts, dead: dead.broadcasts },
      };
    });
    app.get('/api/catalog', async (request) => {
      sessionOf(request);
      return { services: await source.catalog() };
    });
    app.get<{ Params: { app_id: string } }>('/api/apps/:app_id/audit', async (request) => {
      sessionOf(request);
      return auditView(await source.audit(ownApp(request.params.app_id)));
    });
    app.get<{ Params: { app_id: string }; Querystring: unknown }>('/api/apps/:app_id/usage', async (request) => {
      sessionOf(request);
      const appId = ownApp(request.params.app_id);
      const query = parse(UsageQuery, request.query);
      const summary = await source.usage(appId, query.service_id);
      if (!query.service_id) live.sample(appId, Object.fromEntries(summary.app_totals.map((t) => [t.metric, t.value])));
      return { summary, samples: live.samples(appId) };
    });
    app.get<{ Params: { app_id: string }; Querystring: unknown }>('/api/apps/:app_id/logs', async (request) => {
      sessionOf(request);
      const appId = ownApp(request.params.app_id);
      const query = parse(LogsQuery, request.query);
      const answer = await source.logs(appId, {
        ...(query.service_id ? { serviceId: query.service_id } : {}),
        ...(query.level ? { level: query.level } : {}),
        ...(query.since === undefined ? {} : { since: query.since }),
      });
      const text = query.text?.toLowerCase();
      const entries = text ? answer.entries.filter((entry) => entry.message.toLowerCase().includes(text)) : answer.entries;
      return { app_id: appId, entries: entries.slice(-MAX_LOG_ENTRIES) };
    });
    app.get('/api/events', async (request, reply) => {
      sessionOf(request);
      reply.hijack();
      if (!live.listen(reply.raw)) {
        reply.raw.writeHead(429, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify(new SwarmError('rate_limited', 'too many console tabs are open').toBody()));
      }
    });

    app.post<{ Params: { app_id: string } }>('/api/apps/:app_id/provision', async (request, reply) => {
      const body = parse(ProvisionBody, change(request));
      const appId = ownApp(request.params.app_id);
      const operation = operations.start(appId, 'provision', body.service_type, (progress) =>
        source.provision(
          {
            appId,
            serviceType: body.service_type,
            provider: body.provider,
            tier: body.tier,
            region: body.region,
            ...(body.storage_gb === undefined ? {} : { storageGb: body.storage_gb }),
          },
          (answer) => progress(`${answer.service_id} ${answer.status}`),
        ),
      );
      reply.code(202);
      return operation;
    });
    app.post<{ Params: { app_id: string } }>('/api/apps/:app_id/decommission', async (request, reply) => {
      const body = parse(DecommissionBody, change(request));
      const appId = ownApp(request.params.app_id);
      const operation = operations.start(appId, 'decommission', body.service_id, () =>
        source.decommission({ appId, serviceId: body.service_id, retain: body.retain }),
      );
      reply.code(202);
      return operation;
    });
    app.post<{ Params: { app_id: string } }>('/api/apps/:app_id/backbone', async (request, reply) => {
      const body = parse(BackboneBody, change(request));
      const appId = ownApp(request.params.app_id);
      const operation = operations.start(appId, 'backbone_update', 'backbone', () =>
        source.backboneUpdate({
          appId,
          ...(body.billing_url ? { billingUrl: body.billing_url } : {}),
          ...(body.logging_url ? { loggingUrl: body.logging_url } : {}),
        }),
      );
      reply.code(202);
      return operation;
    });

    const { localUrl } = await listenApp(app, { host: '127.0.0.1', port: options.port ?? 0 });
    origin = localUrl;
    return {
      url: localUrl,
      loginUrl: `${localUrl}/login?token=${login.token}`,
      close: () => shutdown.close(),
    };
  });
}

function setSecurityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('cache-control', 'no-store');
}

/**
 * The audit log with the chain checked here by the protocol's own verifier (one home of the
 * hash rules): entries before the first broken link are `verified`, that one is `broken` with
 * the reason, and those after it `unverified`, since nothing after a break can be trusted.
 */
export function auditView(entries: AuditEntry[]) {
  const result = verifyAuditChain(entries);
  const brokenSeq = result.ok ? Number.POSITIVE_INFINITY : result.seq;
  return {
    chain: result,
    entries: entries.map((entry, index) => {
      const seq = index + 1;
      const link = seq < brokenSeq ? 'verified' : seq === brokenSeq ? 'broken' : 'unverified';
      return { entry, link };
    }),
  };
}
