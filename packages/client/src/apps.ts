import {
  type AppManifestData,
  AppRecord,
  AppRegistration,
  type BackboneUpdateData,
  ConfigEpochAnswer,
  NamespaceAppsAnswer,
  type SigningKey,
  signEnvelope,
} from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

/**
 * Registers an app in the namespace the Master key owns (SPEC §4.2).
 *
 * @example
 * const app = await registerApp(options, { namespace: 'alice', slug: 'blog', master });
 * console.log(app.app_id); // local.swarm.alice.blog.k3j9x2
 */
export async function registerApp(
  options: ClientOptions,
  input: { namespace: string; slug: string; master: SigningKey; displayName?: string; description?: string },
): Promise<AppRegistration> {
  const data: AppManifestData = {
    owner_namespace: input.namespace,
    project_slug: input.slug,
    display_name: input.displayName ?? input.slug,
    ...(input.description === undefined ? {} : { description: input.description }),
    ...freshness(),
  };
  const envelope = signEnvelope('app', data, input.master.privateKey);
  return (await call('POST', registryUrl(options, '/v1/apps'), AppRegistration, envelope)).body;
}

/** The namespace's apps, every page followed (`GET /v1/namespaces/{ns}/apps`). */
export async function listApps(options: ClientOptions, namespace: string): Promise<NamespaceAppsAnswer['apps']> {
  const apps: NamespaceAppsAnswer['apps'] = [];
  for (let after: string | null = null; ; ) {
    const query: string = after ? `?after=${encodeURIComponent(after)}` : '';
    const url = registryUrl(options, `/v1/namespaces/${encodeURIComponent(namespace)}/apps${query}`);
    const page: NamespaceAppsAnswer = (await call('GET', url, NamespaceAppsAnswer)).body;
    apps.push(...page.apps);
    if (!page.next) return apps;
    after = page.next;
  }
}

export async function getApp(options: ClientOptions, appId: string): Promise<AppRecord> {
  return (await call('GET', registryUrl(options, appPath(appId)), AppRecord)).body;
}

/** Points the app at other Billing / Logging services or named services (SPEC §10.2). */
export async function backboneUpdate(
  options: ClientOptions,
  input: { appId: string; master: SigningKey; billingUrl?: string; loggingUrl?: string; services?: Record<string, string> },
): Promise<ConfigEpochAnswer> {
  const data: BackboneUpdateData = {
    app_id: input.appId,
    operational_context: {
      ...(input.billingUrl ? { billing_provider_url: input.billingUrl } : {}),
      ...(input.loggingUrl ? { logging_service_url: input.loggingUrl } : {}),
      ...(input.services ? { services: input.services } : {}),
    },
    ...freshness(),
    context: 'backbone_update',
  };
  const envelope = signEnvelope('backbone_update', data, input.master.privateKey);
  const url = registryUrl(options, `${appPath(input.appId)}/operational-context`);
  return (await call('PATCH', url, ConfigEpochAnswer, envelope)).body;
}
