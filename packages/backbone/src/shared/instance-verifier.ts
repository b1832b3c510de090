import { nowSeconds, type ServiceRecord, SwarmError, verify } from '@swarm/protocol';
import type { RegistryClient } from '@swarm/runtime';
import type { Revocations } from './revocations.js';

const REFETCH_INTERVAL_MS = 1000;

/**
 * Decides whether a report really comes from an instance bound to the app (SPEC §9.3): not
 * revoked here, listed in the registry's Service DNS, and signed by the key listed there.
 */
export class InstanceVerifier {
  readonly #registry: RegistryClient;
  readonly #revocations: Revocations;
  readonly #refreshedAt = new Map<string, number>();

  constructor(registry: RegistryClient, revocations: Revocations) {
    this.#registry = registry;
    this.#revocations = revocations;
  }

  /**
   * The instance key that signed the report. Anything else is `403 forbidden` (SPEC §9.3: the
   * instance must be bound to the app with that key), whether it is unbound or the key is not its.
   */
  async verifyReport(appId: string, serviceId: string, data: unknown, signature: string): Promise<string> {
    if (await this.#revocations.isRevoked(appId, serviceId)) throw notBound(serviceId);
    // A just-bound instance may be missing from a cached answer: look once more before refusing.
    const record = (await this.#lookup(appId, serviceId)) ?? (await this.#refetch(appId, serviceId));
    if (!record) throw notBound(serviceId);
    const signer = signingKey(record, data, signature);
    if (signer) return signer;
    // The instance may have rotated its key since the cached answer.
    const fresh = await this.#refetch(appId, serviceId);
    if (!fresh) throw notBound(serviceId);
    const freshSigner = signingKey(fresh, data, signature);
    if (freshSigner) return freshSigner;
    throw new SwarmError('forbidden', `report is not signed by the key instance ${serviceId} is bound with`);
  }

  /**
   * A fresh Service DNS answer, at most once per second per app: a flood of bogus reports must
   * not turn into a flood of registry requests. Within the second the cached answer stands.
   */
  async #refetch(appId: string, serviceId: string): Promise<ServiceRecord | null> {
    const now = Date.now();
    const fresh = now - (this.#refreshedAt.get(appId) ?? 0) >= REFETCH_INTERVAL_MS;
    if (fresh) {
      if (this.#refreshedAt.size >= 10_000) this.#refreshedAt.clear();
      this.#refreshedAt.set(appId, now);
    }
    return this.#lookup(appId, serviceId, fresh);
  }

  async #lookup(appId: string, serviceId: string, fresh = false): Promise<ServiceRecord | null> {
    try {
      return await this.#registry.instance(appId, serviceId, { fresh });
    } catch (error) {
      // No such app at the registry: then nothing is bound to it either.
      if (error instanceof SwarmError && error.code === 'unknown_app') return null;
      throw error;
    }
  }
}

function signingKey(record: ServiceRecord, data: unknown, signature: string): string | null {
  if (record.status !== 'active') return null;
  if (verify('service_call', data, signature, record.public_key)) return record.public_key;
  const previous = record.previous_public_key;
  const expiresAt = record.previous_key_expires_at;
  if (typeof previous === 'string' && typeof expiresAt === 'number' && expiresAt > nowSeconds()) {
    if (verify('service_call', data, signature, previous)) return previous;
  }
  return null;
}

function notBound(serviceId: string): SwarmError {
  return new SwarmError('forbidden', `instance ${serviceId} is not bound to this app`);
}
