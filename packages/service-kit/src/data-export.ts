import {
  DATA_FORMAT,
  type DataPageAnswer,
  InstanceMoveRequest,
  moveIdOf,
  nowSeconds,
  PROTOCOL_VERSION,
  SwarmError,
  type TransferPageData,
  TransferPageRequest,
  verify,
  verifySigned,
} from '@swarm/protocol';
import { verifyOwnerSigned, withTables } from '@swarm/runtime';
import { MOVE_GRANT_SECONDS, peerOffer, servingInstance, summarize, transferOf } from './data-transfer.js';
import type { Instance } from './instances.js';
import type { Kit } from './kit.js';
import type { KitTables } from './store.js';

/**
 * Serves one page of an instance's data to the provider it moves to
 * (`POST /v1/instances/{service_id}/export`, docs/DATA-TRANSFER.md). Two signatures open it:
 * the new provider's catalog key over the page request (`transfer_page`: fresh, nonce), and
 * the owner's `instance_move` naming this instance, this provider as the source and that
 * provider as the target. The owner's signature is checked like any owner request the first
 * time (fresh, Master or a key granted `update`, nonce) and is then known by its move id for
 * `MOVE_GRANT_SECONDS`, so a transfer that stopped resumes without the owner.
 */
export async function serveDataPage(kit: Kit, serviceId: string, body: unknown): Promise<DataPageAnswer> {
  const transfer = transferOf(kit);
  const { data, expected: instance } = await verifySigned(TransferPageRequest, body, {
    purpose: 'transfer_page',
    freshnessSeconds: kit.config.freshnessSeconds,
    replay: kit.replay,
    expect: async (data): Promise<Instance> => {
      const move = data.authorization.payload;
      if (move.service_id !== serviceId) throw new SwarmError('invalid_request', 'the move names another instance than the URL');
      if (moveIdOf(move) !== data.move_id) throw new SwarmError('invalid_request', 'move_id is not the id of the owner’s move');
      if (move.source_provider !== kit.config.provider) {
        throw new SwarmError('wrong_provider', `this is ${kit.config.provider}, not ${move.source_provider}`);
      }
      if (data.provider !== move.target_provider) {
        throw new SwarmError('forbidden', `the owner moves this instance to ${move.target_provider}, not to ${data.provider}`);
      }
      return servingInstance(kit, serviceId, move.app_id);
    },
    signer: async (data, signature, purpose) => {
      const offer = await peerOffer(kit, data.authorization.payload.app_id, data.provider);
      if (!verify(purpose, data, signature, offer.public_key)) {
        throw new SwarmError('invalid_signature', `the page request is not signed by ${data.provider}'s catalog key`);
      }
      return { publicKey: offer.public_key };
    },
  });
  await requireMoveGrant(kit, data);
  const page = await transfer.exportPage(instance.info, data.cursor, {
    maxItems: kit.config.transferPageItems,
    maxBytes: kit.config.transferPageBytes,
    withData: true,
  });
  kit.metrics.transferPages.inc({ side: 'export' });
  kit.metrics.transferItems.inc({ side: 'export' }, page.items.length);
  const answer: DataPageAnswer = {
    format: DATA_FORMAT,
    service_type: kit.config.serviceType,
    service_id: serviceId,
    items: page.items,
    next_cursor: page.next,
  };
  // The summary is taken when the last page goes out, so a write made meanwhile to a part
  // already sent shows as a mismatch at the new provider instead of going missing.
  if (page.next === null) answer.summary = await summarize(transfer, instance.info);
  return answer;
}

/** The owner's permission for this move: verified once, then known by its id until it expires. */
async function requireMoveGrant(kit: Kit, data: TransferPageData): Promise<void> {
  const db = withTables<KitTables>(kit.database.db);
  const grant = await db.selectFrom('kit_move_grants').selectAll().where('move_id', '=', data.move_id).executeTakeFirst();
  if (grant) {
    // The owner's signature is deterministic (Ed25519): the one verified is the only one there is.
    if (grant.signature !== data.authorization.signature) {
      throw new SwarmError('invalid_signature', 'the owner did not sign this move');
    }
    if (Number(grant.granted_at) + MOVE_GRANT_SECONDS < nowSeconds()) {
      throw new SwarmError('stale_timestamp', `the owner's permission for move ${data.move_id} has expired; sign the move again`);
    }
    return;
  }
  const move = data.authorization.payload;
  await verifyOwnerSigned(
    InstanceMoveRequest,
    { version: PROTOCOL_VERSION, data: move, signature: data.authorization.signature },
    {
      purpose: 'instance_move',
      action: 'update',
      registry: kit.registry,
      replay: kit.replay,
      freshnessSeconds: kit.config.freshnessSeconds,
    },
  );
  // Grants grow with owners' moves: those past their time go as a new one comes.
  await db
    .deleteFrom('kit_move_grants')
    .where('granted_at', '<', nowSeconds() - MOVE_GRANT_SECONDS)
    .execute();
  await db
    .insertInto('kit_move_grants')
    .values({
      move_id: data.move_id,
      service_id: move.service_id,
      app_id: move.app_id,
      target_provider: move.target_provider,
      new_service_id: move.new_service_id,
      signature: data.authorization.signature,
      granted_at: nowSeconds(),
    })
    .onConflict((oc) => oc.column('move_id').doNothing())
    .execute();
}
