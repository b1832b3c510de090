/**
 * Wrong passwords per (app, username), in memory. After `freeFailures` wrong passwords in a row
 * a name is locked for 1 s, doubling with each further failure up to `maxLockSeconds`. A locked
 * name is refused before any password hashing, so guessing costs the guesser time, not this
 * server CPU.
 *
 * An attempt is reserved before its password is hashed (`begin`), and only as many may be in
 * flight as there are failures left before the lock (at least one): a burst of concurrent
 * guesses gets no more tries than a sequence of them. Names are counted exactly as the user
 * store compares them; unknown names are counted like known ones (nothing tells them apart), and
 * a successful login clears the count. Replicas each keep their own counts.
 */
export class LoginThrottle {
  readonly #freeFailures: number;
  readonly #maxLockMs: number;
  readonly #maxNames: number;
  readonly #names = new Map<string, { failures: number; inFlight: number; lockedUntil: number }>();

  constructor(options: { freeFailures?: number; maxLockSeconds?: number; maxNames?: number } = {}) {
    this.#freeFailures = Math.max(1, options.freeFailures ?? 5);
    this.#maxLockMs = (options.maxLockSeconds ?? 900) * 1000;
    this.#maxNames = options.maxNames ?? 100_000;
  }

  /**
   * Reserves a login attempt: 0 when it may go ahead (then `failed` or `succeeded` must follow,
   * or `abandoned` when it ends otherwise), else the seconds after which to ask again.
   */
  begin(appId: string, username: string, now = Date.now()): number {
    const key = keyOf(appId, username);
    let entry = this.#names.get(key);
    if (entry && entry.lockedUntil > now) return Math.ceil((entry.lockedUntil - now) / 1000);
    if (entry && entry.inFlight >= Math.max(1, this.#freeFailures - entry.failures)) return 1;
    if (!entry) {
      if (this.#names.size >= this.#maxNames) this.#makeRoom(now);
      entry = { failures: 0, inFlight: 0, lockedUntil: 0 };
      this.#names.set(key, entry);
    }
    entry.inFlight++;
    return 0;
  }

  failed(appId: string, username: string, now = Date.now()): void {
    const entry = this.#names.get(keyOf(appId, username));
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.failures++;
    const over = entry.failures - this.#freeFailures;
    if (over >= 0) entry.lockedUntil = now + Math.min(1000 * 2 ** Math.min(over, 30), this.#maxLockMs);
  }

  succeeded(appId: string, username: string): void {
    const key = keyOf(appId, username);
    const entry = this.#names.get(key);
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.failures = 0;
    entry.lockedUntil = 0;
    if (entry.inFlight === 0) this.#names.delete(key);
  }

  /** An attempt that ended without a verdict (a storage error): it counts for nothing. */
  abandoned(appId: string, username: string): void {
    const key = keyOf(appId, username);
    const entry = this.#names.get(key);
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    if (entry.inFlight === 0 && entry.failures === 0) this.#names.delete(key);
  }

  /** How many names are counted now. */
  get size(): number {
    return this.#names.size;
  }

  /**
   * When full: names neither locked nor in flight go first (they lose only their count); if none
   * is, all go. Filling it takes `maxNames` wrong passwords, each paid with a password hash.
   */
  #makeRoom(now: number): void {
    for (const [key, entry] of this.#names) if (entry.lockedUntil <= now && entry.inFlight === 0) this.#names.delete(key);
    if (this.#names.size >= this.#maxNames) this.#names.clear();
  }
}

const keyOf = (appId: string, username: string) => `${appId}\n${username}`;
