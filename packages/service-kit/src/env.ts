import type { TrustedRegistry } from '@swarm/protocol';
import type { ServiceOptions } from './options.js';

const text = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

function number(env: NodeJS.ProcessEnv, name: string, check: (n: number) => boolean): number | undefined {
  const value = text(env[name]);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!check(parsed)) throw new Error(`${name} is not valid: ${value}`);
  return parsed;
}

function trustedRegistries(value: string | undefined): TrustedRegistry[] | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('SWARM_TRUSTED_REGISTRIES must be JSON: [{ "authority", "baseUrl", "publicKey" }]');
  }
  const ok = (entry: unknown): entry is TrustedRegistry =>
    typeof entry === 'object' &&
    entry !== null &&
    ['authority', 'baseUrl', 'publicKey'].every((key) => typeof (entry as Record<string, unknown>)[key] === 'string');
  if (!Array.isArray(parsed) || !parsed.every(ok))
    throw new Error('SWARM_TRUSTED_REGISTRIES must be [{ "authority", "baseUrl", "publicKey" }]');
  return parsed.map(({ authority, baseUrl, publicKey }) => ({ authority, baseUrl, publicKey }));
}

function heartbeatMode(value: string | undefined): ServiceOptions['heartbeats'] {
  if (value === undefined || value === 'batch' || value === 'instance') return value;
  throw new Error(`SWARM_HEARTBEATS must be batch or instance: ${value}`);
}

/**
 * Service options from SWARM_* environment variables (docs/SERVICE-KIT.md); explicit options
 * win over them: `startCmsArticle({ ...serviceOptionsFromEnv(), port: 7410 })`.
 */
export function serviceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ServiceOptions> {
  const isPort = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  const isPositive = (n: number) => Number.isFinite(n) && n > 0;
  const options: Partial<ServiceOptions> = {
    port: number(env, 'SWARM_SERVICE_PORT', isPort),
    host: text(env.SWARM_HOST),
    publicUrl: text(env.SWARM_PUBLIC_URL),
    dataDir: text(env.SWARM_DATA_DIR),
    databaseUrl: text(env.SWARM_DATABASE_URL),
    databaseSchema: text(env.SWARM_DATABASE_SCHEMA),
    redisUrl: text(env.SWARM_REDIS_URL),
    trustedRegistries: trustedRegistries(text(env.SWARM_TRUSTED_REGISTRIES)),
    heartbeatIntervalSeconds: number(env, 'SWARM_HEARTBEAT_SECONDS', isPositive),
    heartbeatConcurrency: number(env, 'SWARM_HEARTBEAT_CONCURRENCY', isPositive),
    heartbeats: heartbeatMode(text(env.SWARM_HEARTBEATS)),
    reportFlushSeconds: number(env, 'SWARM_REPORT_FLUSH_SECONDS', isPositive),
    contextRefreshSeconds: number(env, 'SWARM_CONTEXT_REFRESH_SECONDS', isPositive),
    freshnessSeconds: number(env, 'SWARM_FRESHNESS_SECONDS', (n) => Number.isInteger(n) && n > 0),
  };
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<ServiceOptions>;
}
