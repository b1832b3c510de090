/**
 * What an outbox (registry broadcasts, a provider's usage and log reports) does with a row after
 * one attempt, and the per-receiver lanes that keep a dead receiver from delaying the others.
 * One home for both outboxes, so they classify answers and back off alike.
 */

/** `delivered`: forget the row; `retry`: back off and try again; `dead`: the receiver will never take it. */
export type DeliveryOutcome = 'delivered' | 'retry' | 'dead';

/**
 * How an answer counts: 2xx is delivered; no answer (refused, reset, timed out, redirected), 408,
 * 429 and 5xx are worth retrying; any other 4xx is permanent, as Amazon SNS treats HTTP
 * endpoints' client errors.
 */
export function deliveryOutcome(status: number | null): DeliveryOutcome {
  if (status === null) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  if (status >= 400) return 'dead';
  return 'retry';
}

/** A receiver is the destination origin (`scheme://host:port`): one lane each. Null for what is not an http(s) URL. */
export function receiverOf(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

/** Exponential backoff with jitter (half fixed, half random), from `initialMs` doubling up to `maxMs`. */
export function retryDelayMs(attempts: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempts, 0), 30));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

export interface LaneOptions {
  /** First pause of a lane whose breaker opened; doubles at each reopening. */
  initialMs: number;
  maxMs: number;
  /** Consecutive failed attempts (no answer, 408, 429, 5xx) that open a lane's breaker. */
  failuresToOpen: number;
}

/** `go`: send freely; `probe`: the breaker is half-open, send one row to test it; `wait`: leave the lane alone. */
export type LaneAdmission = 'go' | 'probe' | 'wait';

interface LaneState {
  failures: number;
  openings: number;
  openUntil: number;
  probing: boolean;
  lastError: string | null;
}

/**
 * Circuit breakers, one per receiver, kept in memory (each replica learns on its own). A lane
 * opens after `failuresToOpen` consecutive failures and stays shut for a backoff that doubles at
 * each reopening; then one probe goes through: an answer closes it, another failure reopens it.
 * Any answer, even a permanent 4xx, shows the receiver is alive and closes the lane.
 */
export class ReceiverLanes {
  readonly #options: LaneOptions;
  readonly #lanes = new Map<string, LaneState>();

  constructor(options: LaneOptions) {
    this.#options = options;
  }

  admit(receiver: string, nowMs: number): LaneAdmission {
    const lane = this.#lanes.get(receiver);
    if (!lane || lane.openUntil === 0) return 'go';
    if (nowMs < lane.openUntil || lane.probing) return 'wait';
    return 'probe';
  }

  /** Whether the receiver's last attempt failed (its lane is suspect, open or not). */
  failing(receiver: string): boolean {
    return this.#lanes.has(receiver);
  }

  /** Marks the start of a half-open lane's single probe. */
  startProbe(receiver: string): void {
    const lane = this.#lanes.get(receiver);
    if (lane) lane.probing = true;
  }

  /** Ends a probe that sent nothing (its row was taken elsewhere): the next one may go. */
  cancelProbe(receiver: string): void {
    const lane = this.#lanes.get(receiver);
    if (lane) lane.probing = false;
  }

  /** When a lane that waits may be tried again (ms); 0 when it is not open. */
  openUntil(receiver: string): number {
    return this.#lanes.get(receiver)?.openUntil ?? 0;
  }

  record(receiver: string, outcome: DeliveryOutcome, nowMs: number, error: string | null = null): void {
    if (outcome !== 'retry') {
      this.#lanes.delete(receiver);
      return;
    }
    const lane = this.#lanes.get(receiver) ?? { failures: 0, openings: 0, openUntil: 0, probing: false, lastError: null };
    lane.failures += 1;
    lane.lastError = error;
    if (lane.probing || lane.failures >= this.#options.failuresToOpen) {
      lane.openUntil = nowMs + retryDelayMs(lane.openings, this.#options.initialMs, this.#options.maxMs);
      lane.openings += 1;
      lane.probing = false;
    }
    this.#lanes.set(receiver, lane);
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}
