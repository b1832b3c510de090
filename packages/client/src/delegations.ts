import {
  type DelegableAction,
  type DelegationData,
  DelegationRecord,
  type DelegationRevocationData,
  DelegationsAnswer,
  type SigningKey,
  SwarmError,
  signEnvelope,
} from '@swarm/protocol';
import { type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

const namespacePath = (namespace: string) => `/v1/namespaces/${encodeURIComponent(namespace)}/delegations`;

export interface DelegateInput {
  namespace: string;
  master: SigningKey;
  /** The delegated key's public half (`ed25519:…`). */
  publicKey: string;
  apps: string[];
  actions: DelegableAction[];
  /** Unix seconds. */
  expiresAt: number;
}

/**
 * Grants another key a set of actions on listed apps until `expiresAt`, signed with the Master
 * key (docs/PROTOCOL.md, "Delegated keys"). That key then signs those requests like the owner.
 *
 * @example
 * await delegate(options, { namespace: 'alice', master, publicKey: ci.publicKey, apps: [appId],
 *   actions: ['provision'], expiresAt: nowSeconds() + 3600 });
 */
export async function delegate(options: ClientOptions, input: DelegateInput): Promise<DelegationRecord> {
  const data: DelegationData = {
    namespace: input.namespace,
    public_key: input.publicKey,
    apps: input.apps,
    actions: input.actions,
    expires_at: input.expiresAt,
    ...freshness(),
    context: 'delegation',
  };
  const envelope = signEnvelope('delegation', data, input.master.privateKey);
  return (await call('POST', registryUrl(options, namespacePath(input.namespace)), DelegationRecord, envelope)).body;
}

/** The namespace's delegations: in force, expired and revoked (for 30 days), newest first. */
export async function delegations(options: ClientOptions, namespace: string): Promise<DelegationRecord[]> {
  return (await call('GET', registryUrl(options, namespacePath(namespace)), DelegationsAnswer)).body.delegations;
}

/** Revokes a delegation at once: requests its key signs are refused from the next one on. */
export async function revokeDelegation(
  options: ClientOptions,
  input: { namespace: string; master: SigningKey; delegationId: string },
): Promise<DelegationRecord> {
  const data: DelegationRevocationData = {
    namespace: input.namespace,
    delegation_id: input.delegationId,
    ...freshness(),
    context: 'delegation_revocation',
  };
  const envelope = signEnvelope('delegation_revocation', data, input.master.privateKey);
  const url = registryUrl(options, `${namespacePath(input.namespace)}/${encodeURIComponent(input.delegationId)}/revoke`);
  return (await call('POST', url, DelegationRecord, envelope)).body;
}

/** `90s`, `30m`, `12h`, `7d` from now, or an ISO 8601 time: Unix seconds. */
export function parseExpiry(text: string, now = Date.now()): number {
  const relative = /^(\d{1,9})([smhd])$/.exec(text.trim());
  if (relative) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return Math.floor(now / 1000) + Number(relative[1]) * unit;
  }
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new SwarmError('invalid_request', `--expires ${text} is neither a duration (30m, 12h, 7d) nor a date`);
  return Math.floor(at / 1000);
}
