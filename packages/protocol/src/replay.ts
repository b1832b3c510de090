import { SwarmError } from './errors.js';
import { protocolObserver } from './observe.js';

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
 * Every nonce namespace the project uses, in one place. SPEC §3: a nonce is consumed at most
 * once per signing key, whatever the key signed, so one scope per key serves every purpose.
 * A part that shares one store with other parts prefixes these with its own name
 * (`scopedReplayStore`), because the registry sends one broadcast, with one nonce, to several.
 */
export const nonceScopes = {
  /** Messages signed by one key: Master, Guardian, provider or instance key. */
  signer: (publicKey: string) => `key:${publicKey}`,
  /** Broadcasts of one registry, signed with its registry key (SPEC §9.4). */
  broadcast: (authority: string) => `broadcast:${authority}`,
} as const;

/** Margin for the receiver's own clock on top of the freshness window. */
const CLOCK_MARGIN_SECONDS = 60;

/**
 * How long a consumed nonce is kept: as long as a message with this timestamp is fresh, plus a
 * margin. After that the timestamp check alone refuses a replay.
 */
export function nonceExpiresAt(timestamp: number, windowSeconds: number): number {
  return timestamp + windowSeconds + CLOCK_MARGIN_SECONDS;
}

/**
 * Consumes `nonce` in `scope` or throws `nonce_reused`. Call only after the signature verified,
 * so a forger cannot burn someone else's nonces (SPEC §3).
 */
export async function consumeNonce(replay: ReplayStore, scope: string, nonce: string, expiresAt: number): Promise<void> {
  if (!(await replay.unique(scope, nonce, expiresAt))) {
    protocolObserver()?.nonceRefused();
    throw new SwarmError('nonce_reused', 'this nonce was already used with this key');
  }
}

/** The same store with every namespace prefixed: parts that share one database keep their nonces apart. */
export function scopedReplayStore(store: ReplayStore, prefix: string): ReplayStore {
  return { unique: (namespace, nonce, expiresAt) => store.unique(`${prefix}:${namespace}`, nonce, expiresAt) };
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
