import { nowSeconds, SwarmError, verify } from '@swarm/protocol';
import type { RegistryClient, ServiceRecord } from '@swarm/runtime';
import type { Revocations } from './revocations.js';

/** A Service DNS record may carry the key a rotation replaced, valid until its grace period ends. */
type RecordWithPrevious = ServiceRecord & { previous_public_key?: unknown; previous_key_expires_at?: unknown };

/**
 * Decides whether a report really comes from an instance bound to the app (SPEC §9.3): not
 * revoked here, listed in the registry's Service DNS, and signed by the key listed there.
 */
export class InstanceVerifier {
  readonly #registry: RegistryClient;
  readonly #revocations: Revocations;

  constructor(registry: RegistryClient, revocations: Revocations) {
    this.#registry = registry;
    this.#revocations = revocations;
  }

  /** The instance key that signed the report; `forbidden` or `invalid_signature` otherwise. */
  async verifyReport(appId: string, serviceId: string, data: unknown, signature: string): Promise<string> {
    if (await this.#revocations.isRevoked(appId, serviceId)) throw notBound(serviceId);
    // A just-bound instance may be missing from a cached answer: look once more before refusing.
    const record = (await this.#lookup(appId, serviceId)) ?? (await this.#lookup(appId, serviceId, true));
    if (!record) throw notBound(serviceId);
    const signer = signingKey(record, data, signature);
    if (signer) return signer;
    // The instance may have rotated its key since the cached answer.
    const fresh = await this.#lookup(appId, serviceId, true);
    if (!fresh) throw notBound(serviceId);
    const freshSigner = signingKey(fresh, data, signature);
    if (freshSigner) return freshSigner;
    throw new SwarmError('invalid_signature', 'report is not signed by the instance key the registry lists');
  }

  async #lookup(appId: string, serviceId: string, fresh = false): Promise<RecordWithPrevious | null> {
    try {
      return await this.#registry.instance(appId, serviceId, { fresh });
    } catch (error) {
      // No such app at the registry: then nothing is bound to it either.
      if (error instanceof SwarmError && error.code === 'unknown_app') return null;
      throw error;
    }
  }
}

function signingKey(record: RecordWithPrevious, data: unknown, signature: string): string | null {
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
