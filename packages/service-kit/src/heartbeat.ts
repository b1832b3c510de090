import { errorFromBody, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { postJson } from '@swarm/runtime';
import type { Instance } from './instances.js';
import type { Kit } from './kit.js';

/**
 * One heartbeat (SPEC §9.2). A newer `config_epoch` triggers a context refresh; `403` means
 * the registry revoked or forgot the instance, which then stops serving.
 */
export async function beat(kit: Kit, instance: Instance): Promise<void> {
  if (!instance.key || instance.status !== 'active' || instance.terminated) return;
  const registry = kit.trusted.forApp(instance.app_id);
  const data = {
    app_id: instance.app_id,
    service_id: instance.service_id,
    timestamp: nowSeconds(),
    nonce: newNonce(),
    status: 'ok' as const,
  };
  const url = `${registry.baseUrl}/v1/apps/${encodeURIComponent(instance.app_id)}/services/${encodeURIComponent(instance.service_id)}/heartbeat`;
  const { status, body } = await postJson(url, signEnvelope('service_call', data, instance.key.privateKey), { timeoutMs: 5000 });
  if (status === 200) {
    const epoch = (body as { config_epoch?: unknown } | null)?.config_epoch;
    const known = kit.contexts.get(instance.service_id)?.context.config_epoch ?? -1;
    if (typeof epoch === 'number' && epoch > known) await kit.contexts.refresh(instance);
    return;
  }
  if (status === 403 && errorFromBody(body)?.code === 'forbidden') {
    await kit.instances.update(instance.service_id, { status: 'revoked' });
    kit.reporter.forget(instance.service_id);
  }
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
