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

/**
 * RFC 8785 (JCS) text of a JSON value. JCS writes strings and numbers as JSON.stringify does and
 * orders keys by UTF-16 code units: plain data is put in that order (objects copied only where
 * their keys are not in it already, as schemas declare fields) and written by the native
 * JSON.stringify, several times faster on a provider's batch of 500 beats. Anything else
 * (a Date, a toJSON, undefined, NaN, a lone surrogate) goes through the library.
 */
export function canonicalJson(value: unknown): string {
  const ordered = inCanonicalOrder(value);
  if (ordered !== NOT_PLAIN) return JSON.stringify(ordered);
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

const NOT_PLAIN = Symbol('not plain JSON');

/**
 * `value` with every object's own keys in code-unit order (the same object where they are), for
 * JSON.stringify to write exactly as JCS does; NOT_PLAIN for anything but plain objects, arrays,
 * well-formed strings, finite numbers, booleans and null.
 */
function inCanonicalOrder(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      return value.isWellFormed() ? value : NOT_PLAIN;
    case 'number':
      return Number.isFinite(value) ? value : NOT_PLAIN;
    case 'boolean':
      return value;
    case 'object': {
      if (value === null) return value;
      if (Array.isArray(value)) {
        let copy: unknown[] | null = null;
        for (let i = 0; i < value.length; i++) {
          const item = inCanonicalOrder(value[i]);
          if (item === NOT_PLAIN) return NOT_PLAIN;
          if (item !== value[i]) {
            copy ??= value.slice();
            copy[i] = item;
          }
        }
        return copy ?? value;
      }
      const prototype = Object.getPrototypeOf(value);
      if ((prototype !== Object.prototype && prototype !== null) || 'toJSON' in value) return NOT_PLAIN;
      const keys = Object.keys(value);
      let inOrder = true;
      let changed = false;
      const items: unknown[] = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        if (!key.isWellFormed()) return NOT_PLAIN;
        if (i > 0 && !((keys[i - 1] as string) < key)) inOrder = false;
        const original = (value as Record<string, unknown>)[key];
        const item = inCanonicalOrder(original);
        if (item === NOT_PLAIN) return NOT_PLAIN;
        items[i] = item;
        if (item !== original) changed = true;
      }
      if (inOrder && !changed) return value;
      const order = keys.map((_, i) => i);
      if (!inOrder) order.sort((a, b) => ((keys[a] as string) < (keys[b] as string) ? -1 : 1));
      // fromEntries makes own keys, `__proto__` included, in this order; but integer-like keys
      // always come first in ascending value, whatever the order ("9" before "10"): checked.
      const copy = Object.fromEntries(order.map((i) => [keys[i], items[i]]));
      const written = Object.keys(copy);
      for (let i = 0; i < written.length; i++) if (written[i] !== keys[order[i] as number]) return NOT_PLAIN;
      return copy;
    }
    default:
      return NOT_PLAIN;
  }
}

/** The exact bytes a signature covers: `swarm/1.0/<purpose>\n` + JCS(object), UTF-8. */
export function signedBytes(purpose: Purpose, object: unknown): Buffer {
  return Buffer.from(`${PREFIX}${purpose}\n${canonicalJson(object)}`, 'utf8');
}
