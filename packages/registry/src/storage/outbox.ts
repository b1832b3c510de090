import { randomUUID } from 'node:crypto';
import type { Executor } from './schema.js';

export interface OutboxRow {
  id: string;
  appId: string;
  url: string;
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
        data: JSON.stringify(data),
        created_at: now,
        attempts: 0,
        next_attempt_at: now * 1000,
        delivered_at: null,
        last_error: null,
      })),
    )
    .execute();
}

/** Undelivered rows due now; rows older than `createdSince` (seconds) are left for an operator to look at. */
export async function dueBroadcasts(db: Executor, nowMs: number, createdSince: number, limit: number): Promise<OutboxRow[]> {
  const rows = await db
    .selectFrom('broadcast_outbox')
    .select(['id', 'app_id', 'url', 'data', 'attempts', 'next_attempt_at'])
    .where('delivered_at', 'is', null)
    .where('next_attempt_at', '<=', nowMs)
    .where('created_at', '>=', createdSince)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    appId: row.app_id,
    url: row.url,
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

export async function pendingBroadcastCount(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('broadcast_outbox')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('delivered_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Forgets delivered rows older than `before` (seconds). */
export async function purgeDelivered(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('broadcast_outbox').where('delivered_at', 'is not', null).where('delivered_at', '<', before).execute();
}
