import { SwarmError } from '@swarm/protocol';

/**
 * `?limit=N` of a paged list: the default when absent, the maximum when larger (SPEC §15),
 * `400 invalid_request` when not a positive integer.
 */
export function pageLimit(value: unknown, defaultLimit: number, maxLimit: number): number {
  if (value === undefined || value === '') return defaultLimit;
  const limit = typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1) throw new SwarmError('invalid_request', 'limit must be a positive integer');
  return Math.min(limit, maxLimit);
}

/** `?after=SEQ` of a paged list: 0 when absent, `400 invalid_request` when not a non-negative integer. */
export function pageAfterSeq(value: unknown): number {
  if (value === undefined || value === '') return 0;
  if (typeof value !== 'string' || !/^[0-9]{1,15}$/.test(value)) {
    throw new SwarmError('invalid_request', 'after must be a sequence number');
  }
  return Number(value);
}
