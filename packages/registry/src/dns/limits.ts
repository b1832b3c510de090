import { isIPv4, isIPv6 } from 'node:net';

/** What one client may cost Service DNS. Every field has a default (DEFAULT_DNS_LIMITS). */
export interface DnsLimits {
  /**
   * UDP answers per second to one client prefix (/24 for IPv4, /56 for IPv6), with a burst of one
   * second's worth; 0 turns response rate limiting off.
   */
  responsesPerSecond: number;
  /**
   * Of the answers over the limit, every `slip`-th goes out as an empty truncated reply (TC), so a
   * real client behind a forged flood retries over TCP; the rest are dropped. 0 drops them all.
   */
  slip: number;
  /** A TCP connection is closed this long after it opened, however busy (ms). */
  tcpLifetimeMs: number;
  /** A TCP connection with no whole query for this long is closed (ms); a byte alone does not count. */
  tcpIdleMs: number;
  /** Open TCP connections from one address; more are closed at once. */
  tcpPerAddress: number;
}

/**
 * BIND and NSD slip every 2nd limited answer and key on /24 and /56; NSD limits at 200 per second;
 * RFC 7766 §6.2.3 asks for idle timeouts of seconds; connection lifetimes and per-address caps are
 * what Unbound and Knot bound TCP clients with.
 */
export const DEFAULT_DNS_LIMITS: DnsLimits = {
  responsesPerSecond: 200,
  slip: 2,
  tcpLifetimeMs: 30_000,
  tcpIdleMs: 10_000,
  tcpPerAddress: 16,
};

/** Fills the defaults in and checks each limit. */
export function dnsLimits(given: Partial<DnsLimits> = {}): DnsLimits {
  const limits = { ...DEFAULT_DNS_LIMITS };
  for (const [name, value] of Object.entries(given) as [keyof DnsLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0 || !Number.isInteger(value))
      throw new RangeError(`DNS limit ${name} must be a whole number ≥ 0`);
    limits[name] = value;
  }
  for (const name of ['tcpLifetimeMs', 'tcpIdleMs', 'tcpPerAddress'] as const) {
    if (limits[name] < 1) throw new RangeError(`DNS limit ${name} must be at least 1`);
  }
  return limits;
}

export type RateDecision = 'answer' | 'slip' | 'drop';

/** Client prefixes tracked at once; past this the longest-tracked is forgotten (a full bucket). */
const MAX_TRACKED_PREFIXES = 65_536;

interface Bucket {
  tokens: number;
  refilledAt: number;
  limited: number;
}

/**
 * Response rate limiting (as BIND and NSD do it): a token bucket per client prefix. A reflected
 * flood names its victim as the source, so what the victim gets is bounded by the limit; the
 * slipped TC replies are no bigger than the query.
 */
export class ResponseRateLimiter {
  readonly #rate: number;
  readonly #slip: number;
  readonly #buckets = new Map<string, Bucket>();
  /** Each client address's prefix, worked out once: a datagram costs a map look-up, not a parse. */
  readonly #prefixes = new Map<string, string>();

  constructor(limits: Pick<DnsLimits, 'responsesPerSecond' | 'slip'>) {
    this.#rate = limits.responsesPerSecond;
    this.#slip = limits.slip;
  }

  decide(address: string, now = Date.now()): RateDecision {
    if (this.#rate === 0) return 'answer';
    const prefix = this.#prefixOf(address);
    let bucket = this.#buckets.get(prefix);
    if (!bucket) {
      if (this.#buckets.size >= MAX_TRACKED_PREFIXES) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      bucket = { tokens: this.#rate, refilledAt: now, limited: 0 };
      this.#buckets.set(prefix, bucket);
    }
    bucket.tokens = Math.min(this.#rate, bucket.tokens + ((now - bucket.refilledAt) * this.#rate) / 1000);
    bucket.refilledAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'answer';
    }
    bucket.limited++;
    return this.#slip > 0 && bucket.limited % this.#slip === 0 ? 'slip' : 'drop';
  }

  #prefixOf(address: string): string {
    let prefix = this.#prefixes.get(address);
    if (prefix === undefined) {
      // Bounded like the buckets; a flood of forged sources only starts the memo over.
      if (this.#prefixes.size >= MAX_TRACKED_PREFIXES) this.#prefixes.clear();
      prefix = clientPrefix(address);
      this.#prefixes.set(address, prefix);
    }
    return prefix;
  }
}

/** The /24 of an IPv4 address (also one written as IPv4-mapped IPv6), the /56 of an IPv6 one. */
export function clientPrefix(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const v4 = mapped ? mapped[1] : bare;
  if (v4 !== undefined && isIPv4(v4)) return `${v4.slice(0, v4.lastIndexOf('.'))}.0/24`;
  if (!isIPv6(bare)) return bare;
  const groups = expandIpv6(bare);
  // 56 bits: three whole groups and the high byte of the fourth.
  return `${groups.slice(0, 3).join(':')}:${(groups[3] ?? '0000').slice(0, 2)}00::/56`;
}

function expandIpv6(address: string): string[] {
  let text = address.toLowerCase();
  // A trailing dotted quad is the last two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) => group.padStart(4, '0'));
}
