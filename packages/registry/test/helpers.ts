import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS } from '@swarm/runtime';
import { bearer, call, get, post } from '@swarm/runtime/testing';
import { type RegistryHandle, type RegistryOptions, startRegistry } from '../src/index.js';

/** A developer: a namespace, its Master key and two Guardian keys. */
export interface Developer {
  namespace: string;
  master: SigningKey;
  guardians: SigningKey[];
}

export function makeDeveloper(namespace = `dev-${randomBytes(4).toString('hex')}`): Developer {
  return { namespace, master: generateSigningKey(), guardians: [generateSigningKey(), generateSigningKey()] };
}

export function namespaceClaim(dev: Developer, overrides: Record<string, unknown> = {}) {
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

export function appManifest(dev: Developer, slug = 'business_app', overrides: Record<string, unknown> = {}) {
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

/** The developer's signed provisioning request (SPEC §5.1); its data travels verbatim as the binding's developer proof. */
export function developerProof(dev: Developer, appId: string, provider: string, extra: Partial<ProvisionData> = {}, key = dev.master) {
  const payload: ProvisionData = {
    app_id: appId,
    target_provider: provider,
    service_tier: 'free',
    region: 'local',
    timestamp: nowSeconds(),
    nonce: newNonce(),
    ...extra,
  };
  return { payload, signature: sign('provision', payload, key.privateKey) };
}

/** A provider with its catalog key, offering one service_type. */
export interface Provider {
  name: string;
  serviceType: string;
  key: SigningKey;
  eventsUrl: string;
}

export function makeProvider(serviceType = 'cms-article', eventsUrl = 'http://127.0.0.1:9/v1/events'): Provider {
  return { name: `p${randomBytes(4).toString('hex')}.cms.test`, serviceType, key: generateSigningKey(), eventsUrl };
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
  provider: Provider,
  proof: { payload: ProvisionData; signature: string },
  options: { serviceId?: string; instanceKey?: SigningKey; serviceType?: string; signer?: SigningKey } = {},
) {
  const instanceKey = options.instanceKey ?? generateSigningKey();
  const serviceBinding = {
    service_id: options.serviceId ?? `${provider.serviceType}-${randomBytes(5).toString('hex')}`,
    service_type: options.serviceType ?? provider.serviceType,
    public_key: instanceKey.publicKey,
    endpoint_url: 'http://127.0.0.1:9/i/x/api/v1',
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
  return { body, instanceKey, serviceId: serviceBinding.service_id };
}

/** An instance-key signed service call (SPEC §9.1). */
export function serviceCall(appId: string, serviceId: string, key: SigningKey, extra: Record<string, unknown> = {}) {
  return signEnvelope(
    'service_call',
    { app_id: appId, service_id: serviceId, timestamp: nowSeconds(), nonce: newNonce(), ...extra },
    key.privateKey,
  );
}

export type { JsonAnswer as Answer } from '@swarm/runtime/testing';
export { bearer, call, get, post };

/** How a suite starts registries: SQLite in a temp folder, or its own PostgreSQL schema. */
export interface Backend {
  name: string;
  skip: string | false;
  start(options?: RegistryOptions): Promise<RegistryHandle>;
  /** Options that put a second registry on the same database. */
  shared(): RegistryOptions;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-registry-'));
  return {
    name: 'sqlite',
    skip: false,
    start: (options = {}) =>
      startRegistry({ dataDir: dir, logLevel: false, dnsPort: false, egress: { allow: LOOPBACK_CIDRS }, ...options }),
    shared: () => ({ dataDir: dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function postgresBackend(): Backend {
  const url = process.env.SWARM_TEST_POSTGRES_URL;
  const schema = `registry_test_${randomBytes(4).toString('hex')}`;
  let created: Promise<void> | null = null;
  return {
    name: 'postgres',
    skip: url ? false : 'SWARM_TEST_POSTGRES_URL is not set',
    start: async (options = {}) => {
      if (!url) throw new Error('no PostgreSQL');
      created ??= ensurePostgresSchema(url, schema);
      await created;
      return startRegistry({
        databaseUrl: url,
        databaseSchema: schema,
        logLevel: false,
        dnsPort: false,
        egress: { allow: LOOPBACK_CIDRS },
        ...options,
      });
    },
    shared: () => ({ databaseUrl: url ?? '', databaseSchema: schema }),
    cleanup: async () => {
      if (url && created) await dropPostgresSchema(url, schema);
    },
  };
}

/** Registers a developer's namespace and one app; returns the app_id. */
export async function developerWithApp(registry: RegistryHandle, dev = makeDeveloper()): Promise<{ dev: Developer; appId: string }> {
  const ns = await post(`${registry.url}/v1/namespaces`, namespaceClaim(dev));
  if (ns.status !== 201) throw new Error(`namespace: ${JSON.stringify(ns.body)}`);
  const app = await post(`${registry.url}/v1/apps`, appManifest(dev));
  if (app.status !== 201) throw new Error(`app: ${JSON.stringify(app.body)}`);
  return { dev, appId: app.body.app_id as string };
}

export async function listedProvider(registry: RegistryHandle, provider = makeProvider()): Promise<Provider> {
  const answer = await call('PUT', `${registry.url}/v1/catalog/${provider.name}`, offer(provider), bearer(registry.adminToken));
  if (answer.status !== 201) throw new Error(`catalog: ${JSON.stringify(answer.body)}`);
  return provider;
}

/** A bound instance of `provider` in the app: the binding answer and the instance key. */
export async function boundInstance(registry: RegistryHandle, dev: Developer, appId: string, provider: Provider) {
  const request = bindingRequest(provider, developerProof(dev, appId, provider.name));
  const answer = await post(`${registry.url}/v1/bindings`, request.body);
  if (answer.status !== 201) throw new Error(`binding: ${JSON.stringify(answer.body)}`);
  return { ...request, answer: answer.body };
}

export type { Envelope };
