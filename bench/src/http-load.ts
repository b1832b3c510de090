import autocannon from 'autocannon';

export interface HttpLoad {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

/** Closed-loop HTTP load with keep-alive connections (autocannon) for `seconds`. */
export async function httpLoad(
  url: string,
  options: { headers?: Record<string, string>; seconds?: number; connections?: number; requests?: LoadRequest[] } = {},
): Promise<HttpLoad> {
  const result = await autocannon({
    url,
    connections: options.connections ?? 32,
    pipelining: 1,
    duration: options.seconds ?? 4,
    headers: options.headers ?? {},
    // Each connection walks this list in turn: many users and many items instead of one.
    ...(options.requests ? { requests: options.requests.map((r) => ({ method: 'GET' as const, path: r.path, headers: r.headers })) } : {}),
  });
  return {
    perSecond: result.requests.average,
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

/** What a comparison loads: one URL (with headers), or a list of requests walked in turn. */
export interface LoadTarget {
  url: string;
  headers?: Record<string, string>;
  requests?: LoadRequest[];
}

export interface HttpComparison {
  subject: HttpLoad;
  baseline: HttpLoad;
  /** subject/baseline of every round, in the order run. */
  ratios: number[];
}

/**
 * Runs the baseline and the subject back to back in several rounds (which goes first alternates)
 * and keeps the round whose ratio is the median: a burst of load from elsewhere on the machine
 * skews one round's pair, not the figure. Each round's pair is measured seconds apart, so slow
 * drifts cancel in its ratio.
 */
export async function compareHttp(
  subject: LoadTarget,
  baseline: LoadTarget,
  options: { rounds?: number; seconds?: number } = {},
): Promise<HttpComparison> {
  const rounds = options.rounds ?? 7;
  const seconds = options.seconds ?? 2;
  const load = (target: LoadTarget) =>
    httpLoad(target.url, {
      ...(target.headers ? { headers: target.headers } : {}),
      ...(target.requests ? { requests: target.requests } : {}),
      seconds,
    });
  // Warm-up: the JIT and the servers' caches settle before anything counts.
  await load(baseline);
  await load(subject);
  const pairs: Array<{ subject: HttpLoad; baseline: HttpLoad; ratio: number }> = [];
  for (let i = 0; i < rounds; i++) {
    let s: HttpLoad;
    let b: HttpLoad;
    if (i % 2 === 0) {
      b = await load(baseline);
      s = await load(subject);
    } else {
      s = await load(subject);
      b = await load(baseline);
    }
    if (s.non2xx > 0 || s.errors > 0) throw new Error(`subject answered ${s.non2xx} non-2xx and ${s.errors} errors`);
    pairs.push({ subject: s, baseline: b, ratio: s.perSecond / b.perSecond });
  }
  const median = [...pairs].sort((x, y) => x.ratio - y.ratio)[Math.floor(pairs.length / 2)] as (typeof pairs)[number];
  return { subject: median.subject, baseline: median.baseline, ratios: pairs.map((pair) => pair.ratio) };
}

/** "0.71–0.84 over 5 rounds": how far the rounds of a comparison spread. */
export function spreadOf(ratios: number[]): string {
  const low = Math.min(...ratios).toFixed(2);
  const high = Math.max(...ratios).toFixed(2);
  return `rounds ${low}–${high} (median of ${ratios.length})`;
}
