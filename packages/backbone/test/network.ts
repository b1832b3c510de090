import {
  boundInstance,
  createTestDeveloper,
  listedProvider,
  makeProvider,
  serviceCall,
  type TestDeveloper,
  TestNetwork,
  eventually as waitUntil,
} from '@swarm/dev-env';
import { type Envelope, nowSeconds, type SigningKey, type signEnvelope } from '@swarm/protocol';
import { post } from '@swarm/runtime/testing';

export type { JsonAnswer } from '@swarm/runtime/testing';
export { bearer, call, get, post } from '@swarm/runtime/testing';
export { TestNetwork };

/**
 * A registry and the three backbone parts on free ports, the registry's default backbone
 * pointing at this billing and logging so broadcasts reach them, and retrying fast.
 */
export function startTestNetwork(): Promise<TestNetwork> {
  return TestNetwork.create({ parts: 'backbone', registry: { dnsPort: false, broadcastRetry: { initialMs: 50, maxMs: 500, pollMs: 50 } } });
}

export type Developer = TestDeveloper;

/** A namespace and one app at the registry; the app's auth is left for each test to delegate. */
export function registerDeveloperApp(registryUrl: string): Promise<Developer> {
  return createTestDeveloper(registryUrl, { slug: 'shop', delegate: false });
}

/** A Master-signed envelope for `developer`'s app; `data` overrides or adds fields. */
export function masterSigned(
  purpose: Parameters<typeof signEnvelope>[0],
  developer: Developer,
  data: Record<string, unknown>,
  key: SigningKey = developer.master,
): Envelope<Record<string, unknown>> {
  return developer.masterSigned(purpose, data, key);
}

/** Provisions auth for the app and delegates it at the registry (SPEC §4.3 steps 1–3). */
export async function provisionAndDelegate(
  network: TestNetwork,
  developer: Developer,
): Promise<{ authProviderUrl: string; authPublicKey: string }> {
  const provisioned = await post(
    `${network.auth.url}/v1/provision`,
    masterSigned('provision', developer, { target_provider: 'auth.swarm.local' }),
  );
  if (provisioned.status !== 201 && provisioned.status !== 200) throw new Error(`provision: ${JSON.stringify(provisioned.body)}`);
  await delegate(network, developer, provisioned.body.auth_public_key, provisioned.body.auth_provider_url);
  return { authProviderUrl: provisioned.body.auth_provider_url, authPublicKey: provisioned.body.auth_public_key };
}

export async function delegate(network: TestNetwork, developer: Developer, authPublicKey: string, authProviderUrl: string): Promise<void> {
  const delegation = masterSigned('delegate_authority', developer, {
    action: 'DELEGATE_AUTHORITY',
    auth_public_key: authPublicKey,
    auth_provider_url: authProviderUrl,
  });
  const answer = await post(`${network.registry.url}/v1/apps/${developer.appId}/auth`, delegation);
  if (answer.status !== 200) throw new Error(`delegate: ${JSON.stringify(answer.body)}`);
}

/** An owner token from the auth provider (`token_request`, Master-signed). */
export async function ownerToken(authProviderUrl: string, developer: Developer, roles?: string[]): Promise<string> {
  const answer = await post(
    `${authProviderUrl}/v1/owner-token`,
    masterSigned('token_request', developer, { sub: 'owner', ...(roles ? { roles } : {}) }),
  );
  if (answer.status !== 200) throw new Error(`owner token: ${JSON.stringify(answer.body)}`);
  return answer.body.access_token;
}

export interface TestProvider {
  name: string;
  key: SigningKey;
  serviceType: string;
}

/** A domain-service provider in the registry's catalog, whose key vouches for instances. */
export function registerTestProvider(network: TestNetwork, name = 'meter.test.local'): Promise<TestProvider> {
  return listedProvider(network.registry, makeProvider('test-meter', undefined, name));
}

export interface BoundInstance {
  serviceId: string;
  key: SigningKey;
  appId: string;
  /** The registry-signed operational context the binding answered with. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely
  context?: any;
}

/** A real binding (SPEC §5.2): the developer's provision request and the provider's Proof of Duty. */
export async function bindInstance(network: TestNetwork, developer: Developer, provider: TestProvider): Promise<BoundInstance> {
  const bound = await boundInstance(network.registry, developer, developer.appId, { ...provider, eventsUrl: '' });
  return { serviceId: bound.serviceId, key: bound.instanceKey, appId: developer.appId, context: bound.answer.operational_context };
}

/** A usage report signed by `key` (default: the instance's own key). */
export function usageReport(
  instance: BoundInstance,
  metrics: Record<string, number>,
  overrides: Record<string, unknown> = {},
  key = instance.key,
) {
  const now = nowSeconds();
  return serviceCall(instance.appId, instance.serviceId, key, { period_start: now - 10, period_end: now, metrics, ...overrides });
}

export function logsReport(
  instance: BoundInstance,
  entries: Array<Record<string, unknown>>,
  overrides: Record<string, unknown> = {},
  key = instance.key,
) {
  return serviceCall(instance.appId, instance.serviceId, key, { entries, ...overrides });
}

/** Polls `check` until it holds (broadcasts arrive asynchronously). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  await waitUntil('condition', async () => ((await check()) ? true : undefined), timeoutMs, 50);
}
