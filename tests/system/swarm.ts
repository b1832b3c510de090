import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createTestDeveloper,
  type Part,
  bindingRequest as signedBinding,
  spawnScript,
  spawnSwarm,
  type TestDeveloper,
} from '@swarm/dev-env';
import {
  type Envelope,
  generateSigningKey,
  type ProvisionData,
  privateKeyToPem,
  type SigningKey,
  type TrustedRegistry,
} from '@swarm/protocol';
import type { CmsServiceConfig } from './fixtures/cms-service.js';

export const CMS_PROVIDER = 'article.cms.local';

export interface RegistrySummary {
  url: string;
  authority: string;
  public_key: string;
  dns_port: number | null;
  admin_token_file: string;
}

export interface RegistryOptions {
  port?: number;
  dnsPort?: number;
  dataDir: string;
  databaseUrl?: string;
  billingUrl?: string;
  loggingUrl?: string;
}

/** Every part of these tests runs on loopback, which a standalone part refuses to send to by default. */
const ALLOW_LOOPBACK = ['--allow-egress', '127.0.0.0/8,::1/128'];

/** `swarm registry`, Service DNS on. */
export function startRegistry(name: string, options: RegistryOptions): Promise<Part<RegistrySummary>> {
  return spawnSwarm<RegistrySummary>(name, [
    'registry',
    ...['--port', String(options.port ?? 0), '--dns-port', String(options.dnsPort ?? 0), '--data', options.dataDir],
    ...ALLOW_LOOPBACK,
    ...(options.databaseUrl ? ['--database-url', options.databaseUrl] : []),
    ...(options.billingUrl ? ['--billing-url', options.billingUrl] : []),
    ...(options.loggingUrl ? ['--logging-url', options.loggingUrl] : []),
  ]);
}

/** `swarm service cms-article`, trusting the registry at `registryUrl` and listing its offer there. */
export function startCliService(
  name: string,
  options: { registry: RegistrySummary; port?: number; dataDir: string; providerKeyFile: string; databaseUrl?: string; redisUrl?: string },
): Promise<Part<{ url: string }>> {
  return spawnSwarm<{ url: string }>(name, [
    'service',
    'cms-article',
    ...['--registry', options.registry.url, '--admin-token-file', options.registry.admin_token_file],
    ...['--port', String(options.port ?? 0), '--data', options.dataDir, '--provider-key', options.providerKeyFile],
    ...ALLOW_LOOPBACK,
    ...(options.databaseUrl ? ['--database-url', options.databaseUrl] : []),
    ...(options.redisUrl ? ['--redis-url', options.redisUrl] : []),
  ]);
}

/** `swarm backbone`: auth on `port`, billing on `port + 1`, logging on `port + 2`. */
export function startBackbone(name: string, options: { registry: RegistrySummary; port: number; dataDir: string }) {
  return spawnSwarm<{ auth: string; billing: string; logging: string }>(name, [
    'backbone',
    ...['--registry', options.registry.url, '--admin-token-file', options.registry.admin_token_file],
    ...['--port', String(options.port), '--data', options.dataDir],
    ...ALLOW_LOOPBACK,
  ]);
}

/** `node --import tsx tests/system/fixtures/<script>` with one JSON argument. */
export function spawnFixture<T = Record<string, unknown>>(name: string, script: string, config: object) {
  return spawnScript<T>(name, join(import.meta.dirname, 'fixtures', script), [JSON.stringify(config)]);
}

/** The cms-article fixture (tests/system/fixtures/cms-service.ts): the CLI's service with more knobs. */
export function startFixtureService(name: string, config: CmsServiceConfig) {
  return spawnFixture<{ url: string; provision_url: string }>(name, 'cms-service.ts', config);
}

export function trustOf(registry: RegistrySummary): TrustedRegistry {
  return { authority: registry.authority, baseUrl: registry.url, publicKey: registry.public_key };
}

export const adminTokenOf = (registry: RegistrySummary) => readFileSync(registry.admin_token_file, 'utf8').trim();

/** A provider key every replica of the provider shares, as `--provider-key` takes it. */
export function writeProviderKey(dir: string): { file: string; key: SigningKey } {
  const key = generateSigningKey();
  const file = join(dir, 'provider-key.pem');
  writeFileSync(file, privateKeyToPem(key.privateKey), { mode: 0o600 });
  return { file, key };
}

export type Developer = TestDeveloper;

/** A namespace and one app; the app's auth is not delegated. */
export function newDeveloper(registryUrl: string, slug = 'site'): Promise<Developer> {
  return createTestDeveloper(registryUrl, { slug, delegate: false });
}

/** A signed provisioning request for cms-article (SPEC §5.1), fresh nonce each time. */
export function provisionRequest(developer: Developer, fields: Partial<ProvisionData> = {}): Envelope<ProvisionData> {
  return developer.provisionRequest(CMS_PROVIDER, fields);
}

/** A binding handshake (SPEC §5.2) the way a provider replica sends it, for a proof we choose. */
export function bindingRequest(proof: Envelope<ProvisionData>, providerKey: SigningKey, endpointBase: string, serviceId?: string) {
  return signedBinding(
    { serviceType: 'cms-article', key: providerKey },
    { payload: proof.data, signature: proof.signature },
    { endpointBase, ...(serviceId ? { serviceId } : {}) },
  );
}

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body, read field by field in assertions
  body: any;
}

/** One HTTP call; a connection failure is reported as status 0 rather than thrown. */
export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed };
  } catch (error) {
    return { status: 0, body: { error: { code: 'connection_failed', message: String(error) } } };
  }
}

export const errorCode = (answer: Answer): string | undefined => answer.body?.error?.code;

/** The Service DNS records over HTTP (`GET /v1/apps/{app_id}/services`). */
export async function serviceRecords(registryUrl: string, appId: string): Promise<Array<{ service_id: string; health: string }>> {
  const answer = await http('GET', `${registryUrl}/v1/apps/${encodeURIComponent(appId)}/services`);
  if (answer.status !== 200) throw new Error(`services of ${appId}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.records;
}
