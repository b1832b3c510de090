import {
  BindingAnswer,
  errorFromBody,
  newNonce,
  nowSeconds,
  PROTOCOL_VERSION,
  type ProvisionData,
  parseMessage,
  SwarmError,
  sign,
} from '@swarm/protocol';
import { endHop, migratedSuccessor, postJson, startHop, type TraceContext } from '@swarm/runtime';
import { ParsedContext } from './contexts.js';
import type { Instance } from './instances.js';
import { endpointUrl, type Kit } from './kit.js';

export type BindOutcome = { status: 'active'; boundAt: number } | { status: 'binding' } | { status: 'failed'; error: SwarmError };

/** `fresh`: the instance was created for this very call (a provisioning), not resumed or retried. */
export interface BindOptions {
  fresh?: boolean;
}

/**
 * The binding handshake (SPEC §5.2) and its retries. While the registry cannot be reached the
 * instance stays `binding` and is retried with exponential backoff; the schedule is in the
 * database, so a restart resumes it. A refusal removes the instance (orphan mitigation).
 */
export class Binder {
  readonly #kit: Omit<Kit, 'binder' | 'rebinder'>;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<string>();
  #closed = false;

  constructor(kit: Omit<Kit, 'binder' | 'rebinder'>) {
    this.#kit = kit;
  }

  /** Picks up instances left `binding` by an earlier run. */
  async resume(): Promise<void> {
    for (const instance of await this.#kit.instances.list({ status: 'binding' })) this.#schedule(instance);
  }

  /** `trace`: the provisioning request's (a retry from the schedule starts a trace of its own). */
  async bind(instance: Instance, trace?: TraceContext, options: BindOptions = {}): Promise<BindOutcome> {
    if (this.#running.has(instance.serviceId)) return { status: 'binding' };
    this.#running.add(instance.serviceId);
    const hop = trace ?? startHop(this.#kit.tracing(), 'binding retry', 'internal', null);
    try {
      const outcome = await this.#attempt(instance, hop, options);
      this.#kit.metrics.bindingAttempts.inc({ outcome: outcome.status === 'failed' ? outcome.error.code : outcome.status });
      return outcome;
    } finally {
      this.#running.delete(instance.serviceId);
      if (hop !== trace) endHop(hop);
    }
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  async #attempt(instance: Instance, trace: TraceContext, options: BindOptions): Promise<BindOutcome> {
    const kit = this.#kit;
    if (!instance.key) return { status: 'failed', error: new SwarmError('not_found', 'instance has no key') };
    const proof = JSON.parse(instance.developerProof) as { payload: ProvisionData; signature: string };
    const registry = kit.registry.registryFor(instance.appId);
    const serviceBinding = {
      service_id: instance.serviceId,
      service_type: kit.config.serviceType,
      public_key: instance.key.publicKey,
      endpoint_url: endpointUrl(kit, instance.serviceId),
      // A fresh nonce per attempt: the registry answers a repeated proof idempotently.
      timestamp: nowSeconds(),
      nonce: newNonce(),
    };
    const request = {
      version: PROTOCOL_VERSION,
      developer_proof: proof,
      service_binding: serviceBinding,
      binding_signature: sign('binding', { developer_proof: proof, service_binding: serviceBinding }, kit.providerKey.privateKey),
    };
    let answer: { status: number; body: unknown };
    try {
      answer = await postJson(`${registry.baseUrl}/v1/bindings`, request, { timeoutMs: 5000, trace });
    } catch {
      return this.#retryLater(instance);
    }
    if (answer.status === 200 || answer.status === 201) {
      try {
        const bound = parseMessage(BindingAnswer, answer.body);
        if (bound.binding.service_id !== instance.serviceId || bound.binding.app_id !== instance.appId) {
          throw new SwarmError('invalid_request', 'registry answered with another binding');
        }
        // The context (verified under the trusted registry key) and the instance's activation
        // are one commit: an instance is never active without the context it serves under.
        await kit.contexts.accept(
          instance,
          new ParsedContext({ operational_context: bound.operational_context, context_signature: bound.context_signature }),
          {
            fresh: options.fresh === true && instance.attempts === 0,
            alongside: (trx) =>
              kit.instances.update(instance.serviceId, { status: 'active', boundAt: bound.binding.bound_at, nextAttemptAt: 0 }, trx),
          },
        );
        kit.instances.forget(instance.serviceId);
        await kit.bound.record(instance, registry.authority);
        return { status: 'active', boundAt: bound.binding.bound_at };
      } catch (cause) {
        // The registry holds the binding now: if our own storage failed, retry (it answers the
        // same proof and service_id again with 200) rather than wipe an instance it lists.
        if (!(cause instanceof SwarmError)) return this.#retryLater(instance);
        return this.#fail(instance, cause);
      }
    }
    const successor = migratedSuccessor(answer.status, answer.body);
    if (successor !== undefined) {
      // The app moved: bind at its successor instead (a successor not trusted here refuses the instance).
      try {
        await kit.registry.follow(instance.appId, successor);
      } catch (cause) {
        return cause instanceof SwarmError ? this.#fail(instance, cause) : this.#retryLater(instance);
      }
      return this.#retryLater(instance);
    }
    const error = errorFromBody(answer.body);
    if (answer.status >= 500 || !error || error.code === 'registry_unavailable') return this.#retryLater(instance);
    return this.#fail(instance, error);
  }

  async #retryLater(instance: Instance): Promise<BindOutcome> {
    const kit = this.#kit;
    const attempts = instance.attempts + 1;
    const delay = Math.min(kit.config.bindingRetryMaxMs, kit.config.bindingRetryInitialMs * 2 ** Math.min(attempts - 1, 30));
    const next = Date.now() + Math.round(delay * (0.8 + Math.random() * 0.4));
    // Scheduled first: storage that is down too must not drop the retry.
    this.#schedule({ ...instance, attempts, nextAttemptAt: next });
    await kit.instances.update(instance.serviceId, { attempts, nextAttemptAt: next }).catch(() => {});
    return { status: 'binding' };
  }

  async #fail(instance: Instance, error: SwarmError): Promise<BindOutcome> {
    const kit = this.#kit;
    await kit.domain.wipe(instance.info).catch(() => {});
    await kit.instances.update(instance.serviceId, {
      status: 'failed',
      errorCode: error.code,
      errorMessage: error.message.slice(0, 500),
      instanceKey: null,
      pendingKey: null,
      nextAttemptAt: 0,
    });
    await kit.contexts.remove(instance.serviceId);
    return { status: 'failed', error };
  }

  #schedule(instance: Instance): void {
    if (this.#closed) return;
    clearTimeout(this.#timers.get(instance.serviceId));
    const timer = setTimeout(
      () => {
        this.#timers.delete(instance.serviceId);
        void this.#kit.instances
          .get(instance.serviceId)
          .then((current) => (current?.status === 'binding' ? this.bind(current) : undefined))
          .catch(() => this.#schedule({ ...instance, nextAttemptAt: Date.now() + this.#kit.config.bindingRetryMaxMs }));
      },
      Math.max(0, instance.nextAttemptAt - Date.now()),
    );
    timer.unref();
    this.#timers.set(instance.serviceId, timer);
  }
}
