import {
  type DataOf,
  type DelegableAction,
  type MasterKeyRecord,
  type Purpose,
  type ReplayStore,
  requireAppId,
  type SignedCheck,
  type SignedData,
  type SignedEnvelopeSchema,
  SwarmError,
  type VerifiedMessage,
  verifySigned,
} from '@swarm/protocol';
import type { TraceContext } from './observability/trace-context.js';
import type { RegistryClient } from './registry-client.js';

export type OwnerEnvelopeSchema = SignedEnvelopeSchema<SignedData & { app_id: string }>;

export interface OwnerSignedCheck<S extends OwnerEnvelopeSchema, E> extends Pick<SignedCheck<S, OwnerSigner, E>, 'expect' | 'now'> {
  purpose: Purpose;
  /** Finds the app's registry in the trust table and its Master key. */
  registry: RegistryClient;
  replay: ReplayStore;
  freshnessSeconds: number;
  /**
   * The delegable action this request is (docs/PROTOCOL.md, "Delegated keys"): when set, a key
   * the Master key granted this action on the app may sign instead of the Master key.
   */
  action?: DelegableAction;
  /** The request's trace: the Master-key fetch joins it. */
  trace?: TraceContext | undefined;
}

/** The app owner's key a request verified under (SPEC §5.1: fetched from the app's registry). */
export interface OwnerSigner {
  publicKey: string;
  master: MasterKeyRecord;
  /** Set when a delegated key signed: its grant's id. */
  delegationId?: string;
}

/**
 * A request signed by the app's owner, checked in SPEC §5.1's order: body rules → version →
 * `data.app_id` well formed → `expect` (provider, tier, path…) → timestamp → the app's registry
 * in the trust table (`unknown_registry`, no network request) → its Master key (`unknown_app`,
 * `app_suspended`) → signature (`invalid_signature`, retried once with a fresh key) → nonce.
 */
export function verifyOwnerSigned<S extends OwnerEnvelopeSchema, E = void>(
  schema: S,
  body: unknown,
  check: OwnerSignedCheck<S, E>,
): Promise<VerifiedMessage<DataOf<S>, OwnerSigner, E>> {
  const { registry } = check;
  return verifySigned<S, OwnerSigner, E>(schema, body, {
    purpose: check.purpose,
    freshnessSeconds: check.freshnessSeconds,
    replay: check.replay,
    now: check.now,
    expect: async (data) => {
      requireAppId(data.app_id);
      return (await check.expect?.(data)) as E;
    },
    signer: async (data, signature, purpose): Promise<OwnerSigner> => {
      registry.registryFor(data.app_id);
      try {
        const master = await registry.verifyMasterSigned(data.app_id, purpose, data, signature, check.trace);
        return { publicKey: master.public_key, master };
      } catch (error) {
        if (!check.action || !(error instanceof SwarmError) || error.code !== 'invalid_signature') throw error;
        // The Master key did not sign it: a key it delegated this action to may have.
        const grant = await registry.verifyDelegateSigned(data.app_id, check.action, purpose, data, signature);
        return { publicKey: grant.public_key, master: await registry.masterKey(data.app_id), delegationId: grant.delegation_id };
      }
    },
  });
}
