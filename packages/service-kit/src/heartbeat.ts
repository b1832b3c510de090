import { errorFromBody, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { endHop, migratedSuccessor, postJson, startHop } from '@swarm/runtime';
import type { Instance } from './instances.js';
import type { Kit } from './kit.js';

/**
 * One heartbeat (SPEC §9.2). A newer `config_epoch` triggers a context refresh; `403` means
 * the registry revoked or forgot the instance, which then stops serving.
 */
export async function beat(kit: Omit<Kit, 'rebinder' | 'binder'>, instance: Instance): Promise<void> {
  // An instance of an app that moved beats nowhere until re-bound at its new registry.
  if (!instance.key || instance.status !== 'active' || instance.terminated || kit.bound.pending(instance)) return;
  const registry = kit.registry.registryFor(instance.appId);
  const data = {
    app_id: instance.appId,
    service_id: instance.serviceId,
    timestamp: nowSeconds(),
    nonce: newNonce(),
    status: 'ok' as const,
  };
  const url = `${registry.baseUrl}/v1/apps/${encodeURIComponent(instance.appId)}/services/${encodeURIComponent(instance.serviceId)}/heartbeat`;
  const trace = startHop(kit.tracing(), 'heartbeat', 'internal', null);
  const { status, body } = await postJson(url, signEnvelope('service_call', data, instance.key.privateKey), {
    timeoutMs: 5000,
    trace,
  }).finally(() => endHop(trace));
  if (status === 200) {
    const epoch = (body as { config_epoch?: unknown } | null)?.config_epoch;
    const known = kit.contexts.get(instance.serviceId)?.context.config_epoch ?? -1;
    if (typeof epoch === 'number' && epoch > known) await kit.contexts.refresh(instance);
    return;
  }
  const successor = migratedSuccessor(status, body);
  // The registry released the app: follow its signed successor (the kit then re-binds there).
  if (successor !== undefined) {
    await kit.registry.follow(instance.appId, successor);
    return;
  }
  if (status === 403 && errorFromBody(body)?.code === 'forbidden') {
    await kit.instances.update(instance.serviceId, { status: 'revoked' });
    kit.reporter.forget(instance.serviceId);
  }
}

/** Heartbeats in flight at once per provider: a browser's 6 connections per host, with room for replicas of the registry. */
export const DEFAULT_HEARTBEAT_CONCURRENCY = 8;

/**
 * One interval's beats: each instance at its own offset in the first 80 % of the interval
 * (fixed by its service_id, so an instance beats at the same moment each round and the
 * registry sees an even stream), at most `concurrency` in flight. A provider with 20 000
 * instances then sends a steady trickle instead of 20 000 requests at once.
 */
export async function beatAll(
  kit: Kit,
  instances: Instance[],
  intervalMs: number,
  concurrency = DEFAULT_HEARTBEAT_CONCURRENCY,
): Promise<void> {
  const window = intervalMs * 0.8;
  const started = Date.now();
  const planned = instances.map((instance) => ({ instance, at: offsetOf(instance.serviceId) * window })).sort((a, b) => a.at - b.at);
  let next = 0;
  const lane = async () => {
    for (;;) {
      const item = planned[next++];
      if (!item) return;
      const wait = started + item.at - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
      await beat(kit, item.instance).catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, planned.length) }, lane));
}

/** A fraction in [0, 1) from a string: FNV-1a, enough to scatter ids evenly. */
function offsetOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) / 2 ** 32;
}

/** Runs `task` every `ms`, never overlapping itself; errors are the task's own business. */
export function every(ms: number, task: () => Promise<void>): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch(() => {})
      .finally(() => {
        running = null;
      });
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
