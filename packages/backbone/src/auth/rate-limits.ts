import { SwarmError } from '@swarm/protocol';
import { clientAddress, openRedisClient } from '@swarm/runtime';

type RedisClientType = Awaited<ReturnType<typeof openRedisClient>>;

/** A token bucket: `capacity` requests at once, refilled at `perSecond`. */
export interface BucketRule {
  capacity: number;
  perSecond: number;
}

/** Where buckets live: in this process, or in Redis for every replica. */
export interface BucketStore {
  /** Takes one token from `key`: 0 when there was one, else the milliseconds until there is. */
  take(key: string, rule: BucketRule): Promise<number>;
  close?(): Promise<void>;
}

/**
 * Buckets in memory. Bounded: when full, buckets that have refilled completely go first (they
 * carry no state a fresh bucket would not), then all.
 */
export class MemoryBucketStore implements BucketStore {
  readonly #buckets = new Map<string, { tokens: number; at: number; fullAt: number }>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: { maxKeys?: number; now?: () => number } = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async take(key: string, rule: BucketRule): Promise<number> {
    return this.takeNow(key, rule);
  }

  /** The same as `take`, synchronously (tests and the Redis fallback use it). */
  takeNow(key: string, rule: BucketRule): number {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.#makeRoom(now);
      bucket = { tokens: rule.capacity, at: now, fullAt: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(rule.capacity, bucket.tokens + ((now - bucket.at) / 1000) * rule.perSecond);
    bucket.at = now;
    let wait = 0;
    if (bucket.tokens >= 1) bucket.tokens -= 1;
    else wait = Math.ceil(((1 - bucket.tokens) / rule.perSecond) * 1000);
    bucket.fullAt = now + ((rule.capacity - bucket.tokens) / rule.perSecond) * 1000;
    return wait;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #makeRoom(now: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.fullAt <= now) this.#buckets.delete(key);
    if (this.#buckets.size >= this.#maxKeys) this.#buckets.clear();
  }
}

// One round trip, atomic, on Redis's own clock so replicas with skewed clocks agree.
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then tokens = capacity; at = now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return wait
`;

/**
 * Buckets shared by every replica through Redis (a hash per key, expiring once refilled). While
 * Redis cannot be reached each replica falls back to its own memory: limits then hold per
 * replica instead of across them, and logins go on.
 */
export class RedisBucketStore implements BucketStore {
  readonly #client: RedisClientType;
  readonly #prefix: string;
  readonly #fallback = new MemoryBucketStore();

  private constructor(client: RedisClientType, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  static async open(url: string, prefix = 'swarm:auth:bucket'): Promise<RedisBucketStore> {
    const client = await openRedisClient(url);
    return new RedisBucketStore(client, prefix);
  }

  async take(key: string, rule: BucketRule): Promise<number> {
    try {
      const wait = await this.#client.eval(TAKE_SCRIPT, {
        keys: [`${this.#prefix}:${key}`],
        arguments: [String(rule.capacity), String(rule.perSecond)],
      });
      return Number(wait);
    } catch {
      return this.#fallback.takeNow(key, rule);
    }
  }

  async close(): Promise<void> {
    if (this.#client.isOpen) await this.#client.quit().catch(() => {});
  }
}

/** The buckets in front of password hashing (docs/OPERATIONS.md lists the defaults). */
export interface RateLimitRules {
  loginPerAddress: BucketRule;
  loginPerApp: BucketRule;
  signupPerAddress: BucketRule;
  signupPerApp: BucketRule;
}

export const DEFAULT_RATE_LIMITS: RateLimitRules = {
  loginPerAddress: { capacity: 60, perSecond: 0.5 },
  loginPerApp: { capacity: 300, perSecond: 50 },
  signupPerAddress: { capacity: 20, perSecond: 0.2 },
  signupPerApp: { capacity: 60, perSecond: 5 },
};

/** Login and sign-up buckets per client address and per app, checked before any hashing. */
export class RateLimits {
  readonly #store: BucketStore;
  readonly #rules: RateLimitRules;

  constructor(store: BucketStore, rules: Partial<RateLimitRules> = {}) {
    this.#store = store;
    this.#rules = { ...DEFAULT_RATE_LIMITS, ...rules };
  }

  /**
   * Takes a token from the address's bucket, then from the app's: a flood from one address
   * empties its own bucket and leaves the app's for everyone else. `rate_limited` (with the
   * seconds to wait) when either is empty.
   */
  async admit(kind: 'login' | 'signup', appId: string, address: string): Promise<void> {
    const perAddress = kind === 'login' ? this.#rules.loginPerAddress : this.#rules.signupPerAddress;
    const perApp = kind === 'login' ? this.#rules.loginPerApp : this.#rules.signupPerApp;
    const addressWait = await this.#store.take(`${kind}:addr:${clientAddress(address)}`, perAddress);
    if (addressWait > 0) throw new RateLimited(addressWait, `too many ${kind} attempts from this address`);
    const appWait = await this.#store.take(`${kind}:app:${appId}`, perApp);
    if (appWait > 0) throw new RateLimited(appWait, `too many ${kind} attempts for this app`);
  }

  close(): Promise<void> {
    return this.#store.close?.() ?? Promise.resolve();
  }
}

/** `429 rate_limited`, carrying the whole seconds for `Retry-After`. */
export class RateLimited extends SwarmError {
  readonly retryAfterSeconds: number;

  constructor(waitMs: number, message: string) {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    super('rate_limited', `${message}; try again in ${seconds} s`);
    this.retryAfterSeconds = seconds;
  }
}

/**
 * At most `concurrency` password hashes at once (scrypt runs in libuv's pool, 4 threads unless
 * UV_THREADPOOL_SIZE says otherwise) and at most `maxWaiting` waiting for a slot. Beyond that a
 * request is shed at once with `rate_limited` instead of queueing for seconds.
 */
export class HashQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  readonly #waiting: Array<() => void> = [];
  #running = 0;

  constructor(options: { concurrency?: number; maxWaiting?: number } = {}) {
    this.#concurrency = Math.max(1, options.concurrency ?? libuvPoolSize());
    this.#maxWaiting = Math.max(0, options.maxWaiting ?? 8 * this.#concurrency);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxWaiting) throw new RateLimited(1000, 'the server is busy checking passwords');
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so `running` never overshoots.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}

function libuvPoolSize(): number {
  const size = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isSafeInteger(size) && size > 0 ? Math.min(size, 1024) : 4;
}
