import { MISSED_HEARTBEATS } from './context.js';
import type { SharedBeat, SharedBeats } from './shared-beats.js';
import { type BindingRow, type StoredBeat, storeBeats } from './storage/bindings.js';
import type { RegistryDb } from './storage/schema.js';

export interface LivenessOptions {
  intervalSeconds: number;
  /**
   * A beat reaches the database at least this often per instance (besides every health
   * transition); 0 writes every beat (replicas sharing nothing else, see start.ts).
   */
  persistSeconds: number;
  /** When this registry started (seconds): the warm-up after it gives rows the benefit of the doubt. */
  startedAt: number;
  /** Told of each app with an instance whose beats stopped (a sweep found it unhealthy): its DNS answers changed. */
  onStopped?: (appId: string) => void;
}

interface Beat {
  appId: string;
  serviceId: string;
  at: number;
  status: string;
  /** What the row holds (this process wrote it or read it). */
  stored: number;
  /** Taken by this replica (false: another replica's, heard through Redis): only its taker writes a row merely due. */
  own: boolean;
}

/**
 * Last beats of the bound instances, in memory; the database row is written when health changes
 * (unhealthy → healthy, ok ↔ degraded: at once, with the beat; healthy → unhealthy: by the sweep,
 * with the exact last beat) and otherwise at most every `persistSeconds`, in one transaction per
 * sweep. Health is computed exactly as SPEC §9.2 says from the later of the row and the memory.
 *
 * After a restart memory is empty and a row may lag its instance's last beat by up to
 * `persistSeconds`. For the first two intervals (every live instance beats in that time), an
 * instance not heard from since the start counts as having beaten `persistSeconds` after its row,
 * but never after the start: a live instance is never dropped from DNS by the registry's own
 * restart, and one that died just before it stays listed at most that warm-up long.
 *
 * Entries exist only for active bindings that beat in the last three intervals (the sweep drops
 * the others), so memory is bounded by the instance quotas.
 *
 * Replicas (`share`): every beat taken goes to the others through Redis (shared-beats.ts), so
 * each replica's memory holds every instance's last beat and decides health alike. Transitions
 * still reach the rows and the change channel from the replica that took the beat; a beat heard
 * from another replica that revives an instance this one saw stopped drops that app's kept
 * answers here.
 */
export class Liveness {
  readonly #db: RegistryDb;
  readonly #options: LivenessOptions;
  readonly #beats = new Map<string, Beat>();
  #timer: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;
  #shared: SharedBeats | null = null;
  #revived: (appId: string) => void = () => {};
  /** Rows written by sweeps and transitions: tests and the bench count writes with it. */
  writes = 0;

  constructor(db: RegistryDb, options: LivenessOptions) {
    this.#db = db;
    this.#options = options;
  }

  /** Shares beats with the other replicas; `revived` is told of an app whose kept answers a heard beat makes wrong. */
  share(shared: SharedBeats, revived: (appId: string) => void): void {
    this.#shared = shared;
    this.#revived = revived;
  }

  /**
   * Beats another replica took: each replaces an earlier one in memory. A beat already older
   * than the health window changes nothing (its instance stopped) and is left out.
   */
  merge(beats: readonly SharedBeat[], now: number): void {
    const since = this.healthySince(now);
    for (const beat of beats) {
      if (beat.at < since) continue;
      const key = keyOf(beat.appId, beat.serviceId);
      const known = this.#beats.get(key);
      if (known && known.at >= beat.at) continue;
      const { appId, serviceId, at, status } = beat;
      this.#beats.set(key, { appId, serviceId, at, status, stored: known?.stored ?? 0, own: false });
      // Unknown here, or stopped: answers kept here may leave it out.
      if (!known || known.at < since) this.#revived(appId);
    }
  }

  get size(): number {
    return this.#beats.size;
  }

  /** Instances whose last beat in memory is at or after `since` (the metrics' healthy count). */
  beatingSince(since: number): number {
    let count = 0;
    for (const beat of this.#beats.values()) if (beat.at >= since) count++;
    return count;
  }

  healthySince(now: number): number {
    return now - MISSED_HEARTBEATS * this.#options.intervalSeconds;
  }

  /** The last beat of an instance this registry knows of: the row, or a later one in memory. */
  lastBeat(row: BindingRow): number {
    const beat = this.#beats.get(keyOf(row.appId, row.serviceId));
    return beat && beat.at > row.lastHeartbeatAt ? beat.at : row.lastHeartbeatAt;
  }

  isHealthy(row: BindingRow, now: number): boolean {
    return this.#assumedBeat(row, now) >= this.healthySince(now);
  }

  /**
   * The first second at which the instance would be unhealthy if it never beat again (what a
   * kept answer may last until); Infinity when it is unhealthy now: only a beat brings it back,
   * and that beat drops the kept answers of its app (beats.ts, `merge`).
   */
  healthyUntil(row: BindingRow, now: number): number {
    const assumed = this.#assumedBeat(row, now);
    if (assumed < this.healthySince(now)) return Number.POSITIVE_INFINITY;
    const until = assumed + MISSED_HEARTBEATS * this.#options.intervalSeconds + 1;
    // The benefit of the doubt ends with the warm-up.
    const warmUpEnd = this.#options.startedAt + 2 * this.#options.intervalSeconds;
    return now < warmUpEnd ? Math.min(until, warmUpEnd) : until;
  }

  /**
   * Takes one verified beat of an active binding. `record` writes the row (false: the binding
   * is no longer active); it runs when health changes (`transition`: the other replicas are
   * told) or every beat is to be written. Answers whether the instance was unhealthy before
   * (its DNS answers change), or null when the row refused it.
   */
  async beat(
    row: BindingRow,
    status: string,
    now: number,
    record: (at: number, status: string, transition: boolean) => Promise<boolean>,
  ): Promise<{ cameBack: boolean } | null> {
    const key = keyOf(row.appId, row.serviceId);
    const known = this.#beats.get(key);
    const cameBack = !this.isHealthy(row, now);
    const statusBefore = known?.status ?? row.heartbeatStatus ?? 'ok';
    const at = Math.max(now, known?.at ?? 0);
    let stored = Math.max(known?.stored ?? 0, row.lastHeartbeatAt);
    // Rows merely due are left to the sweep, which writes them many to a transaction.
    const transition = cameBack || status !== statusBefore;
    if (transition || this.#options.persistSeconds === 0) {
      if (!(await record(at, status, transition))) {
        this.#beats.delete(key);
        return null;
      }
      this.writes++;
      stored = at;
    }
    this.#beats.set(key, { appId: row.appId, serviceId: row.serviceId, at, status, stored, own: true });
    this.#shared?.push({ appId: row.appId, serviceId: row.serviceId, at, status });
    return { cameBack };
  }

  /** Forgets an instance (revoked): its row already says everything. */
  forget(appId: string, serviceId: string): void {
    this.#beats.delete(keyOf(appId, serviceId));
    void this.#shared?.forget(appId, serviceId);
  }

  /** Sweeps every quarter interval, at a random phase so replicas do not sweep together. */
  start(nowSeconds: () => number): void {
    const everyMs = Math.max(250, (this.#options.intervalSeconds * 1000) / 4);
    const run = () => {
      this.#sweeping ??= this.sweep(nowSeconds()).finally(() => {
        this.#sweeping = null;
      });
    };
    const first = setTimeout(() => {
      run();
      this.#timer = setInterval(run, everyMs);
      this.#timer.unref();
    }, Math.random() * everyMs);
    first.unref();
    this.#timer = first;
  }

  /**
   * One sweep: instances whose beats stopped get their exact last beat written and leave memory
   * (health flips by time alone, so no answer changes here); rows older than `persistSeconds`
   * than their beat are written by the replica that took it. All in one transaction.
   */
  async sweep(now: number): Promise<void> {
    const due: StoredBeat[] = [];
    const gone: Beat[] = [];
    const stoppedApps = new Set<string>();
    const since = this.healthySince(now);
    for (const [key, beat] of this.#beats) {
      const stopped = beat.at < since;
      if (stopped || (beat.own && beat.at - beat.stored >= this.#options.persistSeconds)) {
        if (beat.at > beat.stored) due.push(beat);
      }
      if (stopped) {
        this.#beats.delete(key);
        gone.push(beat);
        stoppedApps.add(beat.appId);
      }
    }
    void this.#shared?.forgetAll(gone);
    await this.#store(due);
    for (const appId of stoppedApps) this.#options.onStopped?.(appId);
  }

  /** Writes every beat the rows do not hold yet (at close, so a clean restart starts exact). */
  async flush(): Promise<void> {
    await this.#sweeping;
    await this.#shared?.flush();
    await this.#store([...this.#beats.values()].filter((beat) => beat.own && beat.at > beat.stored));
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async #store(due: StoredBeat[]): Promise<void> {
    if (due.length === 0) return;
    // Written before the rows: a beat taken meanwhile must not be marked stored.
    const values = due.map((beat) => ({ appId: beat.appId, serviceId: beat.serviceId, at: beat.at, status: beat.status }));
    await storeBeats(this.#db, values);
    this.writes += values.length;
    for (const value of values) {
      const beat = this.#beats.get(keyOf(value.appId, value.serviceId));
      if (beat && beat.stored < value.at) beat.stored = value.at;
    }
  }

  #assumedBeat(row: BindingRow, now: number): number {
    const beat = this.#beats.get(keyOf(row.appId, row.serviceId));
    if (beat) return Math.max(beat.at, row.lastHeartbeatAt);
    const { startedAt, intervalSeconds, persistSeconds } = this.#options;
    if (now < startedAt + 2 * intervalSeconds)
      return Math.max(row.lastHeartbeatAt, Math.min(row.lastHeartbeatAt + persistSeconds, startedAt));
    return row.lastHeartbeatAt;
  }
}

function keyOf(appId: string, serviceId: string): string {
  return `${appId}\n${serviceId}`;
}
