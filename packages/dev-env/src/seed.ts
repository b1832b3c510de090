import { randomBytes } from 'node:crypto';
import {
  type CatalogEntry,
  type Envelope,
  generateSigningKey,
  newNonce,
  nowSeconds,
  type ProvisionData,
  type SigningKey,
  sign,
  signEnvelope,
} from '@swarm/protocol';
import { bearer, call, post } from '@swarm/runtime/testing';

// Signed requests as a developer, a provider and an instance send them, each field open to
// override so tests can also send what the registry must refuse.

/** A developer's keys before anything is registered: a namespace, its Master key and two Guardian keys. */
export interface DeveloperKeys {
  namespace: string;
  master: SigningKey;
  guardians: SigningKey[];
}

export function makeDeveloper(namespace = `dev-${randomBytes(4).toString('hex')}`): DeveloperKeys {
  return { namespace, master: generateSigningKey(), guardians: [generateSigningKey(), generateSigningKey()] };
}

export function namespaceClaim(dev: DeveloperKeys, overrides: Record<string, unknown> = {}) {
  const data = {
    public_key: dev.master.publicKey,
    guardian_public_keys: dev.guardians.map((g) => g.publicKey),
    namespace_claim: dev.namespace,
    contact_email: `${dev.namespace}@example.org`,
    timestamp: nowSeconds(),
    nonce: newNonce(),
    ...overrides,
  };
  return signEnvelope('namespace', data, dev.master.privateKey);
}

export function appManifest(dev: DeveloperKeys, slug = 'business_app', overrides: Record<string, unknown> = {}) {
  const data = {
    owner_namespace: dev.namespace,
    project_slug: slug,
    display_name: 'Business App',
    timestamp: nowSeconds(),
    nonce: newNonce(),
    ...overrides,
  };
  return signEnvelope('app', data, dev.master.privateKey);
}

/** A Master-signed envelope about `appId`; `data` overrides or adds fields. */
export function masterSigned(
  purpose: Parameters<typeof signEnvelope>[0],
  dev: Pick<DeveloperKeys, 'master'>,
  appId: string,
  data: Record<string, unknown>,
  key: SigningKey = dev.master,
): Envelope<Record<string, unknown>> {
  return signEnvelope(purpose, { app_id: appId, timestamp: nowSeconds(), nonce: newNonce(), ...data }, key.privateKey);
}

/** The developer's signed provisioning request (SPEC §5.1); its data travels verbatim as the binding's developer proof. */
export function developerProof(
  dev: Pick<DeveloperKeys, 'master'>,
  appId: string,
  provider: string,
  extra: Partial<ProvisionData> = {},
  key = dev.master,
) {
  const payload = provisionData(appId, provider, extra);
  return { payload, signature: sign('provision', payload, key.privateKey) };
}

/** What a provisioning request signs: tier `free` in region `local` unless `extra` says otherwise. */
export function provisionData(appId: string, provider: string, extra: Partial<ProvisionData> = {}): ProvisionData {
  return {
    app_id: appId,
    target_provider: provider,
    service_tier: 'free',
    region: 'local',
    timestamp: nowSeconds(),
    nonce: newNonce(),
    ...extra,
  };
}

/** A provider with its catalog key, offering one service_type. */
export interface Provider {
  name: string;
  serviceType: string;
  key: SigningKey;
  eventsUrl: string;
}

export function makeProvider(serviceType = 'cms-article', eventsUrl = 'http://127.0.0.1:9/v1/events', name?: string): Provider {
  return { name: name ?? `p${randomBytes(4).toString('hex')}.cms.test`, serviceType, key: generateSigningKey(), eventsUrl };
}

export function catalogEntry(provider: Provider, overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    service_type: provider.serviceType,
    provider: provider.name,
    provision_url: 'http://127.0.0.1:9/v1/instances',
    events_url: provider.eventsUrl,
    public_key: provider.key.publicKey,
    tiers: [
      { name: 'free', storage_limit_gb_max: 1, storage_limit_gb_default: 1 },
      { name: 'pro_cluster', storage_limit_gb_max: 100, storage_limit_gb_default: 10 },
    ],
    regions: ['local', 'eu-central-1'],
    description: 'articles',
    ...overrides,
  };
}

export function offer(provider: Provider, overrides: Partial<CatalogEntry> = {}, key = provider.key) {
  return signEnvelope('offer', { ...catalogEntry(provider, overrides), timestamp: nowSeconds(), nonce: newNonce() }, key.privateKey);
}

/** A provider's binding request for a new instance (SPEC §5.2). */
export function bindingRequest(
  provider: Pick<Provider, 'serviceType' | 'key'>,
  proof: { payload: ProvisionData; signature: string },
  options: { serviceId?: string; instanceKey?: SigningKey; serviceType?: string; signer?: SigningKey; endpointBase?: string } = {},
) {
  const instanceKey = options.instanceKey ?? generateSigningKey();
  const serviceId = options.serviceId ?? `${provider.serviceType}-${randomBytes(5).toString('hex')}`;
  const serviceBinding = {
    service_id: serviceId,
    service_type: options.serviceType ?? provider.serviceType,
    public_key: instanceKey.publicKey,
    endpoint_url: `${options.endpointBase ?? 'http://127.0.0.1:9'}/i/${serviceId}/api/v1`,
    timestamp: nowSeconds(),
    nonce: newNonce(),
  };
  const body = {
    version: '1.0',
    developer_proof: proof,
    service_binding: serviceBinding,
    binding_signature: sign(
      'binding',
      { developer_proof: proof, service_binding: serviceBinding },
      (options.signer ?? provider.key).privateKey,
    ),
  };
  return { body, instanceKey, serviceId };
}

/** An instance-key signed service call (SPEC §9.1). */
export function serviceCall(appId: string, serviceId: string, key: SigningKey, extra: Record<string, unknown> = {}) {
  return signEnvelope(
    'service_call',
    { app_id: appId, service_id: serviceId, timestamp: nowSeconds(), nonce: newNonce(), ...extra },
    key.privateKey,
  );
}

/** A registry as the seeding helpers need it. */
export interface SeedRegistry {
  url: string;
  adminToken: string;
}

/** Registers a developer's namespace and one app; returns the app_id. */
export async function developerWithApp(
  registry: Pick<SeedRegistry, 'url'>,
  dev = makeDeveloper(),
  slug = 'business_app',
): Promise<{ dev: DeveloperKeys; appId: string }> {
  const ns = await post(`${registry.url}/v1/namespaces`, namespaceClaim(dev));
  if (ns.status !== 201) throw new Error(`namespace: ${JSON.stringify(ns.body)}`);
  const app = await post(`${registry.url}/v1/apps`, appManifest(dev, slug));
  if (app.status !== 201) throw new Error(`app: ${JSON.stringify(app.body)}`);
  return { dev, appId: app.body.app_id as string };
}

/** Puts `provider`'s offer in the registry's catalog. */
export async function listedProvider(registry: SeedRegistry, provider = makeProvider()): Promise<Provider> {
  const answer = await call('PUT', `${registry.url}/v1/catalog/${provider.name}`, offer(provider), bearer(registry.adminToken));
  if (answer.status !== 201) throw new Error(`catalog: ${JSON.stringify(answer.body)}`);
  return provider;
}

/** A bound instance of `provider` in the app: the binding answer and the instance key. */
export async function boundInstance(
  registry: Pick<SeedRegistry, 'url'>,
  dev: Pick<DeveloperKeys, 'master'>,
  appId: string,
  provider: Provider,
) {
  const request = bindingRequest(provider, developerProof(dev, appId, provider.name));
  const answer = await post(`${registry.url}/v1/bindings`, request.body);
  if (answer.status !== 201) throw new Error(`binding: ${JSON.stringify(answer.body)}`);
  return { ...request, answer: answer.body };
}
