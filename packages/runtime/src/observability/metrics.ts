import { observeProtocol } from '@swarm/protocol';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The metrics of one part (registry, auth provider, billing, logging, a domain service), in a
 * registry of its own: several parts may share a process (tests, `swarm up`) and each answers
 * `/metrics` with its own families. Names follow Prometheus's conventions (`swarm_` prefix,
 * base units in the name, `_total` on counters); label values come from bounded sets (route
 * patterns, methods, codes, purposes, kinds), never an app_id, a user or a URL.
 */
export class PartMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'code'>;
  /** Label children by `method route code`: found once, then observed without hashing labels. */
  readonly #httpChildren = new Map<string, { observe(value: number): void }>();

  constructor() {
    // The process's families start counting with its first part, not at its first scrape.
    processRegistry();
    this.httpDuration = this.histogram(
      'swarm_http_request_duration_seconds',
      'HTTP requests served, by method, route pattern and status code (the _count is the request count)',
      ['method', 'route', 'code'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
  }

  /** A counter; `collect`, when given, runs at scrape time (to add counts kept as plain numbers). */
  counter<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (counter: Counter<L>) => void,
  ): Counter<L> {
    return new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect
        ? {
            collect(this: Counter<L>) {
              collect(this);
            },
          }
        : {}),
    });
  }

  /** A gauge, read at scrape time by `collect` when given (database counts, pool use). */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (gauge: Gauge<L>) => Promise<void> | void,
  ): Gauge<L> {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect
        ? {
            async collect(this: Gauge<L>) {
              // A failing read leaves the family empty for this scrape rather than failing the scrape.
              await Promise.resolve(collect(this)).catch(() => this.reset());
            },
          }
        : {}),
    });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** One request served: `route` is the pattern the router matched (`unmatched` when none). */
  observeRequest(method: string, route: string, code: number, seconds: number): void {
    const key = `${method} ${route} ${code}`;
    let child = this.#httpChildren.get(key);
    if (!child) {
      child = this.httpDuration.labels({ method, route, code: String(code) });
      this.#httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** The part's families, then the process's (event loop, memory, CPU, signature checks). */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processRegistry().metrics()}`;
  }
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

let processMetrics: Registry | null = null;

/**
 * What belongs to the process rather than a part: Node's default metrics (event-loop delay,
 * heap, CPU, GC, open handles) and the protocol's checks, which run in whichever part called
 * them. Made once, on the first part's metrics.
 */
export function processRegistry(): Registry {
  if (processMetrics) return processMetrics;
  const registry = new Registry();
  // SPEC §15: every metric name starts with swarm_, the process's own too.
  collectDefaultMetrics({ register: registry, prefix: 'swarm_', eventLoopMonitoringPrecision: 10 });
  const verifications = new Counter({
    name: 'swarm_signature_verifications_total',
    help: 'Ed25519 signature verifications, by purpose and result (ok, failed)',
    labelNames: ['purpose', 'result'],
    registers: [registry],
  });
  const ok = new Map<string, { inc(): void }>();
  const failed = new Map<string, { inc(): void }>();
  const nonceRefusals = new Counter({
    name: 'swarm_nonce_refusals_total',
    help: 'Signed requests refused because their nonce was already used (nonce_reused)',
    registers: [registry],
  });
  observeProtocol({
    verified(purpose, passed) {
      const children = passed ? ok : failed;
      let child = children.get(purpose);
      if (!child) {
        child = verifications.labels({ purpose, result: passed ? 'ok' : 'failed' });
        children.set(purpose, child);
      }
      child.inc();
    },
    nonceRefused: () => nonceRefusals.inc(),
  });
  processMetrics = registry;
  return registry;
}

const CACHE_REQUESTS = 'swarm_cache_requests_total';
const CACHE_REQUESTS_HELP = 'Cache look-ups by cache and result (hit, miss)';

/** Look-ups of one cache, counted as plain numbers by the code that looks up. */
export interface CacheCounts {
  hit: number;
  miss: number;
}

/**
 * `swarm_cache_requests_total` for caches on a per-request path: the look-up bumps a plain
 * number (a labelled increment would cost more than some of these look-ups), and each scrape
 * adds what the numbers gained since the one before. One series per name and result, at 0
 * from the start; the hit ratio is `rate(hit) / rate(hit + miss)`.
 */
export function countedCaches<N extends string>(metrics: PartMetrics, names: readonly N[]): Record<N, CacheCounts> {
  const counts = Object.fromEntries(names.map((name) => [name, { hit: 0, miss: 0 }])) as Record<N, CacheCounts>;
  const published = Object.fromEntries(names.map((name) => [name, { hit: 0, miss: 0 }])) as Record<N, CacheCounts>;
  new Counter({
    name: CACHE_REQUESTS,
    help: CACHE_REQUESTS_HELP,
    labelNames: ['cache', 'result'],
    registers: [metrics.registry],
    collect(this: Counter<'cache' | 'result'>) {
      for (const name of names) {
        for (const result of ['hit', 'miss'] as const) {
          const gained = counts[name][result] - published[name][result];
          this.inc({ cache: name, result }, gained);
          published[name][result] += gained;
        }
      }
    },
  });
  return counts;
}

/** Rows an outbox holds and how long the oldest has waited, per receiver kind. */
export function outboxGauges(
  metrics: PartMetrics,
  read: () => Promise<Array<{ kind: string; pending: number; oldestCreatedAt: number | null; dead: number }>>,
): void {
  let last: Promise<Awaited<ReturnType<typeof read>>> | null = null;
  // One read serves the three families of a scrape.
  const rows = () => {
    last ??= read().finally(() => setTimeout(() => (last = null), 100).unref());
    return last;
  };
  metrics.gauge('swarm_outbox_depth', 'Outbox rows waiting for delivery, by receiver kind', ['receiver_kind'], async (gauge) => {
    gauge.reset();
    for (const row of await rows()) gauge.set({ receiver_kind: row.kind }, row.pending);
  });
  metrics.gauge(
    'swarm_outbox_oldest_age_seconds',
    'Age of the oldest outbox row waiting for delivery, by receiver kind (0 when none waits)',
    ['receiver_kind'],
    async (gauge) => {
      gauge.reset();
      const now = Date.now() / 1000;
      for (const row of await rows())
        gauge.set({ receiver_kind: row.kind }, row.oldestCreatedAt === null ? 0 : Math.max(0, now - row.oldestCreatedAt));
    },
  );
  metrics.gauge(
    'swarm_outbox_dead_letters',
    'Outbox rows given up on (dead letters), by receiver kind',
    ['receiver_kind'],
    async (gauge) => {
      gauge.reset();
      for (const row of await rows()) gauge.set({ receiver_kind: row.kind }, row.dead);
    },
  );
}

/** Connections of the part's PostgreSQL pool (nothing on SQLite, which has one connection and no pool). */
export function poolGauge(metrics: PartMetrics, stats: (() => { total: number; idle: number; waiting: number }) | null): void {
  if (!stats) return;
  metrics.gauge('swarm_db_pool_connections', 'Database pool connections by state (total, idle, waiting clients)', ['state'], (gauge) => {
    const now = stats();
    gauge.set({ state: 'total' }, now.total);
    gauge.set({ state: 'idle' }, now.idle);
    gauge.set({ state: 'waiting' }, now.waiting);
  });
}
