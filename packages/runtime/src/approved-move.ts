import { requireAppId } from '@swarm/protocol';
import type { FastifyInstance } from 'fastify';
import { jsonBody } from './http-app.js';
import type { RegistryClient } from './registry-client.js';

/**
 * `POST /v1/events/migration` (docs/SERVICE-KIT.md, "Following a migration"): the owner's
 * evidence of a move the source registry did not release: `{ export, proof, guardian_approval }`
 * (Guardian path) or `{ export, proof, activation }` (contest path, the target's signed
 * activation). It proves itself (source's export signature, Master signature, then a Guardian's
 * or the target's), so anyone may deliver it; `swarm migrate` does,
 * to every provider and backbone part of the app. Answers `202 { accepted: true }`.
 */
export function registerApprovedMoveReceiver(app: FastifyInstance, registry: RegistryClient): void {
  app.post('/v1/events/migration', async (request, reply) => {
    const body = jsonBody(request);
    const named = (body as { proof?: { data?: { app_id?: unknown } } } | null)?.proof?.data?.app_id;
    const appId = requireAppId(typeof named === 'string' ? named : '');
    await registry.followApproved(appId, body);
    reply.code(202).send({ accepted: true });
  });
}
