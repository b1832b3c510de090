/**
 * Service DNS answers (over HTTP and DNS) kept for the rest of the second they were built in:
 * an answer depends on one app's rows and on the current second (health and key grace are
 * computed from whole-second timestamps), so within one second and without a change of that
 * app in between, building it again gives the same answer.
 *
 * Every answer belongs to a group (the app it was built from). A change of one app drops that
 * app's answers only (`invalidate`, called by the registry after each of its own commits, and on
 * PostgreSQL for each change another replica notified); a build that was under way while its
 * group was invalidated is not kept. The `stamp` (SQLite `data_version`) changes only when
 * another process commits to the same file: nobody says which app that touched, so it drops
 * everything. Without a stamp and without `enabled()` nothing is kept.
 */
export interface LookupCacheLimits<T> {
  /** Default 10 000. */
  maxEntries?: number;
  /** With `sizeOf`: the most bytes kept (default 32 MiB); when either limit is reached the cache starts over. */
  maxBytes?: number;
  sizeOf?: (value: T) => number;
  /** Told of each look-up: true when a kept answer served it (metrics). */
  observe?: (hit: boolean) => void;
}

export interface LookupCacheSource {
  /** Changes when someone this process does not hear from committed (SQLite `data_version`); null: never. */
  stamp: (() => number | string) | null;
  /** Whether answers may be kept at all right now (PostgreSQL: while the change channel listens). */
  enabled: () => boolean;
}

/** The group of answers that depend on no one app (names outside any app zone): dropped by every change. */
export const SHARED_GROUP = '';

interface Entry<T> {
  group: string;
  second: number;
  value: T;
  size: number;
}

export class LookupCache<T> {
  readonly #source: LookupCacheSource;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sizeOf: ((value: T) => number) | null;
  readonly #observe: ((hit: boolean) => void) | null;
  readonly #entries = new Map<string, Entry<T>>();
  readonly #keysOf = new Map<string, Set<string>>();
  /** Counts invalidations; a group remembers the count of its last one (bounded like the entries). */
  #generation = 0;
  readonly #invalidatedAt = new Map<string, number>();
  /** Builds started at or before this generation are never kept (everything was dropped since). */
  #floor = 0;
  #bytes = 0;
  #current: number | string | null = null;
  /** Lookups answered from what was kept: tests observe per-app invalidation with it, no timing involved. */
  hits = 0;

  constructor(source: LookupCacheSource | null, limits: LookupCacheLimits<T> = {}) {
    this.#source = source ?? { stamp: null, enabled: () => false };
    this.#maxEntries = limits.maxEntries ?? 10_000;
    this.#maxBytes = limits.maxBytes ?? 32 * 1024 * 1024;
    this.#sizeOf = limits.sizeOf ?? null;
    this.#observe = limits.observe ?? null;
  }

  /**
   * The answer for `key` (of `group`) at `second`, built by `build` unless one built in the same
   * second with no change of its group since is kept. `keep` may refuse to keep a built answer (a failure).
   */
  async get(group: string, key: string, second: number, build: () => Promise<T>, keep?: (value: T) => boolean): Promise<T> {
    if (!this.#source.enabled()) {
      if (this.#entries.size > 0) this.clear();
      return build();
    }
    this.#refresh();
    const kept = this.#entries.get(key);
    if (kept && kept.second === second && kept.group === group) {
      this.hits++;
      this.#observe?.(true);
      return kept.value;
    }
    this.#observe?.(false);
    const startedAt = this.#generation;
    const stampBefore = this.#current;
    const value = await build();
    if (this.#unchangedSince(group, startedAt) && this.#readStamp() === stampBefore && (keep?.(value) ?? true)) {
      this.#keep(key, group, second, value);
    }
    return value;
  }

  /** Drops the answers of `group` (and those of no one app), and refuses builds of it under way. */
  invalidate(group: string): void {
    this.#generation++;
    if (this.#invalidatedAt.size >= this.#maxEntries) {
      this.clear();
      return;
    }
    this.#invalidatedAt.set(group, this.#generation);
    this.#invalidatedAt.set(SHARED_GROUP, this.#generation);
    this.#drop(group);
    this.#drop(SHARED_GROUP);
  }

  /** Drops everything and refuses every build under way. */
  clear(): void {
    this.#generation++;
    this.#floor = this.#generation;
    this.#invalidatedAt.clear();
    this.#entries.clear();
    this.#keysOf.clear();
    this.#bytes = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  #unchangedSince(group: string, startedAt: number): boolean {
    return startedAt >= this.#floor && (this.#invalidatedAt.get(group) ?? 0) <= startedAt;
  }

  #drop(group: string): void {
    const keys = this.#keysOf.get(group);
    if (!keys) return;
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (entry) this.#bytes -= entry.size;
      this.#entries.delete(key);
    }
    this.#keysOf.delete(group);
  }

  #keep(key: string, group: string, second: number, value: T): void {
    const size = this.#sizeOf?.(value) ?? 0;
    if (size > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#keysOf.get(old.group)?.delete(key);
      this.#bytes -= old.size;
    }
    if (this.#entries.size >= this.#maxEntries || this.#bytes + size > this.#maxBytes) this.#wipeEntries();
    this.#entries.set(key, { group, second, value, size });
    let keys = this.#keysOf.get(group);
    if (!keys) {
      keys = new Set();
      this.#keysOf.set(group, keys);
    }
    keys.add(key);
    this.#bytes += size;
  }

  /** Room for new answers: what is kept goes, builds under way may still be kept. */
  #wipeEntries(): void {
    this.#entries.clear();
    this.#keysOf.clear();
    this.#bytes = 0;
  }

  #readStamp(): number | string | null {
    return this.#source.stamp?.() ?? null;
  }

  /**
   * On every lookup (about 1 µs): another process's commit seen just before this request
   * arrived must not be answered from before it, and caches nested in one another (DNS replies
   * built from kept instances) must agree on what they saw.
   */
  #refresh(): void {
    const stamp = this.#readStamp();
    if (stamp !== this.#current) {
      this.clear();
      this.#current = stamp;
    }
  }
}
