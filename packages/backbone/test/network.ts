import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Envelope,
  generateSigningKey,
  newNonce,
  nowSeconds,
  type SigningKey,
  sign,
  signEnvelope,
  type TrustedRegistry,
} from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import { bearer, call, get, post } from '@swarm/runtime/testing';
import { type AuthProviderHandle, type ServerHandle, startAuthProvider, startBilling, startLogging } from '../src/index.js';

export type { JsonAnswer } from '@swarm/runtime/testing';
export { bearer, call, get, post };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

export interface TestNetwork {
  dataDir: string;
  registry: RegistryHandle;
  trusted: TrustedRegistry;
  auth: AuthProviderHandle;
  billing: ServerHandle;
  logging: ServerHandle;
  close(): Promise<void>;
}

/**
 * A registry and the three backbone parts on free ports, the registry's default backbone
 * pointing at this billing and logging so broadcasts reach them.
 */
export async function startTestNetwork(options: { databaseUrl?: string; databaseSchema?: string } = {}): Promise<TestNetwork> {
  const dataDir = await mkdtemp(join(tmpdir(), 'swarm-backbone-'));
  const [billingPort, loggingPort] = [await freePort(), await freePort()];
  const registry = await startRegistry({
    port: 0,
    dataDir: join(dataDir, 'registry'),
    authority: 'swarm.local',
    dnsPort: false,
    logLevel: false,
    defaultBillingUrl: `http://127.0.0.1:${billingPort}`,
    defaultLoggingUrl: `http://127.0.0.1:${loggingPort}`,
    broadcastRetry: { initialMs: 50, maxMs: 500, pollMs: 50 },
    egress: { allow: LOOPBACK_CIDRS },
  });
  const trusted = { authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey };
  const common = { dataDir, trustedRegistries: [trusted], logLevel: false as const, egress: { allow: LOOPBACK_CIDRS }, ...options };
  const billing = await startBilling({ ...common, port: billingPort });
  const logging = await startLogging({ ...common, port: loggingPort });
  const auth = await startAuthProvider({ ...common, port: 0 });
  await auth.registerOffer(registry.url, registry.adminToken);
  return {
    dataDir,
    registry,
    trusted,
    auth,
    billing,
    logging,
    close: async () => {
      await Promise.allSettled([auth.close(), billing.close(), logging.close()]);
      await registry.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Developer {
  namespace: string;
  master: SigningKey;
  appId: string;
}

let counter = 0;

/** A namespace and one app at the registry, signed like the CLI would. */
export async function registerDeveloperApp(registryUrl: string): Promise<Developer> {
  const master = generateSigningKey();
  const namespace = `dev${process.pid}x${++counter}`;
  const claim = {
    public_key: master.publicKey,
    guardian_public_keys: [generateSigningKey().publicKey],
    namespace_claim: namespace,
    contact_email: `${namespace}@example.com`,
    timestamp: nowSeconds(),
    nonce: newNonce(),
  };
  const claimed = await post(`${registryUrl}/v1/namespaces`, signEnvelope('namespace', claim, master.privateKey));
  if (claimed.status !== 201) throw new Error(`namespace: ${JSON.stringify(claimed.body)}`);
  const manifest = { owner_namespace: namespace, project_slug: 'shop', display_name: 'Shop', timestamp: nowSeconds(), nonce: newNonce() };
  const app = await post(`${registryUrl}/v1/apps`, signEnvelope('app', manifest, master.privateKey));
  if (app.status !== 201) throw new Error(`app: ${JSON.stringify(app.body)}`);
  return { namespace, master, appId: app.body.app_id };
}

/** A Master-signed envelope for `developer`'s app; `data` overrides or adds fields. */
export function masterSigned(
  purpose: Parameters<typeof signEnvelope>[0],
  developer: Developer,
  data: Record<string, unknown>,
  key: SigningKey = developer.master,
): Envelope<Record<string, unknown>> {
  return signEnvelope(purpose, { app_id: developer.appId, timestamp: nowSeconds(), nonce: newNonce(), ...data }, key.privateKey);
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
export async function registerTestProvider(network: TestNetwork, name = 'meter.test.local'): Promise<TestProvider> {
  const key = generateSigningKey();
  const serviceType = 'test-meter';
  const entry = {
    service_type: serviceType,
    provider: name,
    provision_url: 'http://127.0.0.1:9/v1/instances',
    events_url: 'http://127.0.0.1:9/v1/events',
    public_key: key.publicKey,
    tiers: [{ name: 'free', storage_limit_gb_max: 1, storage_limit_gb_default: 1 }],
    regions: ['local'],
    description: 'a provider the backbone tests bind instances with',
  };
  const offer = signEnvelope('offer', { ...entry, timestamp: nowSeconds(), nonce: newNonce() }, key.privateKey);
  const answer = await call('PUT', `${network.registry.url}/v1/catalog/${name}`, offer, bearer(network.registry.adminToken));
  if (answer.status !== 201) throw new Error(`catalog: ${JSON.stringify(answer.body)}`);
  return { name, key, serviceType };
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
  const key = generateSigningKey();
  const serviceId = `${provider.serviceType}-${newNonce()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 10)}`;
  const payload = {
    app_id: developer.appId,
    target_provider: provider.name,
    service_tier: 'free',
    region: 'local',
    timestamp: nowSeconds(),
    nonce: newNonce(),
  };
  const developerProof = { payload, signature: sign('provision', payload, developer.master.privateKey) };
  const serviceBinding = {
    service_id: serviceId,
    service_type: provider.serviceType,
    public_key: key.publicKey,
    endpoint_url: `http://127.0.0.1:9/i/${serviceId}/api/v1`,
    timestamp: nowSeconds(),
    nonce: newNonce(),
  };
  const bindingSignature = sign('binding', { developer_proof: developerProof, service_binding: serviceBinding }, provider.key.privateKey);
  const answer = await post(`${network.registry.url}/v1/bindings`, {
    version: '1.0',
    developer_proof: developerProof,
    service_binding: serviceBinding,
    binding_signature: bindingSignature,
  });
  if (answer.status !== 201) throw new Error(`binding: ${JSON.stringify(answer.body)}`);
  return { serviceId, key, appId: developer.appId, context: answer.body.operational_context };
}

/** A usage report signed by `key` (default: the instance's own key). */
export function usageReport(
  instance: BoundInstance,
  metrics: Record<string, number>,
  overrides: Record<string, unknown> = {},
  key = instance.key,
) {
  const now = nowSeconds();
  const data = {
    app_id: instance.appId,
    service_id: instance.serviceId,
    period_start: now - 10,
    period_end: now,
    metrics,
    timestamp: now,
    nonce: newNonce(),
    ...overrides,
  };
  return signEnvelope('service_call', data, key.privateKey);
}

export function logsReport(
  instance: BoundInstance,
  entries: Array<Record<string, unknown>>,
  overrides: Record<string, unknown> = {},
  key = instance.key,
) {
  const data = {
    app_id: instance.appId,
    service_id: instance.serviceId,
    entries,
    timestamp: nowSeconds(),
    nonce: newNonce(),
    ...overrides,
  };
  return signEnvelope('service_call', data, key.privateKey);
}

/** Polls `check` until it holds (broadcasts arrive asynchronously). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}
