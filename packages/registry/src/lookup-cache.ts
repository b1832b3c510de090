/**
 * Service DNS answers (over HTTP and DNS) kept for the rest of the second they were built in:
 * an answer depends on the database and on the current second (health and key grace are
 * computed from whole-second timestamps), so within one second and without a commit in
 * between, building it again gives the same answer.
 *
 * "Without a commit" is the database's change stamp (SQLite: any commit by this connection or
 * another), read on every lookup and again before an answer is kept, so an answer built while
 * a write landed is not kept. PostgreSQL has no stamp (replicas write unseen),
 * so there nothing is kept.
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

export class LookupCache<T> {
  readonly #stamp: (() => string) | null;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sizeOf: ((value: T) => number) | null;
  readonly #observe: ((hit: boolean) => void) | null;
  readonly #entries = new Map<string, { second: number; value: T; size: number }>();
  #bytes = 0;
  #current = '';

  constructor(stamp: (() => string) | null, limits: LookupCacheLimits<T> = {}) {
    this.#stamp = stamp;
    this.#maxEntries = limits.maxEntries ?? 10_000;
    this.#maxBytes = limits.maxBytes ?? 32 * 1024 * 1024;
    this.#sizeOf = limits.sizeOf ?? null;
    this.#observe = limits.observe ?? null;
  }

  /**
   * The answer for `key` at `second`, built by `build` unless one built in the same second with
   * no commit since is kept. `keep` may refuse to keep a built answer (a failure).
   */
  async get(key: string, second: number, build: () => Promise<T>, keep?: (value: T) => boolean): Promise<T> {
    if (!this.#stamp) return build();
    this.#refresh();
    const kept = this.#entries.get(key);
    const hit = kept !== undefined && kept.second === second;
    this.#observe?.(hit);
    if (hit) return kept.value;
    const stampBefore = this.#current;
    const value = await build();
    if (this.#stamp() === stampBefore && (keep?.(value) ?? true)) this.#keep(key, second, value);
    return value;
  }

  #keep(key: string, second: number, value: T): void {
    const size = this.#sizeOf?.(value) ?? 0;
    if (size > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.size;
    }
    if (this.#entries.size >= this.#maxEntries || this.#bytes + size > this.#maxBytes) this.#clear();
    this.#entries.set(key, { second, value, size });
    this.#bytes += size;
  }

  #clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /**
   * On every lookup (about 1 µs): a commit acknowledged just before this request arrived may
   * have landed in the same turn of the event loop, and caches nested in one another (DNS
   * replies built from kept instances) must agree on what they saw.
   */
  #refresh(): void {
    if (!this.#stamp) return;
    const stamp = this.#stamp();
    if (stamp !== this.#current) {
      this.#clear();
      this.#current = stamp;
    }
  }
}
