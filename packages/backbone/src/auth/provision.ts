import { nowSeconds, ProvisionRequest, SwarmError } from '@swarm/protocol';
import { jsonBody, verifyOwnerSigned } from '@swarm/runtime';
import { type AuthContext, issuerOf } from './auth-context.js';

const TIER = 'standard';
const REGION = 'local';

/**
 * `POST /v1/provision`, the Identity Pulse (SPEC §4.3 steps 1–2), checked like §5.1, cheapest
 * first. A second valid request for a provisioned app answers 200 with the same keys.
 */
export function registerProvision(context: AuthContext): void {
  context.app.post('/v1/provision', async (request, reply) => {
    const { data } = await verifyOwnerSigned(ProvisionRequest, jsonBody(request), {
      purpose: 'provision',
      action: 'provision',
      registry: context.registry,
      replay: context.replay,
      freshnessSeconds: context.freshnessSeconds,
      trace: request.trace,
      expect: (data) => {
        if (data.target_provider !== context.provider) throw new SwarmError('wrong_provider', `this is ${context.provider}`);
        if (data.service_tier !== undefined && data.service_tier !== TIER)
          throw new SwarmError('unsupported_tier', `the only tier is ${TIER}`);
        if (data.region !== undefined && data.region !== REGION) throw new SwarmError('unsupported_region', `the only region is ${REGION}`);
        if (data.storage_limit_gb !== undefined && data.storage_limit_gb > 0) {
          throw new SwarmError('storage_limit_exceeded', 'the auth provider offers no storage');
        }
      },
    });
    const { created, key } = await context.store.provision(data.app_id, nowSeconds());
    reply.code(created ? 201 : 200).send({
      app_id: data.app_id,
      auth_public_key: key.publicKey,
      service_public_key: context.providerKey.publicKey,
      auth_provider_url: issuerOf(context, data.app_id),
    });
  });
}
