import { type AppRecord, jwkFromPublicKey, jwkThumbprint, type OperationalContext, type SignedContext, sign } from '@swarm/protocol';
import type { RegistryContext } from './context.js';
import type { AppRow } from './storage/apps.js';

function jwk(publicKey: string) {
  return { ...jwkFromPublicKey(publicKey), kid: jwkThumbprint(publicKey) };
}

/**
 * The app's auth section: the current Auth key, and the previous one while it is retiring. The
 * retiring key carries its end as `exp`, signed with the rest, so a service stops taking it on
 * time even when it cannot reach the registry for a newer context.
 */
export function authSection(app: AppRow, now: number): OperationalContext['auth'] {
  if (app.authProviderUrl === null || app.authPublicKey === null) return null;
  const keys: NonNullable<OperationalContext['auth']>['jwks']['keys'] = [jwk(app.authPublicKey)];
  if (app.authPreviousPublicKey !== null && app.authPreviousExpiresAt !== null && app.authPreviousExpiresAt > now) {
    keys.push({ ...jwk(app.authPreviousPublicKey), exp: app.authPreviousExpiresAt });
  }
  return { auth_provider_url: app.authProviderUrl, issuer: app.authProviderUrl, audience: app.appId, jwks: { keys } };
}

export function operationalContext(ctx: RegistryContext, app: AppRow, now: number): OperationalContext {
  return {
    app_id: app.appId,
    config_epoch: app.configEpoch,
    issued_at: now,
    auth: authSection(app, now),
    billing_provider_url: app.billingProviderUrl,
    logging_service_url: app.loggingServiceUrl,
    services: app.services,
    registry: { authority: ctx.authority, public_key: ctx.registryKey.publicKey },
  };
}

export function signedContext(ctx: RegistryContext, app: AppRow, now: number): SignedContext {
  const context = operationalContext(ctx, app, now);
  return { operational_context: context, context_signature: sign('operational_context', context, ctx.registryKey.privateKey) };
}

/** GET /v1/apps/{app_id}: what anyone may know about an app (public keys and URLs only). */
export function appPublicRecord(app: AppRow, now: number): AppRecord {
  return {
    app_id: app.appId,
    owner_namespace: app.ownerNamespace,
    project_slug: app.projectSlug,
    display_name: app.displayName,
    description: app.description,
    status: app.status,
    created_at: app.createdAt,
    config_epoch: app.configEpoch,
    auth: authSection(app, now),
    billing_provider_url: app.billingProviderUrl,
    logging_service_url: app.loggingServiceUrl,
    services: app.services,
  };
}
