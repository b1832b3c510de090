import { requireAppId, ServiceId, SwarmError } from '@swarm/protocol';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ReadFilters {
  app_id: string;
  service_id?: string;
  level?: LogLevel;
  since?: number;
  limit?: number;
}

const ALLOWED = new Set(['app_id', 'service_id', 'level', 'since', 'limit']);

/** The owner-read filters of a query string; anything odd is `invalid_request`. */
export function readFilters(query: unknown, allowed: ReadonlyArray<keyof ReadFilters>): ReadFilters {
  const params = (query ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(params)) {
    if (!ALLOWED.has(name) || !allowed.includes(name as keyof ReadFilters))
      throw new SwarmError('invalid_request', `unknown parameter ${name}`);
    if (typeof value !== 'string') throw new SwarmError('invalid_request', `${name} must be given once`);
  }
  const { app_id, service_id, level, since, limit } = params as Record<string, string | undefined>;
  if (app_id === undefined) throw new SwarmError('invalid_request', 'app_id is required');
  const filters: ReadFilters = { app_id: requireAppId(app_id) };
  if (service_id !== undefined) {
    if (!ServiceId.safeParse(service_id).success) throw new SwarmError('invalid_request', 'service_id is malformed');
    filters.service_id = service_id;
  }
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level))
      throw new SwarmError('invalid_request', `level must be one of ${LOG_LEVELS.join(', ')}`);
    filters.level = level as LogLevel;
  }
  if (since !== undefined) filters.since = integerParam('since', since, 0, Number.MAX_SAFE_INTEGER);
  if (limit !== undefined) filters.limit = integerParam('limit', limit, 1, 10_000);
  return filters;
}

function integerParam(name: string, value: string, min: number, max: number): number {
  const number = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max)
    throw new SwarmError('invalid_request', `${name} must be an integer ${min}–${max}`);
  return number;
}
