import { type SigningKey, type Tier, TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import type { EgressOptions, MetricsOptions } from '@swarm/runtime';
import { DEFAULT_HEARTBEAT_CONCURRENCY } from './heartbeat.js';

/** Object bytes per page of a transfer by default (base64 makes them a third more, within the 16 MiB answer cap). */
export const DEFAULT_TRANSFER_PAGE_BYTES = 4 * 1024 * 1024;

export interface ServiceOptions {
  port?: number;
  host?: string;
  /** What peers use to reach this service; default `http://<host>:<port>`. */
  publicUrl?: string;
  provider: string;
  serviceType: string;
  description?: string;
  tiers: Tier[];
  regions: string[];
  /** Else created once and kept in `<dataDir>/provider-key.pem` (0600). */
  providerKey?: SigningKey;
  /** The registries trusted (SPEC §2); a `TrustedRegistries` table is shared live (an operator's trust file, `watchTrustFile`). */
  trustedRegistries: TrustedRegistry[] | TrustedRegistries;
  dataDir: string;
  /** `postgres://…` switches from SQLite to PostgreSQL. */
  databaseUrl?: string;
  databaseSchema?: string;
  /** Nonces shared by every replica through Redis. */
  redisUrl?: string;
  heartbeatIntervalSeconds?: number;
  /** Heartbeats in flight at once (default DEFAULT_HEARTBEAT_CONCURRENCY, 8); they are spread over the interval. */
  heartbeatConcurrency?: number;
  /**
   * `batch` (default): one provider heartbeat per registry and interval for all instances, per
   * instance where a registry lacks it; `instance`: every instance signs its own (SPEC §9.2).
   */
  heartbeats?: 'batch' | 'instance';
  reportFlushSeconds?: number;
  contextRefreshSeconds?: number;
  /** How often the Auth Providers' lists of voided users are read; default 10 (their max-age). */
  revocationPollSeconds?: number;
  bindingRetry?: { initialMs?: number; maxMs?: number };
  freshnessSeconds?: number;
  /** Items per page this service serves when its instances move away (default 100; docs/DATA-TRANSFER.md). */
  transferPageItems?: number;
  /** Object bytes per page this service serves when its instances move away (default 4 MiB, at most 8 MiB). */
  transferPageBytes?: number;
  /**
   * Where reports may go (the Billing and Logging an app's context names): internal addresses
   * are refused unless `allow` lists them (docs/OPERATIONS.md). Trusted registries always pass.
   */
  egress?: EgressOptions;
  /** Who may read `/metrics` and where (docs/OPERATIONS.md, "Metrics"). */
  metrics?: MetricsOptions;
  logLevel?: string | false;
}

export interface ServiceConfig {
  port: number;
  host: string;
  publicUrl: string | undefined;
  provider: string;
  serviceType: string;
  description: string;
  tiers: Tier[];
  regions: string[];
  dataDir: string;
  databaseUrl: string | undefined;
  databaseSchema: string | undefined;
  redisUrl: string | undefined;
  heartbeatMs: number;
  heartbeatConcurrency: number;
  heartbeats: 'batch' | 'instance';
  reportFlushMs: number;
  contextRefreshMs: number;
  /** How often the Auth Providers' lists of voided users are read (default 10 s). */
  revocationPollMs: number;
  bindingRetryInitialMs: number;
  bindingRetryMaxMs: number;
  freshnessSeconds: number;
  transferPageItems: number;
  transferPageBytes: number;
  logLevel: string | false | undefined;
}

/** Applies defaults and refuses contradictions before anything starts. */
export function resolveConfig(options: ServiceOptions): ServiceConfig {
  if (options.tiers.length === 0) throw new Error('a service offers at least one tier');
  if (options.regions.length === 0) throw new Error('a service offers at least one region');
  for (const tier of options.tiers) {
    if (tier.storage_limit_gb_default > tier.storage_limit_gb_max) throw new Error(`tier ${tier.name}: default storage is over its max`);
  }
  if (options.heartbeatConcurrency !== undefined && !(Number.isInteger(options.heartbeatConcurrency) && options.heartbeatConcurrency > 0))
    throw new Error('heartbeatConcurrency must be a positive integer');
  if (options.heartbeats !== undefined && options.heartbeats !== 'batch' && options.heartbeats !== 'instance')
    throw new Error('heartbeats must be batch or instance');
  if (options.transferPageItems !== undefined && !(Number.isInteger(options.transferPageItems) && options.transferPageItems > 0))
    throw new Error('transferPageItems must be a positive integer');
  if (options.transferPageBytes !== undefined && !(Number.isInteger(options.transferPageBytes) && options.transferPageBytes > 0))
    throw new Error('transferPageBytes must be a positive integer');
  if (TrustedRegistries.of(options.trustedRegistries).list().length === 0) throw new Error('a service trusts at least one registry');
  const seconds = (value: number | undefined, fallback: number) => {
    const chosen = value ?? fallback;
    if (!(chosen > 0)) throw new Error('intervals must be positive');
    return Math.round(chosen * 1000);
  };
  return {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    publicUrl: options.publicUrl?.replace(/\/+$/, ''),
    provider: options.provider,
    serviceType: options.serviceType,
    description: options.description ?? options.serviceType,
    tiers: options.tiers,
    regions: options.regions,
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    databaseSchema: options.databaseSchema,
    redisUrl: options.redisUrl,
    heartbeatMs: seconds(options.heartbeatIntervalSeconds, 10),
    heartbeatConcurrency: options.heartbeatConcurrency ?? DEFAULT_HEARTBEAT_CONCURRENCY,
    heartbeats: options.heartbeats ?? 'batch',
    reportFlushMs: seconds(options.reportFlushSeconds, 10),
    contextRefreshMs: seconds(options.contextRefreshSeconds, 300),
    revocationPollMs: seconds(options.revocationPollSeconds, 10),
    bindingRetryInitialMs: options.bindingRetry?.initialMs ?? 1000,
    bindingRetryMaxMs: options.bindingRetry?.maxMs ?? 60_000,
    freshnessSeconds: options.freshnessSeconds ?? 300,
    transferPageItems: Math.min(options.transferPageItems ?? 100, 1000),
    transferPageBytes: Math.min(options.transferPageBytes ?? DEFAULT_TRANSFER_PAGE_BYTES, 2 * DEFAULT_TRANSFER_PAGE_BYTES),
    logLevel: options.logLevel,
  };
}

/** The local swarm's domain-service offer (docs/DEVELOPING.md). */
export const LOCAL_TIERS: Tier[] = [
  { name: 'free', storage_limit_gb_max: 1, storage_limit_gb_default: 1 },
  { name: 'pro_cluster', storage_limit_gb_max: 100, storage_limit_gb_default: 10 },
];
export const LOCAL_REGIONS = ['local', 'eu-central-1', 'us-east-1'];
