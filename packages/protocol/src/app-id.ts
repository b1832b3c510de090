import { SwarmError } from './errors.js';

export interface AppId {
  tld: string;
  registry: string;
  namespace: string;
  projectSlug: string;
  hash: string;
}

const APP_ID = /^([a-z]{2,63})\.([a-z0-9-]{1,63})\.([a-z0-9_-]{1,63})\.([a-z0-9_-]{1,63})\.([a-z0-9]{6,32})$/;
export const NAMESPACE_PATTERN = /^[a-z0-9_-]{1,63}$/;
export const PROJECT_SLUG_PATTERN = NAMESPACE_PATTERN;

/** Parses `<tld>.<registry>.<namespace>.<project_slug>.<hash>` (SPEC §2); else `invalid_app_id`. */
export function parseAppId(value: unknown): AppId {
  const match = typeof value === 'string' ? APP_ID.exec(value) : null;
  if (!match) throw new SwarmError('invalid_app_id', 'app_id must be <tld>.<registry>.<namespace>.<project_slug>.<hash>');
  const [, tld, registry, namespace, projectSlug, hash] = match as unknown as [string, string, string, string, string, string];
  return { tld, registry, namespace, projectSlug, hash };
}

export function isAppId(value: unknown): value is string {
  return typeof value === 'string' && APP_ID.test(value);
}

export function formatAppId(id: AppId): string {
  return `${id.tld}.${id.registry}.${id.namespace}.${id.projectSlug}.${id.hash}`;
}

/** The registry authority an app_id names: `<registry>.<tld>` (`omiappreg.org`). */
export function registryAuthority(appId: string | AppId): string {
  const id = typeof appId === 'string' ? parseAppId(appId) : appId;
  return `${id.registry}.${id.tld}`;
}

/** Splits an authority `<registry>.<tld>` into its labels; refuses anything else. */
export function parseAuthority(authority: string): { registry: string; tld: string } {
  const match = /^([a-z0-9-]{1,63})\.([a-z]{2,63})$/.exec(authority);
  if (!match) throw new SwarmError('invalid_request', 'a registry authority is <registry>.<tld>');
  return { registry: match[1] as string, tld: match[2] as string };
}

/**
 * The app's DNS zone (SPEC §7): the app_id reversed, with a trailing dot.
 * `org.omiappreg.alice.business_app.7f8a9d` → `7f8a9d.business_app.alice.omiappreg.org.`
 */
export function appDnsZone(appId: string | AppId): string {
  const id = typeof appId === 'string' ? parseAppId(appId) : appId;
  return `${id.hash}.${id.projectSlug}.${id.namespace}.${id.registry}.${id.tld}.`;
}
