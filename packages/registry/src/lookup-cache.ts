/**
 * Service DNS answers (over HTTP and DNS) kept from the second they were built in until the
 * deadline their build named (`until`, default: the rest of that second). An answer depends on
 * one app's rows, its instances' last beats and the current second (health and key grace are
 * computed from whole-second timestamps); its builder knows the first second at which time
 * alone would change it (an instance turning unhealthy, a key's grace ending), and every other
 * change of the app is a write or a beat that brings an instance back, which drops it.
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
  /** Kept for the seconds from `from` up to, not including, `until`. */
  from: number;
  until: number;
  value: T;
  size: number;
}

export interface KeepOptions<T> {
  /** May refuse to keep a built answer (a failure). */
  keep?: (value: T) => boolean;
  /** The first second the built answer may differ (asked after the build); default the next second. */
  until?: (value: T) => number;
  /** How a kept answer is checked against other processes' commits (see `peek`); default every lookup. */
  stamp?: 'lookup' | 'turn';
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
  /** Builds under way: with none, nobody needs to know when a group was invalidated. */
  #building = 0;
  #bytes = 0;
  #current: number | string | null = null;
  /** The stamp as last read in this event-loop turn; undefined: not read yet this turn. */
  #turnStamp: number | string | null | undefined = undefined;
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
   * The answer for `key` (of `group`) at `second`, built by `build` unless one is kept whose
   * seconds include this one, with no change of its group since it was built.
   */
  async get(group: string, key: string, second: number, build: () => Promise<T>, options: KeepOptions<T> = {}): Promise<T> {
    if (!this.#source.enabled()) {
      if (this.#entries.size > 0) this.clear();
      return build();
    }
    const kept = this.peek(group, key, second, options.stamp);
    if (kept !== undefined) return kept.value;
    this.#observe?.(false);
    const startedAt = this.#generation;
    const stampBefore = this.#current;
    this.#building++;
    let value: T;
    try {
      value = await build();
    } finally {
      this.#building--;
    }
    if (this.#unchangedSince(group, startedAt) && this.#readStamp() === stampBefore && (options.keep?.(value) ?? true)) {
      const until = options.until?.(value) ?? second + 1;
      if (until > second) this.#keep(key, group, second, until, value);
    }
    if (this.#building === 0) this.#invalidatedAt.clear();
    return value;
  }

  /**
   * The answer kept for `key` (of `group`) at `second`, counted as a hit, or undefined without
   * counting anything: `get` without the build, so a caller on a hot path can answer without a
   * promise (Service DNS over UDP) and fall back to `get` when nothing is kept.
   *
   * `stamp: 'turn'` takes the stamp as read once in this turn of the event loop rather than
   * reading it again: a commit by another process is then seen by every look-up of a later turn,
   * and look-ups of the turn it happened in (one batch of datagrams, microseconds) may still
   * answer from before it, as if they had arrived just before it. Reading it costs about a
   * tenth of a kept UDP reply; per turn, that is shared by the whole batch.
   */
  peek(group: string | null, key: string, second: number, stamp: 'lookup' | 'turn' = 'lookup'): { value: T } | undefined {
    if (!this.#source.enabled()) return undefined;
    this.#refresh(stamp === 'turn' ? this.#stampOfTurn() : this.#readStamp());
    const kept = this.#entries.get(key);
    // `group` null: the caller's groups are a function of the key (Service DNS replies), nothing to compare.
    if (!kept || (group !== null && kept.group !== group) || kept.from > second || second >= kept.until) return undefined;
    this.hits++;
    this.#observe?.(true);
    // Most recently used last: the entry limit drops the least recently used first.
    this.#entries.delete(key);
    this.#entries.set(key, kept);
    return kept;
  }

  /** The deadline of the answer kept under `key` for `second`, if one is. */
  keptUntil(key: string, second: number): number | null {
    const kept = this.#entries.get(key);
    return kept && kept.from <= second && second < kept.until ? kept.until : null;
  }

  /** Drops the answers of `group` (and those of no one app), and refuses builds of it under way. */
  invalidate(group: string): void {
    this.#generation++;
    this.#drop(group);
    this.#drop(SHARED_GROUP);
    // Only builds under way need to know when a group changed.
    if (this.#building === 0) return;
    if (this.#invalidatedAt.size >= this.#maxEntries) {
      this.clear();
      return;
    }
    this.#invalidatedAt.set(group, this.#generation);
    this.#invalidatedAt.set(SHARED_GROUP, this.#generation);
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

  #keep(key: string, group: string, from: number, until: number, value: T): void {
    const size = this.#sizeOf?.(value) ?? 0;
    if (size > this.#maxBytes) return;
    this.#remove(key);
    // Room for the new answer: the least recently used go first.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size < this.#maxEntries && this.#bytes + size <= this.#maxBytes) break;
      this.#remove(oldest);
    }
    this.#entries.set(key, { group, from, until, value, size });
    let keys = this.#keysOf.get(group);
    if (!keys) {
      keys = new Set();
      this.#keysOf.set(group, keys);
    }
    keys.add(key);
    this.#bytes += size;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    const keys = this.#keysOf.get(entry.group);
    keys?.delete(key);
    if (keys?.size === 0) this.#keysOf.delete(entry.group);
    this.#bytes -= entry.size;
  }

  /** Read afresh; also the turn's stamp from now on (the latest read is never older than it). */
  #readStamp(): number | string | null {
    const read = this.#source.stamp;
    if (!read) return null;
    const stamp = read();
    this.#rememberForTurn(stamp);
    return stamp;
  }

  #stampOfTurn(): number | string | null {
    return this.#turnStamp === undefined ? this.#readStamp() : this.#turnStamp;
  }

  #rememberForTurn(stamp: number | string | null): void {
    // Forgotten in the check phase, right after the I/O callbacks of this turn ran.
    if (this.#turnStamp === undefined) setImmediate(this.#forgetTurn);
    this.#turnStamp = stamp;
  }

  readonly #forgetTurn = (): void => {
    this.#turnStamp = undefined;
  };

  /**
   * On every lookup (about 1 µs; once per event-loop turn for `peek(…, 'turn')`): another
   * process's commit seen just before this request arrived must not be answered from before
   * it, and caches nested in one another (DNS replies built from kept instances) must agree on
   * what they saw.
   */
  #refresh(stamp: number | string | null): void {
    if (stamp !== this.#current) {
      this.clear();
      this.#current = stamp;
    }
  }
}
