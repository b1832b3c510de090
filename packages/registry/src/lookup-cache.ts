/**
 * Service DNS answers (over HTTP and DNS) kept for the rest of the second they were built in:
 * an answer depends on the database and on the current second (health and key grace are
 * computed from whole-second timestamps), so within one second and without a commit in
 * between, building it again gives the same answer.
 *
 * "Without a commit" is the database's change stamp (SQLite: any commit by this connection or
 * another), read once per turn of the event loop, and again before an answer is kept, so an
 * answer built while a write landed is not kept. PostgreSQL has no stamp (replicas write unseen),
 * so there nothing is kept.
 */
export class LookupCache<T> {
  readonly #stamp: (() => string) | null;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { second: number; value: T }>();
  #current = '';
  #stampRead = false;
  readonly #nextTurn = () => {
    this.#stampRead = false;
  };

  constructor(stamp: (() => string) | null, maxEntries = 10_000) {
    this.#stamp = stamp;
    this.#maxEntries = maxEntries;
  }

  /**
   * The answer for `key` at `second`, built by `build` unless one built in the same second with
   * no commit since is kept. `keep` may refuse to keep a built answer (a failure).
   */
  async get(key: string, second: number, build: () => Promise<T>, keep?: (value: T) => boolean): Promise<T> {
    if (!this.#stamp) return build();
    this.#refresh();
    const kept = this.#entries.get(key);
    if (kept && kept.second === second) return kept.value;
    const stampBefore = this.#current;
    const value = await build();
    if (this.#stamp() === stampBefore && (keep?.(value) ?? true)) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
      this.#entries.set(key, { second, value });
    }
    return value;
  }

  #refresh(): void {
    if (this.#stampRead || !this.#stamp) return;
    this.#stampRead = true;
    setImmediate(this.#nextTurn);
    const stamp = this.#stamp();
    if (stamp !== this.#current) {
      this.#entries.clear();
      this.#current = stamp;
    }
  }
}
