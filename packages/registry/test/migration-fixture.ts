import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalDigest,
  type Envelope,
  generateSigningKey,
  newNonce,
  nowSeconds,
  type SignedAppExport,
  type SigningKey,
  sign,
  signEnvelope,
} from '@swarm/protocol';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import { type RegistryHandle, type RegistryOptions, startRegistry } from '../src/index.js';
import {
  bearer,
  boundInstance,
  call,
  type Developer,
  developerWithApp,
  get,
  listedProvider,
  makeProvider,
  type Provider,
  serviceCall,
} from './helpers.js';

/** Two (or more) real registries, each with its own SQLite file, authority and keys. */
export class Registries {
  readonly #dirs: string[] = [];
  readonly #open: RegistryHandle[] = [];
  readonly #dirOf = new Map<RegistryHandle, string>();

  async start(authority: string, options: RegistryOptions = {}): Promise<RegistryHandle> {
    const dir = mkdtempSync(join(tmpdir(), `swarm-migration-${authority}-`));
    this.#dirs.push(dir);
    const registry = await startRegistry({
      authority,
      dataDir: dir,
      logLevel: false,
      dnsPort: false,
      egress: { allow: LOOPBACK_CIDRS },
      ...options,
    });
    this.#open.push(registry);
    this.#dirOf.set(registry, dir);
    return registry;
  }

  /** The registry's SQLite file (a test may move its clock back by rewriting a row). */
  databaseFile(registry: RegistryHandle): string {
    const dir = this.#dirOf.get(registry);
    if (!dir) throw new Error('not started here');
    return join(dir, 'registry.db');
  }

  /** Each registry trusts the others, set through the admin route (the table is replaced whole). */
  async trustEachOther(...registries: RegistryHandle[]): Promise<void> {
    for (const registry of registries) {
      const peers = registries
        .filter((other) => other !== registry)
        .map((other) => ({ authority: other.authority, baseUrl: other.url, publicKey: other.publicKey }));
      const answer = await call('PUT', `${registry.url}/v1/admin/trust`, { registries: peers }, bearer(registry.adminToken));
      if (answer.status !== 200) throw new Error(`trust: ${JSON.stringify(answer.body)}`);
    }
  }

  async close(registry: RegistryHandle): Promise<void> {
    const index = this.#open.indexOf(registry);
    if (index >= 0) this.#open.splice(index, 1);
    await registry.close();
  }

  async closeAll(): Promise<void> {
    for (const registry of this.#open.splice(0)) await registry.close();
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

export interface MovingApp {
  dev: Developer;
  appId: string;
  provider: Provider;
  instances: Array<{ serviceId: string; instanceKey: SigningKey }>;
}

/** An app at `source` with `count` bound instances of one provider. */
export async function appWithInstances(source: RegistryHandle, count = 2, eventsUrl?: string): Promise<MovingApp> {
  const { dev, appId } = await developerWithApp(source);
  const provider = await listedProvider(source, makeProvider('cms-article', eventsUrl));
  const instances = [];
  for (let i = 0; i < count; i++) {
    const bound = await boundInstance(source, dev, appId, provider);
    instances.push({ serviceId: bound.serviceId, instanceKey: bound.instanceKey });
  }
  return { dev, appId, provider, instances };
}

export async function exportOf(registry: RegistryHandle, appId: string): Promise<SignedAppExport> {
  const answer = await get(`${registry.url}/v1/apps/${appId}/export`);
  if (answer.status !== 200) throw new Error(`export: ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as SignedAppExport;
}

/** The Master-signed Proof of Continuity moving the exported app to `target`; `data` overrides fields. */
export function proofOf(
  signed: SignedAppExport,
  target: string,
  key: SigningKey,
  data: Record<string, unknown> = {},
): Envelope<Record<string, unknown>> {
  const exported = signed.data;
  const now = nowSeconds();
  return signEnvelope(
    'registry_migration',
    {
      app_id: exported.app_id,
      context: 'registry_migration',
      previous_registry: exported.source.authority,
      target_registry: target,
      migration_timestamp: now,
      timestamp: now,
      nonce: newNonce(),
      export_digest: canonicalDigest(signed),
      active_bindings: exported.bindings.map((binding) => ({
        service_id: binding.service_id,
        service_type: binding.service_type,
        public_key: binding.public_key,
        endpoint_url: binding.endpoint_url,
      })),
      master_public_key: exported.master_public_key,
      guardian_public_keys: exported.guardian_public_keys,
      ...data,
    },
    key.privateKey,
  );
}

export function guardianApproval(proof: Envelope<Record<string, unknown>>, guardian: SigningKey) {
  return { public_key: guardian.publicKey, signature: sign('registry_migration', proof.data, guardian.privateKey) };
}

export function control(appId: string, context: 'activate' | 'abort', key: SigningKey, extra: Record<string, unknown> = {}) {
  return {
    ...signEnvelope('migration_control', { app_id: appId, context, timestamp: nowSeconds(), nonce: newNonce() }, key.privateKey),
    ...extra,
  };
}

export function veto(appId: string, key: SigningKey) {
  return signEnvelope(
    'migration_veto',
    { app_id: appId, context: 'migration_veto', timestamp: nowSeconds(), nonce: newNonce() },
    key.privateKey,
  );
}

/** A rebind signed by the instance key and the provider's catalog key (either may be swapped for a test). */
export function rebind(
  app: MovingApp,
  index: number,
  previousRegistry: string,
  keys: { instance?: SigningKey; provider?: SigningKey; data?: Record<string, unknown> } = {},
) {
  const instance = app.instances[index];
  if (!instance) throw new Error(`no instance ${index}`);
  const data = {
    app_id: app.appId,
    service_id: instance.serviceId,
    provider: app.provider.name,
    public_key: instance.instanceKey.publicKey,
    endpoint_url: `http://127.0.0.1:9/i/${instance.serviceId}/api/v1`,
    previous_registry: previousRegistry,
    timestamp: nowSeconds(),
    nonce: newNonce(),
    ...keys.data,
  };
  return {
    version: '1.0',
    data,
    instance_signature: sign('service_rebind', data, (keys.instance ?? instance.instanceKey).privateKey),
    provider_signature: sign('service_rebind', data, (keys.provider ?? app.provider.key).privateKey),
  };
}

export { generateSigningKey };

/** The whole release path for `app`: prepare at `target`, release at `source`, activate, and every instance re-bound and beating. */
export async function migrateByRelease(source: RegistryHandle, target: RegistryHandle, app: MovingApp): Promise<void> {
  const signed = await exportOf(source, app.appId);
  const proof = proofOf(signed, target.authority, app.dev.master);
  const steps: Array<[string, unknown]> = [
    [`${target.url}/v1/apps/${app.appId}/migration`, { export: signed, proof }],
    [`${source.url}/v1/apps/${app.appId}/release`, proof],
    [`${target.url}/v1/apps/${app.appId}/migration/activate`, control(app.appId, 'activate', app.dev.master)],
  ];
  for (const [url, body] of steps) {
    const answer = await call('POST', url, body);
    if (answer.status >= 300) throw new Error(`${url}: ${JSON.stringify(answer.body)}`);
  }
  for (const [index, instance] of app.instances.entries()) {
    const base = `${target.url}/v1/apps/${app.appId}/services/${instance.serviceId}`;
    const rebound = await call('POST', `${base}/rebind`, rebind(app, index, source.authority));
    if (rebound.status !== 200) throw new Error(`rebind: ${JSON.stringify(rebound.body)}`);
    const beat = await call('POST', `${base}/heartbeat`, serviceCall(app.appId, instance.serviceId, instance.instanceKey));
    if (beat.status !== 200) throw new Error(`heartbeat: ${JSON.stringify(beat.body)}`);
  }
}
