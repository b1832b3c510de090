import canonicalize from 'canonicalize';
import { SwarmError } from './errors.js';

/** The 16 signing purposes of SPEC §3. A signature made for one never verifies for another. */
export const PURPOSES = [
  'namespace',
  'app',
  'provision',
  'delegate_authority',
  'backbone_update',
  'master_key_rotation',
  'identity_recovery',
  'offer',
  'binding',
  'operational_context',
  'service_call',
  'key_rotation',
  'permanent_termination',
  'termination_receipt',
  'decommission',
  'broadcast',
] as const;

/**
 * Purposes this project adds beyond SPEC (docs/PROTOCOL.md): an owner's signed read of its
 * usage and logs, an owner's request for a user token from the Auth Provider, an owner's
 * rotation of the app's Auth key at the Auth Provider, and an owner's management of the app's
 * users and sign-up policy there (`data.context` names the action), an owner's retry of the
 * app's dead-letter broadcasts at the registry, a registry's signed export of an app (`export`,
 * named by SPEC §15), and a provider's batch of heartbeats for its instances, signed by its
 * catalog key.
 */
export const EXTENSION_PURPOSES = [
  'owner_query',
  'token_request',
  'auth_key_rotation',
  'auth_admin',
  'broadcast_retry',
  'export',
  'provider_heartbeat',
  // Day two (docs/PROTOCOL.md): an owner's change of a running instance, the provider's notice
  // of it to the registry, and an owner's retirement of an app.
  'instance_update',
  'update_binding',
  'app_retirement',
  // Delegated keys: the Master key's grant and its revocation.
  'delegation',
  'delegation_revocation',
  // Moving an instance with its data: the owner's permission, and the new provider's page requests.
  'instance_move',
  'transfer_page',
  // Registry migration (docs/PROTOCOL.md): SPEC §15 names `registry_migration`; the rest are ours.
  'registry_migration',
  'migration_successor',
  'migration_control',
  'migration_veto',
  'service_rebind',
  'migration_activation',
  // Apps and namespaces change: an owner's change of an app's display data, and a new Guardian
  // set (Master key, co-signed by a current Guardian).
  'app_update',
  'guardian_change',
] as const;

export type Purpose = (typeof PURPOSES)[number] | (typeof EXTENSION_PURPOSES)[number];

export const PROTOCOL_VERSION = '1.0';

const PREFIX = 'swarm/1.0/';

/** RFC 8785 (JCS) text of a JSON value. */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    // canonicalize refuses lone surrogates and values JSON cannot carry.
    throw new SwarmError('invalid_request', 'value has no canonical JSON form', { cause });
  }
  if (text === undefined) throw new SwarmError('invalid_request', 'value has no canonical JSON form');
  return text;
}

/** The exact bytes a signature covers: `swarm/1.0/<purpose>\n` + JCS(object), UTF-8. */
export function signedBytes(purpose: Purpose, object: unknown): Buffer {
  return Buffer.from(`${PREFIX}${purpose}\n${canonicalJson(object)}`, 'utf8');
}
