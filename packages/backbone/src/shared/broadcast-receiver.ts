import type { BroadcastData, ReplayStore } from '@swarm/protocol';
import { jsonBody, type RegistryClient, registerApprovedMoveReceiver, verifyBroadcast } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';

/**
 * `POST /v1/events` (SPEC §9.4): checks the registry's broadcast and acts on a first delivery;
 * a repeat is acknowledged without acting again.
 */
export function registerBroadcastReceiver(
  app: FastifyInstance,
  options: { registry: RegistryClient; replay: ReplayStore; act: (event: BroadcastData) => Promise<void> },
): void {
  app.post('/v1/events', async (request, reply) => {
    const event = await verifyBroadcast(options.registry, jsonBody(request), options.replay);
    if (event) await options.act(event);
    reply.code(202).send({ accepted: true });
  });
  registerApprovedMoveReceiver(app, options.registry);
}
