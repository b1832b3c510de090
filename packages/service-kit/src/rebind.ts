import {
  errorFromBody,
  newNonce,
  nowSeconds,
  PROTOCOL_VERSION,
  parseAnswer,
  RebindAnswer,
  type ServiceRebind,
  type ServiceRebindData,
  sign,
} from '@swarm/protocol';
import { migratedSuccessor, postJson } from '@swarm/runtime';
import { beat } from './heartbeat.js';
import type { Instance } from './instances.js';
import { endpointUrl, type Kit } from './kit.js';

/** What one re-binding attempt came to. */
export type RebindOutcome = 'rebound' | 'unchanged' | 'retry';

/**
 * Follows an app to the registry it moved to (docs/SERVICE-KIT.md, "Following a migration").
 * Each instance of the app is re-bound there (`service_rebind`, signed by the instance key and
 * the provider key over one `data`), takes the target's signed context and beats there. Until
 * then it keeps serving with the context it holds: user tokens do not change with the registry.
 * Where each instance is bound is `kit.bound` (bound-registries.ts), so a restart re-binds what
 * was left and never twice.
 */
export class Rebinder {
  readonly #kit: Omit<Kit, 'rebinder' | 'binder'>;
  readonly #running = new Map<string, Promise<RebindOutcome>>();

  constructor(kit: Omit<Kit, 'rebinder' | 'binder'>) {
    this.#kit = kit;
    kit.registry.onFollow((appId) => {
      void this.rebindApp(appId).catch(() => {});
    });
  }

  /** Re-binds every active instance of the app at the registry holding it now. */
  async rebindApp(appId: string): Promise<RebindOutcome[]> {
    const instances = await this.#kit.instances.list({ status: 'active', appId });
    return Promise.all(instances.filter((instance) => !instance.terminated).map((instance) => this.rebind(instance)));
  }

  /** Instances still bound at a registry their app left (the heartbeat loop retries them). */
  async resume(active: Instance[]): Promise<void> {
    const { bound } = this.#kit;
    await Promise.allSettled(
      active.filter((instance) => !instance.terminated && bound.pending(instance)).map((instance) => this.rebind(instance)),
    );
  }

  rebind(instance: Instance): Promise<RebindOutcome> {
    const running = this.#running.get(instance.serviceId);
    if (running) return running;
    const attempt = this.#attempt(instance).finally(() => this.#running.delete(instance.serviceId));
    this.#running.set(instance.serviceId, attempt);
    return attempt;
  }

  async #attempt(instance: Instance): Promise<RebindOutcome> {
    const kit = this.#kit;
    if (!instance.key || !kit.bound.pending(instance)) return 'unchanged';
    const target = kit.registry.registryFor(instance.appId);
    const data: ServiceRebindData = {
      app_id: instance.appId,
      service_id: instance.serviceId,
      provider: kit.config.provider,
      public_key: instance.key.publicKey,
      endpoint_url: endpointUrl(kit, instance.serviceId),
      previous_registry: kit.bound.authorityOf(instance),
      timestamp: nowSeconds(),
      nonce: newNonce(),
    };
    const body: ServiceRebind = {
      version: PROTOCOL_VERSION,
      data,
      // The instance proves it holds its key; the provider that it runs the instance.
      instance_signature: sign('service_rebind', data, instance.key.privateKey),
      provider_signature: sign('service_rebind', data, kit.providerKey.privateKey),
    };
    const url = `${target.baseUrl}/v1/apps/${encodeURIComponent(instance.appId)}/services/${encodeURIComponent(instance.serviceId)}/rebind`;
    let answer: { status: number; body: unknown };
    try {
      answer = await postJson(url, body, { timeoutMs: 5000 });
    } catch {
      kit.metrics.rebinds.inc({ outcome: 'registry_unavailable' });
      return 'retry';
    }
    if (answer.status !== 200) {
      const successor = migratedSuccessor(answer.status, answer.body);
      // The target moved the app on meanwhile: the follow re-binds it at the next one.
      if (successor !== undefined) await kit.registry.follow(instance.appId, successor).catch(() => {});
      kit.metrics.rebinds.inc({ outcome: errorFromBody(answer.body)?.code ?? 'registry_unavailable' });
      return 'retry';
    }
    parseAnswer(RebindAnswer, answer.body, `registry ${target.authority}`);
    await kit.bound.record(instance, target.authority);
    kit.metrics.rebinds.inc({ outcome: 'rebound' });
    // The target's signed context (verified under its trusted key), then the first beat there.
    await kit.contexts.refresh(instance).catch(() => {});
    await beat(kit, instance).catch(() => {});
    return 'rebound';
  }
}
