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
  options: { headers?: Record<string, string>; seconds?: number; connections?: number } = {},
): Promise<HttpLoad> {
  const result = await autocannon({
    url,
    connections: options.connections ?? 32,
    pipelining: 1,
    duration: options.seconds ?? 4,
    headers: options.headers ?? {},
  });
  return {
    perSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * Alternates loads on the subject and the baseline URL and keeps each one's best round, so
 * neither side is measured only while the machine is busier.
 */
export async function compareHttp(
  subject: { url: string; headers?: Record<string, string> },
  baseline: { url: string; headers?: Record<string, string> },
  options: { rounds?: number; seconds?: number } = {},
): Promise<[HttpLoad, HttpLoad]> {
  const rounds = options.rounds ?? 2;
  let best: [HttpLoad, HttpLoad] | null = null;
  for (let i = 0; i < rounds; i++) {
    const b = await httpLoad(baseline.url, { ...(baseline.headers ? { headers: baseline.headers } : {}), seconds: options.seconds ?? 3 });
    const s = await httpLoad(subject.url, { ...(subject.headers ? { headers: subject.headers } : {}), seconds: options.seconds ?? 3 });
    if (s.non2xx > 0 || s.errors > 0) throw new Error(`subject answered ${s.non2xx} non-2xx and ${s.errors} errors`);
    best = best ? [s.perSecond > best[0].perSecond ? s : best[0], b.perSecond > best[1].perSecond ? b : best[1]] : [s, b];
  }
  return best as [HttpLoad, HttpLoad];
}
