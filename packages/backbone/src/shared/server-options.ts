import { join } from 'node:path';
import { DEFAULT_FRESHNESS_SECONDS, TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import {
  cachedCheck,
  createHttpApp,
  type Database,
  type EgressOptions,
  getJson,
  type MetricsOptions,
  openDatabase,
  PartMetrics,
  poolGauge,
  type ReadinessCheck,
} from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';

/** What each backbone part is started with (docs/DEVELOPING.md, common options). */
export interface BackboneServerOptions {
  /** 0 = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** What peers use to reach this part; default `http://<host>:<port>`. */
  publicUrl?: string;
  /** SQLite files live here (and the auth provider's key). */
  dataDir: string;
  /** `postgres://…` switches storage to PostgreSQL. */
  databaseUrl?: string;
  /** PostgreSQL schema (created if missing); tests give each suite its own. */
  databaseSchema?: string;
  /** The registries trusted (SPEC §2); a `TrustedRegistries` table is shared live (an operator's trust file, `watchTrustFile`). */
  trustedRegistries: TrustedRegistry[] | TrustedRegistries;
  /** SPEC §3 freshness window, default 300 s. */
  freshnessSeconds?: number;
  /** pino level, or false for silence. */
  logLevel?: string | false;
  /** Outbound policy for tenant-chosen URLs (docs/OPERATIONS.md); trusted registries always pass. */
  egress?: EgressOptions;
  /** Who may read `/metrics` and where (docs/OPERATIONS.md, "Metrics"). */
  metrics?: MetricsOptions;
}

export interface ServerHandle {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  freshnessSeconds: number;
  trusted: TrustedRegistries;
}

export function resolveOptions(options: BackboneServerOptions): ResolvedOptions {
  if (!options.dataDir) throw new Error('dataDir is required');
  const freshnessSeconds = options.freshnessSeconds ?? DEFAULT_FRESHNESS_SECONDS;
  if (!Number.isSafeInteger(freshnessSeconds) || freshnessSeconds <= 0) throw new Error('freshnessSeconds must be a positive integer');
  return {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    freshnessSeconds,
    trusted: TrustedRegistries.of(options.trustedRegistries),
  };
}

/** SQLite `<dataDir>/<file>` unless a PostgreSQL URL is given. */
export function openPartDatabase<DB>(options: BackboneServerOptions, file: string): Database<DB> {
  return openDatabase<DB>({ url: options.databaseUrl, file: join(options.dataDir, file), schema: options.databaseSchema });
}

/**
 * A backbone part's HTTP app: its metrics (with the database pool), `/readyz` checking the
 * database and the trusted registries (asked at most every 5 s), `/metrics` as configured.
 */
export function backboneApp(name: string, options: BackboneServerOptions, database: Database<unknown>, resolved: ResolvedOptions) {
  const metrics = new PartMetrics();
  poolGauge(metrics, database.poolStats);
  const checks: Record<string, ReadinessCheck> = {
    database: () => sql`select 1`.execute(database.db),
    registry: cachedCheck(async () => {
      for (const registry of resolved.trusted.list()) {
        if ((await getJson(`${registry.baseUrl}/.well-known/swarm-registry`, { timeoutMs: 2000 })).status !== 200) return false;
      }
      return true;
    }),
  };
  const app = createHttpApp({ name, logLevel: options.logLevel, metrics, metricsAccess: options.metrics, checks });
  return { app, metrics };
}
