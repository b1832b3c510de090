import { MISSED_HEARTBEATS } from './context.js';
import type { SharedBeat, SharedBeats } from './shared-beats.js';
import type { BeatRows, BindingRow, StoredBeat } from './storage/bindings.js';

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

/**
 * One instance's last beat. The instance is the entry's key (`keyOf`): its app and service ids
 * are not kept twice, a million entries is what this table is sized for.
 */
export interface ExternalChanges {
  /** Moves when another process commits (SQLite's data version); null: changes are announced instead. */
  stamp: (() => number) | null;
  /** False while announcements may be missed (the change channel reconnecting). */
  listening: () => boolean;
}

interface Beat {
  at: number;
  status: string;
  /** What the row holds (this process wrote it or read it). */
  stored: number;
  /** Taken by this replica (false: another replica's, heard through Redis): only its taker writes a row merely due. */
  own: boolean;
  /** The provider whose active binding this replica last read (null: only heard from another replica). */
  provider: string | null;
  /** `Liveness.generation` before that read: a change of the app heard since makes `renew` read again. */
  verified: number;
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
  readonly #rows: BeatRows;
  readonly #options: LivenessOptions;
  readonly #beats = new Map<string, Beat>();
  /** One string per provider name, shared by its entries. */
  readonly #providers = new Map<string, string>();
  /** Apps changed since their entries were read (see `changed`), with when; pruned by the sweep. */
  readonly #appChanges = new Map<string, { generation: number; at: number }>();
  #generation = 1;
  /** How this replica hears of changes it did not make (see `watch`); none: it makes them all. */
  #external: ExternalChanges = { stamp: null, listening: () => true };
  #lastStamp: number | null = null;
  /** Every entry read before this generation is read again (a reset of the change channel). */
  #resetGeneration = 0;
  #timer: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;
  #shared: SharedBeats | null = null;
  #revived: (appId: string) => void = () => {};
  /** Rows written by sweeps and transitions: tests and the bench count writes with it. */
  writes = 0;
  /** Beats `renew` took from memory alone (tests). */
  renewals = 0;

  constructor(rows: BeatRows, options: LivenessOptions) {
    this.#rows = rows;
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
      const { at, status } = beat;
      const provider = known?.provider ?? null;
      this.#beats.set(key, {
        at,
        status: statusOf(status),
        stored: known?.stored ?? 0,
        own: false,
        provider,
        verified: known?.verified ?? 0,
      });
      // Unknown here, or stopped: answers kept here may leave it out.
      if (!known || known.at < since) this.#revived(beat.appId);
    }
  }

  /**
   * How changes made elsewhere are heard: SQLite's data version (another process committed to
   * the file: every entry is read again), or the PostgreSQL change channel (`changed`,
   * `changedAll`), without which memory is not trusted at all.
   */
  watch(external: ExternalChanges): void {
    this.#external = external;
    this.#lastStamp = external.stamp?.() ?? null;
  }

  /**
   * Whether `renew` may take beats from memory now; once per batch, as it costs a read of the
   * data version. An entry read before a change made elsewhere is read again.
   */
  mayRenew(): boolean {
    if (this.#options.persistSeconds === 0 || !this.#external.listening()) return false;
    const stamp = this.#external.stamp?.() ?? null;
    if (stamp !== this.#lastStamp) {
      this.#lastStamp = stamp;
      this.changedAll();
    }
    return true;
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

  /** Taken before reading a binding row, passed to `beat`: a change heard after it makes the read stale. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Takes one verified beat of an active binding, read at `generation` (or now). `record` writes
   * the row (false: the binding is no longer active); it runs when health changes (`transition`:
   * the other replicas are told) or every beat is to be written. Answers whether the instance was
   * unhealthy before (its DNS answers change), or null when the row refused it.
   */
  async beat(
    row: BindingRow,
    status: string,
    now: number,
    record: (at: number, status: string, transition: boolean) => Promise<boolean>,
    generation = this.#generation,
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
    const provider = this.#providerName(row.provider);
    this.#beats.set(key, { at, status: statusOf(status), stored, own: true, provider, verified: generation });
    this.#shared?.push({ appId: row.appId, serviceId: row.serviceId, at, status });
    return { cameBack };
  }

  /**
   * A beat taken from memory alone, without reading the binding (batched liveness at a million
   * instances): only for an instance this replica read as an active binding of `provider`, with
   * no change of its app heard since, healthy now and keeping its status, so nothing is written
   * and no answer changes; only after `mayRenew` said yes for this batch. False: take it through `beat`. A revocation here forgets the entry;
   * one at another replica reaches `changed` through the change channel.
   */
  renew(provider: string, appId: string, serviceId: string, status: string, now: number): boolean {
    const beat = this.#beats.get(keyOf(appId, serviceId));
    if (beat === undefined || beat.provider !== provider || beat.status !== status || beat.at < this.healthySince(now)) return false;
    if (beat.verified < this.#resetGeneration) return false;
    const change = this.#appChanges.get(appId);
    if (change !== undefined && change.generation > beat.verified) return false;
    if (now > beat.at) beat.at = now;
    beat.own = true;
    this.renewals++;
    this.#shared?.push({ appId, serviceId, at: beat.at, status });
    return true;
  }

  /** An app changed (heard from another replica, or revoked here): its entries are read again before `renew` takes a beat. */
  changed(appId: string, now: number): void {
    this.#appChanges.set(appId, { generation: ++this.#generation, at: now });
  }

  /** Every app may have changed (the change channel reconnected). */
  changedAll(): void {
    this.#resetGeneration = ++this.#generation;
  }

  /** Forgets an instance (revoked): its row already says everything. */
  forget(appId: string, serviceId: string, now: number): void {
    this.#beats.delete(keyOf(appId, serviceId));
    // A batch that read the binding before the revocation must not bring it back for `renew`.
    this.changed(appId, now);
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
   * than their beat are written by the replica that took it, a few thousand rows to a transaction.
   */
  async sweep(now: number): Promise<void> {
    const due: StoredBeat[] = [];
    const gone: StoredBeat[] = [];
    const stoppedApps = new Set<string>();
    const since = this.healthySince(now);
    for (const [key, beat] of this.#beats) {
      const stopped = beat.at < since;
      const isDue = (stopped || (beat.own && beat.at - beat.stored >= this.#options.persistSeconds)) && beat.at > beat.stored;
      if (!isDue && !stopped) continue;
      const stored = storedOf(key, beat);
      if (isDue) due.push(stored);
      if (stopped) {
        this.#beats.delete(key);
        gone.push(stored);
        stoppedApps.add(stored.appId);
      }
    }
    // An entry read before a change and not renewed since is gone by now: the change is forgotten.
    const changesSince = since - this.#options.intervalSeconds;
    for (const [appId, change] of this.#appChanges) if (change.at < changesSince) this.#appChanges.delete(appId);
    void this.#shared?.forgetAll(gone);
    await this.#store(due);
    for (const appId of stoppedApps) this.#options.onStopped?.(appId);
  }

  /** Writes every beat the rows do not hold yet (at close, so a clean restart starts exact). */
  async flush(): Promise<void> {
    await this.#sweeping;
    await this.#shared?.flush();
    const due: StoredBeat[] = [];
    for (const [key, beat] of this.#beats) if (beat.own && beat.at > beat.stored) due.push(storedOf(key, beat));
    await this.#store(due);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async #store(due: StoredBeat[]): Promise<void> {
    if (due.length === 0) return;
    // Many rows at a million instances: a transaction per chunk, other requests served between two.
    for (let start = 0; start < due.length; start += STORE_CHUNK) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      // Written before the rows: a beat taken meanwhile must not be marked stored.
      const values = due.slice(start, start + STORE_CHUNK);
      await this.#rows.store(values);
      this.writes += values.length;
      for (const value of values) {
        const beat = this.#beats.get(keyOf(value.appId, value.serviceId));
        if (beat && beat.stored < value.at) beat.stored = value.at;
      }
    }
  }

  #providerName(name: string): string {
    const known = this.#providers.get(name);
    if (known !== undefined) return known;
    this.#providers.set(name, name);
    return name;
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

/** Rows a sweep writes in one transaction. */
const STORE_CHUNK = 2000;

function keyOf(appId: string, serviceId: string): string {
  return `${appId}\n${serviceId}`;
}

function storedOf(key: string, beat: Beat): StoredBeat {
  const cut = key.indexOf('\n');
  return { appId: key.slice(0, cut), serviceId: key.slice(cut + 1), at: beat.at, status: beat.status };
}

/** The two statuses as constants: a million entries do not each hold a copy parsed from a request. */
function statusOf(status: string): string {
  return status === 'ok' ? 'ok' : status === 'degraded' ? 'degraded' : status;
}
