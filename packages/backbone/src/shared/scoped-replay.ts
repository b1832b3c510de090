import { type ReplayStore, scopedReplayStore } from '@swarm/protocol';
import { SqlReplayStore } from '@swarm/runtime';
import type { Kysely } from 'kysely';

/**
 * The part's nonces, kept apart from the other parts' when they share one database: the
 * registry sends the same broadcast (same nonce) to auth, billing and logging alike.
 */
export async function openPartReplayStore(db: Kysely<unknown>, part: string): Promise<ReplayStore> {
  const store = await SqlReplayStore.open(db);
  return scopedReplayStore(store, part);
}
