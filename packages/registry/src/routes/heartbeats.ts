import {
  type ProviderBeatResult,
  ProviderHeartbeat,
  type ProviderHeartbeatAnswer,
  ProviderName,
  SwarmError,
  verify,
  verifySigned,
} from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { takeBeat } from '../beats.js';
import { requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { type BindingRow, findProviderBindings } from '../storage/bindings.js';
import { findProvider } from '../storage/catalog.js';

/**
 * Batched liveness (docs/PROTOCOL.md, "Provider heartbeats"): a provider signs once with its
 * catalog key for up to MAX_PROVIDER_BEATS of its instances. Each entry is taken like a
 * per-instance beat, but only for an active binding of this provider; any other entry is refused
 * on its own (`forbidden`), the rest of the batch still counts.
 */
export function providerHeartbeatRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<{ Params: { provider: string } }>('/v1/providers/:provider/heartbeats', async (request): Promise<ProviderHeartbeatAnswer> => {
    const path = ProviderName.safeParse(request.params.provider);
    if (!path.success) throw new SwarmError('invalid_request', 'provider must be a DNS name');
    const { data } = await verifySigned(ProviderHeartbeat, jsonBody(request), {
      purpose: 'provider_heartbeat',
      freshnessSeconds: ctx.freshnessSeconds,
      replay: ctx.replay,
      expect: (signed) => {
        requireSame('provider', signed.provider, path.data);
        const seen = new Set<string>();
        for (const beat of signed.beats) {
          const key = `${beat.app_id}\n${beat.service_id}`;
          if (seen.has(key)) throw new SwarmError('invalid_request', `${beat.service_id} of ${beat.app_id} is listed twice`);
          seen.add(key);
        }
      },
      signer: async (signed, signature, purpose) => {
        const provider = await findProvider(ctx.db, signed.provider);
        // An unknown provider and a wrong key read alike: nobody learns who is listed.
        if (!provider || !verify(purpose, signed, signature, provider.entry.public_key)) {
          throw new SwarmError('invalid_signature', 'the heartbeat is not signed by the provider key in the catalog');
        }
        return { publicKey: provider.entry.public_key };
      },
    });
    const bound = new Map<string, BindingRow>();
    const serviceIds = [...new Set(data.beats.map((beat) => beat.service_id))];
    for (const row of await findProviderBindings(ctx.db, data.provider, serviceIds)) bound.set(`${row.appId}\n${row.serviceId}`, row);
    const epochs = new Map<string, number>();
    const results: ProviderBeatResult[] = [];
    for (const beat of data.beats) {
      const binding = bound.get(`${beat.app_id}\n${beat.service_id}`);
      // A released app's instances beat at its new registry (docs/REGISTRY.md, "Migration").
      if (binding !== undefined && (await epochOf(ctx, epochs, beat.app_id)) === MOVED) {
        results.push({
          app_id: beat.app_id,
          service_id: beat.service_id,
          error: { code: 'app_migrated', message: `${beat.app_id} moved to another registry: GET /v1/apps/${beat.app_id} names it` },
        });
        continue;
      }
      const taken = binding !== undefined && (await takeBeat(ctx, binding, beat.status));
      const epoch = taken ? await epochOf(ctx, epochs, beat.app_id) : null;
      results.push(
        epoch === null || epoch === MOVED
          ? {
              app_id: beat.app_id,
              service_id: beat.service_id,
              error: {
                code: 'forbidden',
                message: `${beat.service_id} is not an active instance of ${beat.app_id} run by ${data.provider}`,
              },
            }
          : { app_id: beat.app_id, service_id: beat.service_id, config_epoch: epoch },
      );
    }
    const refused = results.filter((result) => 'error' in result).length;
    ctx.observeProviderBeats(results.length - refused, refused);
    return { results };
  });
}

/** The epoch a released app's beats get instead of one: none, they are refused. */
const MOVED = -1;

async function epochOf(ctx: RegistryContext, epochs: Map<string, number>, appId: string): Promise<number | null> {
  const known = epochs.get(appId);
  if (known !== undefined) return known;
  const app = await ctx.reads.apps.find(appId);
  if (!app) return null;
  const epoch = app.status === 'migrated' ? MOVED : app.configEpoch;
  epochs.set(appId, epoch);
  return epoch;
}
