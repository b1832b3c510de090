/**
 * Failed logins per (app, username), in memory: after `freeFailures` wrong passwords in a row a
 * name is locked for 1 s, doubling with each further failure up to `maxLockSeconds`. A locked
 * name is refused before any password hashing, so guessing costs the guesser time, not this
 * server CPU. Unknown usernames are counted like known ones (nothing tells them apart), and a
 * successful login clears the count. Replicas each keep their own counts.
 */
export class LoginThrottle {
  readonly #freeFailures: number;
  readonly #maxLockMs: number;
  readonly #maxNames: number;
  readonly #failures = new Map<string, { count: number; lockedUntil: number }>();

  constructor(options: { freeFailures?: number; maxLockSeconds?: number; maxNames?: number } = {}) {
    this.#freeFailures = options.freeFailures ?? 5;
    this.#maxLockMs = (options.maxLockSeconds ?? 900) * 1000;
    this.#maxNames = options.maxNames ?? 100_000;
  }

  /** Seconds until `username` of `appId` may try again; 0 when it may now. */
  retryAfterSeconds(appId: string, username: string, now = Date.now()): number {
    const entry = this.#failures.get(keyOf(appId, username));
    return entry && entry.lockedUntil > now ? Math.ceil((entry.lockedUntil - now) / 1000) : 0;
  }

  failed(appId: string, username: string, now = Date.now()): void {
    const key = keyOf(appId, username);
    const entry = this.#failures.get(key) ?? { count: 0, lockedUntil: 0 };
    entry.count++;
    const over = entry.count - this.#freeFailures;
    if (over > 0) entry.lockedUntil = now + Math.min(1000 * 2 ** Math.min(over - 1, 30), this.#maxLockMs);
    if (!this.#failures.has(key) && this.#failures.size >= this.#maxNames) this.#forgetUnlocked(now);
    this.#failures.set(key, entry);
  }

  /** How many names are counted now. */
  get size(): number {
    return this.#failures.size;
  }

  succeeded(appId: string, username: string): void {
    this.#failures.delete(keyOf(appId, username));
  }

  /**
   * When full: names that are not locked go first (they lose only their count); if all are
   * locked, all go. Filling it takes `maxNames` failed logins, each paid with a password hash.
   */
  #forgetUnlocked(now: number): void {
    for (const [key, entry] of this.#failures) if (entry.lockedUntil <= now) this.#failures.delete(key);
    if (this.#failures.size >= this.#maxNames) this.#failures.clear();
  }
}

const keyOf = (appId: string, username: string) => `${appId}\n${username.toLowerCase()}`;
