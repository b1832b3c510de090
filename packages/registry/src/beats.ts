import { nowSeconds } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { BindingRow, StoredBeat } from './storage/bindings.js';
import { recordHeartbeat } from './storage/bindings.js';

/**
 * One verified beat of an active binding (per instance): memory, and the row when health
 * changes. `generation`: the liveness generation taken before the binding was read (taken
 * after it, a change heard during the read would go unnoticed by `Liveness.renew`).
 */
export async function takeBeat(ctx: RegistryContext, binding: BindingRow, status: string, generation: number): Promise<boolean> {
  const [taken] = await takeBeats(ctx, [{ binding, status }], nowSeconds(), generation);
  return taken === true;
}

interface RowWrite {
  binding: BindingRow;
  at: number;
  status: string;
  transition: boolean;
  settle: (written: boolean) => void;
  fail: (error: unknown) => void;
}

/**
 * Verified beats of active bindings (a provider's batch, or one instance's), read at
 * `generation`: memory, and the rows of those whose health changes, all in one transaction.
 * A beat that brings an instance back drops its app's kept answers here and, announced, at the
 * other replicas; a row written only because every beat is (PostgreSQL without Redis) is not
 * announced: the others' kept answers end no later than the earlier beat they were built from
 * allows, and then read the row. Each answer is false when the binding is no longer active.
 */
export async function takeBeats(
  ctx: RegistryContext,
  beats: ReadonlyArray<{ binding: BindingRow; status: string }>,
  now: number,
  generation: number,
): Promise<boolean[]> {
  const writes: RowWrite[] = [];
  // `beat` asks for its row write before it first waits, so every write is known after this map.
  const taking = beats.map(({ binding, status }) =>
    ctx.liveness.beat(
      binding,
      status,
      now,
      (at, beatStatus, transition) =>
        new Promise<boolean>((settle, fail) => writes.push({ binding, at, status: beatStatus, transition, settle, fail })),
      generation,
    ),
  );
  if (writes.length > 0) await writeRows(ctx, writes);
  const taken = await Promise.all(taking);
  return taken.map((outcome, i) => {
    if (outcome === null) return false;
    ctx.lookups.beaten((beats[i] as { binding: BindingRow }).binding.appId, outcome.cameBack);
    return true;
  });
}

async function writeRows(ctx: RegistryContext, writes: RowWrite[]): Promise<void> {
  let written: boolean[];
  try {
    written = await (ctx.dialect === 'sqlite' ? ctx.beatRows.record(writes.map(storedOf)) : writeAnnounced(ctx, writes));
  } catch (error) {
    for (const write of writes) write.fail(error);
    return;
  }
  writes.forEach((write, i) => {
    write.settle(written[i] === true);
  });
}

/**
 * PostgreSQL: each transition is announced on the change channel in the transaction that writes
 * it, so replicas drop their kept answers exactly when it commits. (SQLite announces nothing:
 * other processes on the file see its data version move.)
 */
async function writeAnnounced(ctx: RegistryContext, writes: RowWrite[]): Promise<boolean[]> {
  return ctx.db.transaction().execute(async (trx) => {
    const written: boolean[] = [];
    const announced = new Set<string>();
    for (const { binding, at, status, transition } of writes) {
      const ok = await recordHeartbeat(trx, binding.appId, binding.serviceId, at, status);
      written.push(ok);
      if (ok && transition && !announced.has(binding.appId)) {
        announced.add(binding.appId);
        await ctx.announceChange(trx, binding.appId);
      }
    }
    return written;
  });
}

function storedOf(write: RowWrite): StoredBeat {
  return { appId: write.binding.appId, serviceId: write.binding.serviceId, at: write.at, status: write.status };
}
