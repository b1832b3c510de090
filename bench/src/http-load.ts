import autocannon from 'autocannon';
import { pairedMedian } from './harness.js';

export interface HttpLoad {
  perSecond: number;
  /** Answers received in the run. */
  total: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export interface HttpLoadOptions {
  headers?: Record<string, string>;
  seconds?: number;
  connections?: number;
  requests?: LoadRequest[];
  /** Every request, from whichever connection, takes the next item: one walk shared by all connections. */
  next?: () => LoadRequest;
  /** Send this many requests instead of loading for `seconds` (and stop at `seconds` if they are not done by then). */
  amount?: number;
}

/** Closed-loop HTTP load with keep-alive connections (autocannon) for `seconds` or `amount` requests. */
export async function httpLoad(url: string, options: HttpLoadOptions = {}): Promise<HttpLoad> {
  const next = options.next;
  const started = performance.now();
  // Without a callback autocannon answers its tracker, a thenable that can also be stopped (lib/init.js).
  const instance = autocannon({
    url,
    connections: options.connections ?? 32,
    pipelining: 1,
    duration: options.seconds ?? 4,
    ...(options.amount ? { amount: options.amount } : {}),
    headers: options.headers ?? {},
    // Each connection walks this list in turn: many users and many items instead of one.
    ...(options.requests ? { requests: options.requests.map((r) => ({ method: 'GET' as const, path: r.path, headers: r.headers })) } : {}),
    // autocannon calls setupRequest for every request it sends (lib/requestIterator.js), so a
    // shared iterator hands each item out once, whichever connection asks: a list walked once
    // overall, not once per connection.
    ...(next ? { requests: [{ method: 'GET' as const, setupRequest: (request) => ({ ...request, ...next() }) }] } : {}),
  }) as Promise<autocannon.Result> & { stop(): void };
  const cap = options.amount ? setTimeout(() => instance.stop(), (options.seconds ?? 4) * 1000) : null;
  const result = await instance;
  if (cap) clearTimeout(cap);
  const elapsed = (performance.now() - started) / 1000;
  return {
    // Timed here, answers over wall-clock time: autocannon's per-second average is computed
    // from whole-second samples, which say little of a run of a second or two (or of one that
    // stopped at a fixed amount).
    perSecond: result.requests.total / elapsed,
    total: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** One request of a list a load walks through (a path on the load's URL, with its own headers). */
export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
}

/** What a comparison loads: one URL (with headers), a list walked in turn, or a shared walk (`next`, `amount`). */
export interface LoadTarget {
  url: string;
  headers?: Record<string, string>;
  requests?: LoadRequest[];
  next?: () => LoadRequest;
  amount?: number;
}

export interface HttpComparison {
  subject: HttpLoad;
  baseline: HttpLoad;
  /** subject/baseline of every round, in the order run. */
  ratios: number[];
}

/**
 * The subject against the baseline in paired rounds, the median kept (harness `pairedMedian`),
 * after a warm-up in which the JIT and the servers' caches settle. `beforeSubject` runs before
 * each subject round (a cold run waits there for the next second).
 */
export async function compareHttp(
  subject: LoadTarget,
  baseline: LoadTarget,
  options: { rounds?: number; seconds?: number; warmUp?: boolean; beforeSubject?: () => Promise<void>; strict?: boolean } = {},
): Promise<HttpComparison> {
  const seconds = options.seconds ?? 2;
  const load = (target: LoadTarget) =>
    httpLoad(target.url, {
      ...(target.headers ? { headers: target.headers } : {}),
      ...(target.requests ? { requests: target.requests } : {}),
      ...(target.next ? { next: target.next } : {}),
      ...(target.amount ? { amount: target.amount } : {}),
      seconds,
    });
  if (options.warmUp !== false) {
    await load(baseline);
    await load(subject);
  }
  const checked = async () => {
    const s = await load(subject);
    // Not strict (a registry under load): failures are counted in the figure's notes instead.
    if (options.strict !== false && (s.non2xx > 0 || s.errors > 0))
      throw new Error(`subject answered ${s.non2xx} non-2xx and ${s.errors} errors`);
    return s;
  };
  const { median, ratios } = await pairedMedian(
    checked,
    () => load(baseline),
    (run) => run.perSecond,
    {
      rounds: options.rounds ?? 7,
      ...(options.beforeSubject ? { beforeSubject: options.beforeSubject } : {}),
    },
  );
  return { subject: median.subject, baseline: median.baseline, ratios };
}

/** "p50 1 ms, p99 8 ms", and the failures if any (a loaded server may time out or refuse). */
export function latencyOf(load: HttpLoad): string {
  if (load.total === 0) return `no answer within the round (${load.errors} errors/timeouts)`;
  const failures = load.errors + load.non2xx > 0 ? `; ${load.non2xx} non-2xx, ${load.errors} errors/timeouts` : '';
  return `p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms${failures}`;
}

/** "0.71–0.84 over 5 rounds": how far the rounds of a comparison spread. */
export function spreadOf(ratios: number[]): string {
  const low = Math.min(...ratios).toFixed(2);
  const high = Math.max(...ratios).toFixed(2);
  return `rounds ${low}–${high} (median of ${ratios.length})`;
}
