import {
  nowSeconds,
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
import type { z } from 'zod';
import { takeBeats } from '../beats.js';
import { requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import type { BindingRow } from '../storage/bindings.js';
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
    const now = nowSeconds();
    const { beats, provider } = data;
    const epochs = new Map<string, number | null>();
    for (const beat of beats) if (!epochs.has(beat.app_id)) epochs.set(beat.app_id, await epochOf(ctx, beat.app_id, now));
    const results: ProviderBeatResult[] = new Array(beats.length);
    // Instances already read as this provider's active bindings are taken from memory: at a
    // million instances a batch reads no row (Liveness.renew); the others are read below.
    const renewing = ctx.liveness.mayRenew();
    const unread: number[] = [];
    for (let i = 0; i < beats.length; i++) {
      const beat = beats[i] as ProviderBeat;
      const epoch = epochs.get(beat.app_id) ?? null;
      if (epoch !== null && epoch !== MOVED && renewing && ctx.liveness.renew(provider, beat.app_id, beat.service_id, beat.status, now)) {
        results[i] = { app_id: beat.app_id, service_id: beat.service_id, config_epoch: epoch };
      } else unread.push(i);
    }
    if (unread.length > 0) {
      const generation = ctx.liveness.generation;
      const serviceIds = [...new Set(unread.map((i) => (beats[i] as ProviderBeat).service_id))];
      const bound = new Map<string, BindingRow>();
      for (const row of await ctx.reads.bindings.ofProvider(provider, serviceIds)) bound.set(`${row.appId}\n${row.serviceId}`, row);
      const taking: Array<{ binding: BindingRow; status: string }> = [];
      const takingAt: number[] = [];
      for (const i of unread) {
        const beat = beats[i] as ProviderBeat;
        const binding = bound.get(`${beat.app_id}\n${beat.service_id}`);
        const epoch = epochs.get(beat.app_id) ?? null;
        // A released app's instances beat at its new registry (docs/REGISTRY.md, "Migration").
        if (binding !== undefined && epoch === MOVED) results[i] = migrated(beat);
        else if (binding === undefined || epoch === null) results[i] = notActive(beat, provider);
        else {
          taking.push({ binding, status: beat.status });
          takingAt.push(i);
        }
      }
      const taken = await takeBeats(ctx, taking, now, generation);
      takingAt.forEach((i, k) => {
        const beat = beats[i] as ProviderBeat;
        const epoch = epochs.get(beat.app_id) as number;
        results[i] = taken[k] ? { app_id: beat.app_id, service_id: beat.service_id, config_epoch: epoch } : notActive(beat, provider);
      });
    }
    const refused = results.filter((result) => 'error' in result).length;
    ctx.observeProviderBeats(results.length - refused, refused);
    return { results };
  });
}

type ProviderBeat = z.infer<typeof ProviderHeartbeat>['data']['beats'][number];

/** The epoch a released app's beats get instead of one: none, they are refused. */
const MOVED = -1;

/** An app this registry does not hold (not kept: it may be created any moment). */
const NO_APP = -2;

/** The app's epoch, MOVED, or null; kept until the app changes (every change of an app goes through changeApp, which drops it). */
async function epochOf(ctx: RegistryContext, appId: string, now: number): Promise<number | null> {
  const build = async () => {
    const app = await ctx.reads.apps.find(appId);
    if (!app) return NO_APP;
    return app.status === 'migrated' ? MOVED : app.configEpoch;
  };
  // The data version read once per turn: a batch's apps are looked up in one.
  const epoch = await ctx.lookups.epochs.get(appId, appId, now, build, {
    keep: (value) => value !== NO_APP,
    until: () => Number.POSITIVE_INFINITY,
    stamp: 'turn',
  });
  return epoch === NO_APP ? null : epoch;
}

function migrated(beat: ProviderBeat): ProviderBeatResult {
  return {
    app_id: beat.app_id,
    service_id: beat.service_id,
    error: { code: 'app_migrated', message: `${beat.app_id} moved to another registry: GET /v1/apps/${beat.app_id} names it` },
  };
}

function notActive(beat: ProviderBeat, provider: string): ProviderBeatResult {
  return {
    app_id: beat.app_id,
    service_id: beat.service_id,
    error: { code: 'forbidden', message: `${beat.service_id} is not an active instance of ${beat.app_id} run by ${provider}` },
  };
}
