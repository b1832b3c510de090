import { SwarmError } from '@swarm/protocol';
import { toSwarmError } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { attachRequestState, instanceOfRequest } from './domain.js';
import { instanceInfo } from './instances.js';
import type { Kit } from './kit.js';
import { bearerToken, type TokenVerifier } from './tokens.js';

/**
 * The domain's routes under `/i/:service_id/api/v1`. Before any body is read, the instance must
 * be active (`410 gone` once revoked or terminated, `404 not_found` once wiped) and the user
 * token must be one of its app; then requests and 5xx errors are counted for usage and logs.
 */
export function registerInstanceScope(app: FastifyInstance, kit: Kit, verifyToken: TokenVerifier): void {
  app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request) => {
        const serviceId = (request.params as { service_id?: string }).service_id ?? '';
        const instance = await kit.instances.get(serviceId);
        if (!instance || instance.status === 'failed' || instance.wiped) throw new SwarmError('not_found', 'no such instance');
        if (instance.status === 'revoked' || instance.terminated) throw new SwarmError('gone', 'this instance no longer serves');
        if (instance.status !== 'active') throw new SwarmError('not_found', 'this instance is not active yet');
        // Bound through another replica sharing the database: its context is there, not in memory yet.
        if (!kit.contexts.get(instance.service_id)) await kit.contexts.load(instance.service_id);
        const claims = await verifyToken(bearerToken(request.headers.authorization), instance);
        attachRequestState(request, instanceInfo(instance), claims);
        // Counted on disk before it is handled, so a crash after the answer loses no usage.
        await kit.reporter.record(instance.service_id, instance.app_id, 'requests');
      });
      scope.addHook('onResponse', async (request, reply) => {
        const instance = instanceOfRequest(request);
        if (!instance) return;
        if (reply.statusCode >= 500) {
          kit.reporter.count(instance.service_id, instance.app_id, 'errors');
          kit.reporter.log(instance.service_id, instance.app_id, {
            level: 'error',
            message: `${request.method} ${request.routeOptions.url ?? ''} answered ${reply.statusCode}`,
          });
        }
      });
      scope.setErrorHandler((error, request, reply) => {
        const swarmError = toSwarmError(error);
        if (swarmError.status >= 500) request.log.error({ err: error }, 'request failed');
        reply.code(swarmError.status).send(swarmError.toBody());
      });
      await kit.domain.routes(scope, kit.domainContext);
    },
    { prefix: '/i/:service_id/api/v1' },
  );
}
