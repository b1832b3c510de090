import { randomUUID } from 'node:crypto';
import { receiverOf } from '@swarm/runtime';
import type { Executor } from './schema.js';

export interface OutboxRow {
  id: string;
  appId: string;
  url: string;
  receiver: string;
  data: Record<string, unknown>;
  attempts: number;
  nextAttemptAt: number;
}

/** Queues one broadcast per receiver URL, inside the transaction that made the change. */
export async function enqueueBroadcast(
  db: Executor,
  appId: string,
  urls: string[],
  data: Record<string, unknown>,
  now: number,
): Promise<void> {
  const unique = [...new Set(urls)];
  if (unique.length === 0) return;
  await db
    .insertInto('broadcast_outbox')
    .values(
      unique.map((url) => ({
        id: randomUUID(),
        app_id: appId,
        url,
        receiver: receiverOf(url) ?? '',
        data: JSON.stringify(data),
        created_at: now,
        attempts: 0,
        next_attempt_at: now * 1000,
        delivered_at: null,
        last_error: null,
        dead_at: null,
      })),
    )
    .execute();
}

/** Rows neither delivered nor dead: what a change adds to, and what the cap per app counts. */
export async function pendingBroadcastsOfApp(db: Executor, appId: string): Promise<number> {
  const row = await db
    .selectFrom('broadcast_outbox')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('app_id', '=', appId)
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Receivers with rows due now, the longest waiting first. */
export async function dueReceivers(db: Executor, nowMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('broadcast_outbox')
    .select((eb) => ['receiver', eb.fn.min('next_attempt_at').as('due')])
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .where('next_attempt_at', '<=', nowMs)
    .groupBy('receiver')
    .orderBy('due')
    .limit(limit)
    .execute();
  return rows.map((row) => row.receiver);
}

/** Moves a receiver's pending rows to `untilMs` (its circuit breaker's reopening). */
export async function deferReceiver(db: Executor, receiver: string, untilMs: number): Promise<void> {
  await db
    .updateTable('broadcast_outbox')
    .set({ next_attempt_at: untilMs })
    .where('receiver', '=', receiver)
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .where('next_attempt_at', '<', untilMs)
    .execute();
}

/** One receiver's rows due now, oldest first. */
export async function dueBroadcastsOf(db: Executor, receiver: string, nowMs: number, limit: number): Promise<OutboxRow[]> {
  const rows = await db
    .selectFrom('broadcast_outbox')
    .select(['id', 'app_id', 'url', 'receiver', 'data', 'attempts', 'next_attempt_at'])
    .where('receiver', '=', receiver)
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .where('next_attempt_at', '<=', nowMs)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    appId: row.app_id,
    url: row.url,
    receiver: row.receiver,
    data: JSON.parse(row.data) as Record<string, unknown>,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
  }));
}

/** Takes a lease on a due row; false when another replica took it first. */
export async function claimBroadcast(db: Executor, row: OutboxRow, leaseUntilMs: number): Promise<boolean> {
  const result = await db
    .updateTable('broadcast_outbox')
    .set({ next_attempt_at: leaseUntilMs })
    .where('id', '=', row.id)
    .where('next_attempt_at', '=', row.nextAttemptAt)
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markDelivered(db: Executor, id: string, now: number): Promise<void> {
  await db
    .updateTable('broadcast_outbox')
    .set((eb) => ({ delivered_at: now, attempts: eb('attempts', '+', 1), last_error: null }))
    .where('id', '=', id)
    .execute();
}

export async function markFailed(db: Executor, id: string, nextAttemptAtMs: number, error: string): Promise<void> {
  await db
    .updateTable('broadcast_outbox')
    .set((eb) => ({ next_attempt_at: nextAttemptAtMs, attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
    .where('id', '=', id)
    .execute();
}

/** Moves a row to the dead letters: it is kept for the owner to see and retry. */
export async function markDead(db: Executor, id: string, now: number, error: string): Promise<void> {
  await db
    .updateTable('broadcast_outbox')
    .set((eb) => ({ dead_at: now, attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
    .where('id', '=', id)
    .where('delivered_at', 'is', null)
    .execute();
}

/** Rows still undelivered since before `createdBefore` (seconds) failed too long: dead letters. */
export async function expireUndelivered(db: Executor, createdBefore: number, now: number): Promise<void> {
  await db
    .updateTable('broadcast_outbox')
    .set((eb) => ({
      dead_at: now,
      last_error: eb.fn.coalesce('last_error', eb.val('undelivered for too long')),
    }))
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .where('created_at', '<', createdBefore)
    .execute();
}

export async function pendingBroadcastCount(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('broadcast_outbox')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Forgets delivered rows older than `before` (seconds). */
export async function purgeDelivered(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('broadcast_outbox').where('delivered_at', 'is not', null).where('delivered_at', '<', before).execute();
}

/** Forgets dead letters nobody retried since `before` (seconds). */
export async function purgeDead(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('broadcast_outbox').where('dead_at', 'is not', null).where('dead_at', '<', before).execute();
}

/** One outbox row as its owner sees it (`GET /v1/apps/{app_id}/broadcasts`): declared in protocol. */
export type { BroadcastState, BroadcastView } from '@swarm/protocol';

import type { BroadcastState, BroadcastView } from '@swarm/protocol';

/**
 * A page of an app's rows in one state, oldest first. The cursor is `<created_at>.<id>` of the
 * last row of the page before.
 */
export async function listBroadcasts(
  db: Executor,
  appId: string,
  state: BroadcastState,
  after: { createdAt: number; id: string } | null,
  limit: number,
): Promise<BroadcastView[]> {
  let query = db
    .selectFrom('broadcast_outbox')
    .select(['id', 'url', 'data', 'attempts', 'created_at', 'next_attempt_at', 'delivered_at', 'dead_at', 'last_error'])
    .where('app_id', '=', appId);
  if (state === 'delivered') query = query.where('delivered_at', 'is not', null);
  else {
    query = query.where('delivered_at', 'is', null).where('dead_at', state === 'dead' ? 'is not' : 'is', null);
  }
  if (after) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '>', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)])]),
    );
  }
  const rows = await query.orderBy('created_at').orderBy('id').limit(limit).execute();
  return rows.map((row) => ({
    id: row.id,
    url: row.url,
    event: (JSON.parse(row.data) as { event?: unknown }).event ?? null,
    state,
    attempts: Number(row.attempts),
    created_at: Number(row.created_at),
    next_attempt_at: state === 'pending' ? Math.ceil(Number(row.next_attempt_at) / 1000) : null,
    delivered_at: row.delivered_at === null ? null : Number(row.delivered_at),
    dead_at: row.dead_at === null ? null : Number(row.dead_at),
    last_error: row.last_error,
  }));
}

/**
 * Puts an app's dead letters (all, or those in `ids`) back in the queue, at most `max` of them:
 * attempts start over and so does the time they may stay undelivered. Answers how many moved.
 */
export async function retryDead(db: Executor, appId: string, ids: string[] | null, now: number, max: number): Promise<number> {
  if (max <= 0) return 0;
  let pick = db
    .selectFrom('broadcast_outbox')
    .select('id')
    .where('app_id', '=', appId)
    .where('delivered_at', 'is', null)
    .where('dead_at', 'is not', null);
  if (ids) pick = pick.where('id', 'in', ids.length > 0 ? ids : ['']);
  const chosen = (await pick.orderBy('created_at').orderBy('id').limit(max).execute()).map((row) => row.id);
  if (chosen.length === 0) return 0;
  const result = await db
    .updateTable('broadcast_outbox')
    .set({ dead_at: null, attempts: 0, next_attempt_at: now * 1000, created_at: now })
    .where('id', 'in', chosen)
    .where('dead_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
