import {
  type IdentityRecoveryData,
  type MasterKeyRotationData,
  type NamespaceClaimData,
  NamespaceRecord,
  type SigningKey,
  sign,
  signEnvelope,
} from '@swarm/protocol';
import { type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

export interface ClaimNamespaceInput {
  namespace: string;
  master: SigningKey;
  /** Public keys (`ed25519:…`) of 1–5 Guardian keys; they must differ from the Master key. */
  guardianPublicKeys: string[];
  contactEmail?: string;
  metadata?: NamespaceClaimData['metadata'];
  /** Admission token, for a registry that does not admit everyone. */
  admissionToken?: string;
}

/**
 * Claims a namespace with a self-signed Master key (SPEC §4.1).
 *
 * @example
 * const master = await loadKey('master.pem');
 * await claimNamespace({ registry: 'http://127.0.0.1:7400' }, { namespace: 'alice', master, guardianPublicKeys: [guardian.publicKey] });
 */
export async function claimNamespace(options: ClientOptions, input: ClaimNamespaceInput): Promise<NamespaceRecord> {
  const data: NamespaceClaimData = {
    public_key: input.master.publicKey,
    guardian_public_keys: input.guardianPublicKeys,
    namespace_claim: input.namespace,
    contact_email: input.contactEmail ?? `${input.namespace}@swarm.local`,
    ...(input.metadata ? { metadata: input.metadata } : {}),
    ...freshness(),
  };
  const headers = input.admissionToken ? { authorization: `Bearer ${input.admissionToken}` } : undefined;
  const envelope = signEnvelope('namespace', data, input.master.privateKey);
  const url = registryUrl(options, '/v1/namespaces');
  const { body } = await call('POST', url, NamespaceRecord, envelope, headers ? { headers } : {});
  return body;
}

export async function getNamespace(options: ClientOptions, namespace: string): Promise<NamespaceRecord> {
  const { body } = await call('GET', registryUrl(options, `/v1/namespaces/${encodeURIComponent(namespace)}`), NamespaceRecord);
  return body;
}

/** Planned Master key rotation (SPEC §10.3): the old key signs, the new key countersigns. */
export async function rotateMasterKey(
  options: ClientOptions,
  input: { namespace: string; oldKey: SigningKey; newKey: SigningKey },
): Promise<NamespaceRecord> {
  const data: MasterKeyRotationData = {
    namespace: input.namespace,
    new_master_public_key: input.newKey.publicKey,
    ...freshness(),
    context: 'master_key_rotation',
  };
  const envelope = {
    ...signEnvelope('master_key_rotation', data, input.oldKey.privateKey),
    new_key_signature: sign('master_key_rotation', data, input.newKey.privateKey),
  };
  const path = `/v1/namespaces/${encodeURIComponent(input.namespace)}/master-key`;
  return (await call('POST', registryUrl(options, path), NamespaceRecord, envelope)).body;
}

/** Identity recovery with a Guardian key when the Master key is lost (SPEC §10.3). */
export async function recover(
  options: ClientOptions,
  input: { namespace: string; guardian: SigningKey; newKey: SigningKey },
): Promise<NamespaceRecord> {
  const data: IdentityRecoveryData = {
    namespace: input.namespace,
    new_master_public_key: input.newKey.publicKey,
    ...freshness(),
    context: 'identity_recovery',
  };
  const envelope = signEnvelope('identity_recovery', data, input.guardian.privateKey);
  const path = `/v1/namespaces/${encodeURIComponent(input.namespace)}/recovery`;
  return (await call('POST', registryUrl(options, path), NamespaceRecord, envelope)).body;
}
