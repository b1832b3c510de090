/** One readiness check: resolves when the dependency answers, throws (or resolves false) when not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface Readiness {
  ready: boolean;
  /** Each check by name: `ok` or `failing` (never the error text: `/readyz` answers anyone). */
  checks: Record<string, 'ok' | 'failing'>;
}

/** Past this a check counts as failing: a probe must answer well within its own timeout. */
export const CHECK_TIMEOUT_MS = 2000;

/** Runs every check at once, each bounded by CHECK_TIMEOUT_MS. */
export async function readiness(checks: Record<string, ReadinessCheck>): Promise<Readiness> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => passes(checks[name]!)));
  const answer: Readiness = { ready: results.every(Boolean), checks: {} };
  names.forEach((name, i) => {
    answer.checks[name] = results[i] ? 'ok' : 'failing';
  });
  return answer;
}

async function passes(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return (await Promise.race([check().then((value) => value !== false), timeout])) === true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A check whose answer is kept for `ttlMs` (a peer's reachability): probes every few seconds from
 * several load balancers must not become a stream of requests to the registry.
 */
export function cachedCheck(check: ReadinessCheck, ttlMs = 5000): ReadinessCheck {
  let until = 0;
  let last: Promise<unknown> | null = null;
  return () => {
    const now = Date.now();
    if (!last || now >= until) {
      until = now + ttlMs;
      last = check().then(
        (value) => value,
        () => false,
      );
    }
    return last;
  };
}
