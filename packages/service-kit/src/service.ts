import { SwarmError } from '@swarm/protocol';
import {
  createHttpApp,
  jsonBody,
  listenApp,
  observedOf,
  type ProviderOffer,
  providerOffer,
  registerApprovedMoveReceiver,
  Shutdown,
  SubjectRevocations,
  toSwarmError,
  verifyBroadcast,
} from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { createKit } from './create-kit.js';
import { serveDataPage } from './data-export.js';
import { importStatus, startImport, Transfers } from './data-import.js';
import type { Domain } from './domain.js';
import { handleBroadcast } from './events.js';
import { serviceChecks } from './health.js';
import { beatAll, every } from './heartbeat.js';
import { retryPendingUpdates, updateInstance, updateStatus } from './instance-updates.js';
import type { ServiceOptions } from './options.js';
import { ProviderHeartbeats } from './provider-heartbeat.js';
import { answer, provision } from './provision.js';
import { rotateInstanceKey } from './rotation.js';
import { registerInstanceScope } from './scope.js';
import { terminate } from './termination.js';
import { createTokenVerifier } from './tokens.js';

export interface ServiceHandle extends ProviderOffer {
  url: string;
  provider: string;
  serviceType: string;
  /** The provider key's public half, as listed in the catalog. */
  publicKey: string;
  rotateInstanceKey(serviceId: string): Promise<void>;
  /** Moves counted usage and logs to the outbox and sends what the receivers will take. */
  flushReports(): Promise<void>;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Starts a domain service that joins a swarm: provisioning, binding, context cache, user-token
 * checks, usage and log reporting, heartbeats and registry events, with `domain` serving each
 * instance's API under `/i/<service_id>/api/v1`.
 *
 * @example
 * const service = await startService({ provider: 'article.cms.local', serviceType: 'cms-article',
 *   tiers, regions, trustedRegistries: [{ authority, baseUrl, publicKey }], dataDir }, articles);
 * await service.registerOffer(registryUrl, adminToken);
 */
export function startService<Tables>(options: ServiceOptions, domain: Domain<Tables>): Promise<ServiceHandle> {
  return openService(options, domain);
}

async function openService<Tables>(options: ServiceOptions, domain: Domain<Tables>): Promise<ServiceHandle> {
  const kit = await createKit(options, domain);
  const { config, database, providerKey, replay, instances, contexts, reporter } = kit;

  const revocations = new SubjectRevocations({ egress: kit.egress });
  const verifyToken = createTokenVerifier({
    revocations,
    counts: kit.metrics.caches.verified_token,
    contextOf: (serviceId) => contexts.get(serviceId),
    onUnknownKid: async (serviceId, appId) => {
      if (!contexts.mayRefreshForKid(appId)) return undefined;
      const instance = await instances.get(serviceId);
      return instance ? contexts.refresh(instance).catch(() => undefined) : undefined;
    },
  });

  const app = createHttpApp({
    name: config.serviceType,
    logLevel: config.logLevel ?? undefined,
    metrics: kit.metrics,
    metricsAccess: options.metrics,
    checks: serviceChecks(kit),
  });
  kit.setTracing(() => observedOf(app).tracing());
  app.post('/v1/instances', async (request, reply) => {
    try {
      const result = await provision(kit, jsonBody(request), request.trace);
      kit.metrics.provisionings.inc({ outcome: result.status === 201 ? 'active' : 'binding' });
      reply.code(result.status).send(result.body);
    } catch (error) {
      kit.metrics.provisionings.inc({ outcome: toSwarmError(error).code });
      throw error;
    }
  });
  app.get('/v1/instances/:service_id', async (request) => {
    const instance = await instances.get((request.params as { service_id: string }).service_id);
    if (!instance) throw new SwarmError('not_found', 'no such instance');
    return answer(kit, instance);
  });
  app.delete('/v1/instances/:service_id', async (request) =>
    terminate(kit, (request.params as { service_id: string }).service_id, jsonBody(request)),
  );
  app.patch('/v1/instances/:service_id', async (request, reply) => {
    const result = await updateInstance(kit, (request.params as { service_id: string }).service_id, jsonBody(request));
    reply.code(result.status).send(result.body);
  });
  app.get('/v1/instances/:service_id/updates/:update_id', async (request) => {
    const params = request.params as { service_id: string; update_id: string };
    return updateStatus(kit, params.service_id, params.update_id);
  });
  // Moving an instance with its data (docs/DATA-TRANSFER.md): the old provider serves pages, the new one pulls them.
  const transfers = new Transfers(kit);
  app.post('/v1/instances/:service_id/export', async (request) =>
    serveDataPage(kit, (request.params as { service_id: string }).service_id, jsonBody(request)),
  );
  app.post('/v1/instances/:service_id/import', async (request, reply) => {
    const result = await startImport(kit, transfers, (request.params as { service_id: string }).service_id, jsonBody(request));
    reply.code(result.status).send(result.body);
  });
  app.get('/v1/instances/:service_id/import', async (request) => importStatus(kit, (request.params as { service_id: string }).service_id));
  app.post('/v1/events', async (request, reply) => {
    const event = await verifyBroadcast(kit.registry, jsonBody(request), replay);
    if (event) await handleBroadcast(kit, event);
    reply.code(202).send({ status: 'accepted' });
  });
  // A move the source did not release (Guardian path): the follow re-binds the app's instances.
  registerApprovedMoveReceiver(app, kit.registry);
  if (domain.openapi) {
    // Public, like a catalog entry: it describes the routes, never an instance's data.
    const description = JSON.stringify(domain.openapi);
    app.get('/openapi.json', (_request, reply) => reply.type('application/json; charset=utf-8').send(description));
  }
  registerInstanceScope(app, kit, verifyToken);

  const shutdown = new Shutdown();
  shutdown.onRelease(() => database.close());
  shutdown.onRelease(() => kit.egress.close());
  shutdown.onRelease(() => replay.close?.());
  shutdown.onStop(() => app.close());
  const listening = await shutdown.start(() => listenApp(app, { host: config.host, port: config.port, publicUrl: config.publicUrl }));
  kit.publicUrl = listening.publicUrl;
  await kit.binder.resume();

  const activeInstances = () => instances.list({ status: 'active' });
  const batched = config.heartbeats === 'batch' ? new ProviderHeartbeats(kit) : null;
  const loops = [
    every(config.heartbeatMs, async () => {
      const all = await activeInstances();
      // Instances of an app that moved beat nowhere until re-bound at its new registry (retried here).
      void kit.rebinder.resume(all);
      const active = all.filter((instance) => !kit.bound.pending(instance));
      if (batched) await batched.beatAll(active, config.heartbeatMs, config.heartbeatConcurrency);
      else await beatAll(kit, active, config.heartbeatMs, config.heartbeatConcurrency);
    }),
    every(config.contextRefreshMs, async () => {
      await Promise.allSettled((await activeInstances()).filter((i) => !i.terminated).map((instance) => contexts.refresh(instance)));
    }),
    every(config.reportFlushMs, () => reporter.flush()),
    // Updates the registry has not heard of yet (it was down); a restart resumes them too.
    every(config.bindingRetryInitialMs, () => retryPendingUpdates(kit)),
    // Transfers a stop interrupted resume from their last committed page.
    every(config.bindingRetryInitialMs, () => transfers.resumeAll()),
    every(config.revocationPollMs, async () => {
      const issuers = (await activeInstances()).map((i) => contexts.get(i.serviceId)?.context.auth?.issuer);
      await revocations.refresh(issuers.filter((issuer): issuer is string => typeof issuer === 'string'));
    }),
  ];
  shutdown.onStop(() => Promise.all(loops.map((loop) => loop.stop())));
  shutdown.onStop(() => kit.binder.close());
  shutdown.onStop(() => transfers.close());
  shutdown.onStop(() => kit.contexts.close());
  // What was counted while the last requests ran still goes out before the store closes.
  shutdown.onFlush(() =>
    reporter
      .flush()
      .catch(() => {})
      .then(() => reporter.drain()),
  );

  const terms = {
    service_type: config.serviceType,
    provider: config.provider,
    tiers: config.tiers,
    regions: config.regions,
    description: config.description,
  };

  return {
    url: listening.localUrl,
    provider: config.provider,
    serviceType: config.serviceType,
    publicKey: providerKey.publicKey,
    ...providerOffer(terms, { publicUrl: kit.publicUrl, provisionPath: '/v1/instances' }, providerKey),
    rotateInstanceKey: (serviceId) => rotateInstanceKey(kit, serviceId),
    flushReports: () => reporter.flush(),
    app,
    close: () => shutdown.close(),
  };
}
