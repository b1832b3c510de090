import { SwarmError } from '@swarm/protocol';

/**
 * The standard roles of every domain service (docs/SERVICE-KIT.md): `reader` may read, `editor`
 * may also create, change and delete, `admin` may do everything. A token's `roles` claim names
 * them; any other role opens nothing in a domain service.
 */
export const STANDARD_ROLES = ['reader', 'editor', 'admin'] as const;
export type StandardRole = (typeof STANDARD_ROLES)[number];

/** The roles that grant `needed`: a higher role includes every lower one. */
const GRANTED_BY: Record<StandardRole, readonly StandardRole[]> = {
  reader: ['reader', 'editor', 'admin'],
  editor: ['editor', 'admin'],
  admin: ['admin'],
};

export function isStandardRole(value: unknown): value is StandardRole {
  return typeof value === 'string' && (STANDARD_ROLES as readonly string[]).includes(value);
}

/** Whether a token's roles grant `needed`. A missing or malformed claim grants nothing. */
export function hasRole(roles: unknown, needed: StandardRole): boolean {
  return Array.isArray(roles) && GRANTED_BY[needed].some((role) => roles.includes(role));
}

/** `403 forbidden`, naming the role, unless the roles grant `needed`. The one role check of every part. */
export function requireRole(roles: unknown, needed: StandardRole): void {
  if (!hasRole(roles, needed)) {
    const others = GRANTED_BY[needed].filter((role) => role !== needed);
    const or = others.length > 0 ? ` (or ${others.join(' or ')})` : '';
    throw new SwarmError('forbidden', `this needs the ${needed} role${or}`);
  }
}
