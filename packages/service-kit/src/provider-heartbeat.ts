import {
  canonicalJson,
  MAX_PROVIDER_BEATS,
  newNonce,
  nowSeconds,
  ProviderHeartbeatAnswer,
  parseAnswer,
  signEnvelope,
  type TrustedRegistry,
} from '@swarm/protocol';
import { postJson } from '@swarm/runtime';
import { beat, beatAll } from './heartbeat.js';
import type { Instance } from './instances.js';
import type { Kit } from './kit.js';

/** Batches stay well inside the registry's 64 KiB body limit. */
const MAX_BATCH_BYTES = 48 * 1024;
/** A registry that answered 404 (no batched liveness) is asked again after this long. */
const RECHECK_UNSUPPORTED_MS = 10 * 60 * 1000;

/**
 * One interval's liveness as the provider's batches (docs/PROTOCOL.md, "Provider heartbeats"):
 * per trusted registry, one request signed by the provider key for up to MAX_PROVIDER_BEATS
 * instances. Each answer entry is handled like a per-instance beat: a newer `config_epoch`
 * refreshes that instance's context, `forbidden` stops serving it. A registry without the route
 * (404) gets per-instance beats for a while; a batch refused or lost gets them this round, so an
 * instance never misses an interval because of the batch.
 */
export class ProviderHeartbeats {
  readonly #kit: Kit;
  readonly #unsupportedUntil = new Map<string, number>();

  constructor(kit: Kit) {
    this.#kit = kit;
  }

  async beatAll(instances: Instance[], intervalMs: number, concurrency: number): Promise<void> {
    const byRegistry = new Map<string, { registry: TrustedRegistry; instances: Instance[] }>();
    for (const instance of instances) {
      if (!instance.key || instance.status !== 'active' || instance.terminated || this.#kit.bound.pending(instance)) continue;
      let registry: TrustedRegistry;
      try {
        registry = this.#kit.registry.registryFor(instance.appId);
      } catch {
        // A registry no longer trusted: nobody to beat to (as the per-instance beat skips it).
        continue;
      }
      const group = byRegistry.get(registry.baseUrl) ?? { registry, instances: [] };
      group.instances.push(instance);
      byRegistry.set(registry.baseUrl, group);
    }
    const single: Instance[] = [];
    await Promise.all(
      [...byRegistry.values()].map(async ({ registry, instances: ofRegistry }) => {
        if ((this.#unsupportedUntil.get(registry.baseUrl) ?? 0) > Date.now()) {
          single.push(...ofRegistry);
          return;
        }
        for (const batch of batches(ofRegistry)) {
          if (!(await this.#send(registry, batch))) single.push(...batch);
        }
      }),
    );
    if (single.length > 0) await beatAll(this.#kit, single, intervalMs, concurrency);
  }

  /** One batch; false when its instances must beat one by one this round. */
  async #send(registry: TrustedRegistry, instances: Instance[]): Promise<boolean> {
    const { provider } = this.#kit.config;
    const data = {
      provider,
      timestamp: nowSeconds(),
      nonce: newNonce(),
      beats: instances.map((instance) => ({ app_id: instance.appId, service_id: instance.serviceId, status: 'ok' as const })),
    };
    const url = `${registry.baseUrl}/v1/providers/${encodeURIComponent(provider)}/heartbeats`;
    let answer: ProviderHeartbeatAnswer;
    try {
      const { status, body } = await postJson(url, signEnvelope('provider_heartbeat', data, this.#kit.providerKey.privateKey), {
        timeoutMs: 5000,
      });
      if (status === 404) {
        this.#unsupportedUntil.set(registry.baseUrl, Date.now() + RECHECK_UNSUPPORTED_MS);
        return false;
      }
      if (status !== 200) return false;
      answer = parseAnswer(ProviderHeartbeatAnswer, body, registry.authority);
    } catch {
      return false;
    }
    const byService = new Map(instances.map((instance) => [`${instance.appId}\n${instance.serviceId}`, instance]));
    await Promise.allSettled(
      answer.results.map(async (result) => {
        const instance = byService.get(`${result.app_id}\n${result.service_id}`);
        if (!instance) return;
        if ('config_epoch' in result) {
          const known = this.#kit.contexts.get(instance.serviceId)?.context.config_epoch ?? -1;
          if (result.config_epoch > known) await this.#kit.contexts.refresh(instance);
        } else if (result.error.code === 'forbidden' || result.error.code === 'app_migrated') {
          // Asked once on its own: the per-instance answer is the one SPEC defines (a 403 stops the
          // instance; a 410 app_migrated carries the signed successor the kit follows).
          await beat(this.#kit, instance);
        }
      }),
    );
    return true;
  }
}

/** Chunks of at most MAX_PROVIDER_BEATS entries and MAX_BATCH_BYTES of JSON. */
function batches(instances: Instance[]): Instance[][] {
  const out: Instance[][] = [];
  let current: Instance[] = [];
  let bytes = 0;
  for (const instance of instances) {
    const size = canonicalJson({ app_id: instance.appId, service_id: instance.serviceId, status: 'degraded' }).length + 1;
    if (current.length >= MAX_PROVIDER_BEATS || (current.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(instance);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
