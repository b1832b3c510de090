import { z } from 'zod';
import { AppIdString, Namespace, Nonce, PublicKey, SignatureHex, Timestamp } from './schemas.js';

/*
 * Delegated keys (docs/PROTOCOL.md, "Delegated keys"): the Master key grants another Ed25519
 * key a listed set of actions on listed apps until an expiry. Only the Master key grants and
 * revokes; a delegated key never rotates or recovers the Master key, nor delegates further.
 */

/** What a delegated key may be granted, and the owner-signed requests each one covers. */
export const DELEGABLE_ACTIONS = ['provision', 'update', 'decommission', 'backbone_update', 'read_usage', 'read_logs'] as const;
export type DelegableAction = (typeof DELEGABLE_ACTIONS)[number];
export const DelegableActionName = z.enum(DELEGABLE_ACTIONS);

/** Apps one delegation may list, and the longest grant (90 days, like a CI token's usual maximum). */
export const DELEGATION_MAX_APPS = 20;
export const DELEGATION_MAX_SECONDS = 90 * 86400;

export const DelegationData = z.strictObject({
  namespace: Namespace,
  public_key: PublicKey,
  apps: z.array(AppIdString).min(1).max(DELEGATION_MAX_APPS),
  actions: z.array(DelegableActionName).min(1).max(DELEGABLE_ACTIONS.length),
  expires_at: Timestamp,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('delegation'),
});
export const Delegation = z.strictObject({ version: z.string().max(16), data: DelegationData, signature: SignatureHex });

export const DelegationId = z.string().regex(/^[0-9a-f]{32}$/, 'delegation_id must be 32 lowercase hex characters');

export const DelegationRevocationData = z.strictObject({
  namespace: Namespace,
  delegation_id: DelegationId,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('delegation_revocation'),
});
export const DelegationRevocation = z.strictObject({
  version: z.string().max(16),
  data: DelegationRevocationData,
  signature: SignatureHex,
});

export type DelegationData = z.infer<typeof DelegationData>;
export type DelegationRevocationData = z.infer<typeof DelegationRevocationData>;
