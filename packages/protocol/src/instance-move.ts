import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical.js';
import { AppIdString, Nonce, ProviderName, ServiceId, SignatureHex, Timestamp } from './schemas.js';

/*
 * Moving an instance to another provider with its data (docs/DATA-TRANSFER.md). Strict like
 * every request: an unknown field is `invalid_request`.
 */

/** The versioned name of the export format every page carries (docs/DATA-TRANSFER.md). */
export const DATA_FORMAT = 'swarm-data/1';

/**
 * What the owner signs (`instance_move`, Master key or a key granted `update` on the app): the
 * old instance (`service_id` at `source_provider`) may hand its data to `new_service_id` at
 * `target_provider`. Sent to the new provider, `POST {provision_url}/{new_service_id}/import`,
 * which shows it to the old provider with every page request.
 */
export const InstanceMoveData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  source_provider: ProviderName,
  target_provider: ProviderName,
  new_service_id: ServiceId,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('instance_move'),
});
export const InstanceMoveRequest = z.strictObject({ version: z.string().max(16), data: InstanceMoveData, signature: SignatureHex });

/** A move is named by the owner's signed payload (it carries the owner's nonce); both providers derive the same id. */
export const MoveId = z.string().regex(/^[0-9a-f]{32}$/);
export function moveIdOf(payload: InstanceMoveData): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex').slice(0, 32);
}

/**
 * One page request of a transfer (`transfer_page`, signed by the new provider's catalog key):
 * `POST {source provision_url}/{service_id}/export`. `cursor` is the old provider's own,
 * opaque, from the previous page (null: the first page).
 */
export const TransferPageData = z.strictObject({
  move_id: MoveId,
  provider: ProviderName,
  authorization: z.strictObject({ payload: InstanceMoveData, signature: SignatureHex }),
  cursor: z.string().min(1).max(4096).nullable(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const TransferPageRequest = z.strictObject({ version: z.string().max(16), data: TransferPageData, signature: SignatureHex });

export type InstanceMoveData = z.infer<typeof InstanceMoveData>;
export type InstanceMoveRequest = z.infer<typeof InstanceMoveRequest>;
export type TransferPageData = z.infer<typeof TransferPageData>;
export type TransferPageRequest = z.infer<typeof TransferPageRequest>;
