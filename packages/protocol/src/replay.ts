/**
 * Remembers nonces so each is accepted once. `unique` returns true the first time a
 * (namespace, nonce) pair is seen and false on every repeat until `expiresAt` (Unix seconds)
 * has passed. Namespaces keep signers apart: a nonce is consumed per signing key.
 */
export interface ReplayStore {
  unique(namespace: string, nonce: string, expiresAt: number): Promise<boolean>;
  close?(): Promise<void>;
}

/**
 * In-memory store for a single process. Bounded: at `maxEntries` the entries closest to expiry
 * are dropped first, so memory stays flat under a flood of fresh nonces.
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #entries = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 1_000_000;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  async unique(namespace: string, nonce: string, expiresAt: number): Promise<boolean> {
    const key = `${namespace}\u0000${nonce}`;
    const now = this.#now();
    const existing = this.#entries.get(key);
    if (existing !== undefined && existing > now) return false;
    if (this.#entries.size >= this.#maxEntries) this.#evict(now);
    this.#entries.set(key, expiresAt);
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }

  #evict(now: number): void {
    for (const [key, expiresAt] of this.#entries) if (expiresAt <= now) this.#entries.delete(key);
    if (this.#entries.size < this.#maxEntries) return;
    const byExpiry = [...this.#entries].sort((a, b) => a[1] - b[1]);
    const drop = Math.max(1, Math.floor(this.#maxEntries / 10));
    for (const [key] of byExpiry.slice(0, drop)) this.#entries.delete(key);
  }
}
