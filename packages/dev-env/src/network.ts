import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type AuthProviderHandle, type ServerHandle, startAuthProvider, startBilling, startLogging } from '@swarm/backbone';
import { startCmsArticle } from '@swarm/cms-article';
import { startCrmContact } from '@swarm/crm-contact';
import { TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import { type RegistryHandle, type RegistryOptions, startRegistry } from '@swarm/registry';
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle, ServiceOptions } from '@swarm/service-kit';
import { startStorageBlob } from '@swarm/storage-blob';
import { writeAdminToken } from './admin-token.js';
import { trustedRegistryOf } from './instances.js';
import { freePort, LOCAL_AUTHORITY, type PartName, SECOND_PROVIDERS, STANDARD_PORTS } from './ports.js';

export type ServerPart = Exclude<PartName, 'dns'>;
export type DomainPart = 'cms-article' | 'crm-contact' | 'storage-blob';

export interface TestNetworkOptions {
  /** Every part keeps its state in a folder under this one. Default: a temp folder, removed by `close()`. */
  dataDir?: string;
  /** `standard` = the ports of SPEC §13 (`swarm up`); `ephemeral` (default) = free ports. */
  ports?: 'standard' | 'ephemeral';
  /** Default false (silent). */
  logLevel?: string | false;
  /** `all` (default): registry, backbone and the three domain services; `backbone`: registry and backbone only. */
  parts?: 'all' | 'backbone';
  /**
   * Also a second provider of each domain service type (`SECOND_PROVIDERS`: `article2.cms.local`
   * and so on), so instances can move between providers (`swarm move`). Default false.
   */
  secondProviders?: boolean;
  /** Items and object bytes per page the domain services serve when an instance moves away (defaults 100 and 4 MiB). */
  transfer?: Partial<Pick<ServiceOptions, 'transferPageItems' | 'transferPageBytes'>>;
  /** How often domain services beat, and what the registry expects (default 10 s). */
  heartbeatIntervalSeconds?: number;
  /** Every part keeps its tables in a PostgreSQL schema of this network's own instead of SQLite files. */
  postgresUrl?: string;
  /** Other registries every part trusts from the start, next to the network's own (a migration's target). */
  trust?: TrustedRegistry[];
  /** Registry options over the network's own (e.g. a faster `broadcastRetry`, `dnsPort: false`). */
  registry?: Partial<RegistryOptions>;
  /** Domain-service intervals over their defaults (e.g. a fast `revocationPollSeconds` in a test), and how they beat. */
  services?: Partial<Pick<ServiceOptions, 'revocationPollSeconds' | 'reportFlushSeconds' | 'contextRefreshSeconds' | 'heartbeats'>>;
}

/** What a process hosting a network prints for its parent: plain JSON, no handles. */
export interface NetworkSummary {
  urls: Record<ServerPart, string>;
  registry: { url: string; authority: string; publicKey: string; adminToken: string; dnsPort: number | null };
}

/** Every part of a test network or a local swarm runs on loopback, so loopback is where tenants' URLs point. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

interface Closable {
  close(): Promise<void>;
}

/**
 * A whole swarm in this process: registry, auth provider, billing, logging and (with
 * `parts: 'all'`) the three domain services, every part trusting the registry and every
 * provider in its catalog. A second start on the same `dataDir` finds everything as it was.
 * It serves unit, system and acceptance tests, the benchmarks and `swarm up`.
 *
 * @example
 * const network = await TestNetwork.create({ parts: 'backbone' });
 * // … talk to network.registry.url …
 * await network.close();
 */
export class TestNetwork {
  private constructor(
    readonly dataDir: string,
    readonly registry: RegistryHandle,
    readonly auth: AuthProviderHandle,
    readonly billing: ServerHandle,
    readonly logging: ServerHandle,
    /** The domain services by service type; empty with `parts: 'backbone'`. */
    readonly services: Partial<Record<DomainPart, ServiceHandle>>,
    /** The second provider of each type, with `secondProviders`; empty otherwise. */
    readonly secondServices: Partial<Record<DomainPart, ServiceHandle>>,
    readonly adminTokenFile: string,
    /**
     * The trust table every part of the network shares, live: adding another registry here makes
     * the whole swarm trust it at once (a migration's target, docs/SERVICE-KIT.md).
     */
    readonly trust: TrustedRegistries,
    private readonly started: Closable[],
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async create(options: TestNetworkOptions = {}): Promise<TestNetwork> {
    const temporary = options.dataDir === undefined;
    const dataDir = temporary ? await mkdtemp(join(tmpdir(), 'swarm-network-')) : resolve(options.dataDir as string);
    const host = '127.0.0.1';
    const logLevel = options.logLevel ?? false;
    const ports = options.ports === 'standard' ? { ...STANDARD_PORTS, ...secondPorts() } : await ephemeralPorts(dataDir, host);
    // One schema per part: the domain services share the kit's table names.
    const postgresUrl = options.postgresUrl;
    const schemaPrefix = `network_${randomBytes(5).toString('hex')}`;
    const schemas: string[] = [];
    const databaseOf = async (name: ServerPart) => {
      if (!postgresUrl) return {};
      const schema = `${schemaPrefix}_${name.replace('-', '_')}`;
      await ensurePostgresSchema(postgresUrl, schema);
      schemas.push(schema);
      return { databaseUrl: postgresUrl, databaseSchema: schema };
    };
    const secondDatabase = async (name: DomainPart) => {
      const schema = `${schemaPrefix}_${name.replace('-', '_')}_2`;
      await ensurePostgresSchema(postgresUrl as string, schema);
      schemas.push(schema);
      return { databaseUrl: postgresUrl, databaseSchema: schema };
    };
    const heartbeat = options.heartbeatIntervalSeconds ? { heartbeatIntervalSeconds: options.heartbeatIntervalSeconds } : {};
    const dirOf = async (name: string) => {
      const dir = join(dataDir, name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return dir;
    };
    const urlOf = (name: ServerPart) => `http://${host}:${ports[name]}`;

    const started: Closable[] = [];
    const cleanup = async () => {
      if (postgresUrl) for (const schema of schemas) await dropPostgresSchema(postgresUrl, schema);
      if (temporary) await rm(dataDir, { recursive: true, force: true });
    };
    try {
      const registry = await startRegistry({
        port: ports.registry,
        host,
        authority: LOCAL_AUTHORITY,
        dataDir: await dirOf('registry'),
        dnsPort: ports.dns,
        defaultBillingUrl: urlOf('billing'),
        defaultLoggingUrl: urlOf('logging'),
        logLevel,
        egress: LOCAL_EGRESS,
        ...(await databaseOf('registry')),
        ...heartbeat,
        ...options.registry,
      });
      started.push(registry);
      const trustedRegistries = new TrustedRegistries([trustedRegistryOf(registry), ...(options.trust ?? [])]);
      const common = async (name: ServerPart) => ({
        port: ports[name],
        host,
        dataDir: await dirOf(name),
        trustedRegistries,
        logLevel,
        egress: LOCAL_EGRESS,
        ...(await databaseOf(name)),
      });
      const billing = await startBilling(await common('billing'));
      started.push(billing);
      const logging = await startLogging(await common('logging'));
      started.push(logging);
      const auth = await startAuthProvider(await common('auth'));
      started.push(auth);
      const services: Partial<Record<DomainPart, ServiceHandle>> = {};
      const secondServices: Partial<Record<DomainPart, ServiceHandle>> = {};
      const transfer = options.transfer ?? {};
      if (options.parts !== 'backbone') {
        const starters = { 'cms-article': startCmsArticle, 'crm-contact': startCrmContact, 'storage-blob': startStorageBlob };
        for (const [name, start] of Object.entries(starters) as Array<[DomainPart, typeof startCmsArticle]>) {
          const service = await start({ ...(await common(name)), ...heartbeat, ...transfer, ...options.services });
          started.push(service);
          services[name] = service;
        }
        for (const [name, start] of options.secondProviders
          ? (Object.entries(starters) as Array<[DomainPart, typeof startCmsArticle]>)
          : []) {
          const second = SECOND_PROVIDERS[name];
          const service = await start({
            ...(await common(name)),
            port: ports[secondPortName(name)],
            dataDir: await dirOf(secondPortName(name)),
            ...(postgresUrl ? await secondDatabase(name) : {}),
            provider: second.provider,
            ...heartbeat,
            ...transfer,
            ...options.services,
          });
          started.push(service);
          secondServices[name] = service;
        }
      }
      for (const provider of [auth, ...Object.values(services), ...Object.values(secondServices)]) {
        await provider.registerOffer(registry.url, registry.adminToken);
      }
      const adminTokenFile = await writeAdminToken(dataDir, registry.adminToken);
      return new TestNetwork(
        dataDir,
        registry,
        auth,
        billing,
        logging,
        services,
        secondServices,
        adminTokenFile,
        trustedRegistries,
        started,
        cleanup,
      );
    } catch (error) {
      for (const part of started.reverse()) await part.close().catch(() => {});
      await cleanup().catch(() => {});
      throw error;
    }
  }

  /** The trust-table entry every part of this network holds for its registry. */
  get trusted(): TrustedRegistry {
    return trustedRegistryOf(this.registry);
  }

  /** URL of each running part by name. */
  get urls(): Record<ServerPart, string> {
    const urls = { registry: this.registry.url, auth: this.auth.url, billing: this.billing.url, logging: this.logging.url } as Record<
      ServerPart,
      string
    >;
    for (const [name, service] of Object.entries(this.services)) urls[name as DomainPart] = service.url;
    return urls;
  }

  /** The second providers (`secondProviders`) with their provider name, URL and data folder. */
  get secondParts(): Array<{ name: string; provider: string; url: string; dataDir: string }> {
    return Object.entries(this.secondServices).map(([name, service]) => ({
      name: secondPortName(name as DomainPart),
      provider: service.provider,
      url: service.url,
      dataDir: join(this.dataDir, secondPortName(name as DomainPart)),
    }));
  }

  /** Each running part with its URL and data folder, in start order. */
  get parts(): Array<{ name: ServerPart; url: string; dataDir: string }> {
    return Object.entries(this.urls).map(([name, url]) => ({ name: name as ServerPart, url, dataDir: join(this.dataDir, name) }));
  }

  summary(): NetworkSummary {
    const { url, authority, publicKey, adminToken, dnsPort } = this.registry;
    return { urls: this.urls, registry: { url, authority, publicKey, adminToken, dnsPort } };
  }

  /** Each domain service sends its pending usage and logs now (tests read usage right after). */
  async flushReports(): Promise<void> {
    await Promise.all([...Object.values(this.services), ...Object.values(this.secondServices)].map((service) => service.flushReports()));
  }

  /** Closes the domain services (they flush their reports), then the backbone, then the registry. */
  async close(): Promise<void> {
    for (const part of this.started.reverse()) await part.close().catch(() => {});
    this.started.length = 0;
    await this.cleanup();
  }
}

type SecondPortName = `${DomainPart}-2`;
const secondPortName = (name: DomainPart): SecondPortName => `${name}-2`;
const secondPorts = () =>
  Object.fromEntries(Object.entries(SECOND_PROVIDERS).map(([name, second]) => [secondPortName(name as DomainPart), second.port])) as Record<
    SecondPortName,
    number
  >;

/**
 * Free ports, kept in `<dataDir>/ports.json`: instances' endpoint URLs are stored with their
 * bindings, so a restarted ephemeral network comes back on the ports it had.
 */
async function ephemeralPorts(dataDir: string, host: string): Promise<Record<PartName | SecondPortName, number>> {
  const file = join(dataDir, 'ports.json');
  const kept = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as Partial<Record<PartName | SecondPortName, number>>,
    () => null,
  );
  const names = [...Object.keys(STANDARD_PORTS), ...Object.keys(secondPorts())] as Array<PartName | SecondPortName>;
  if (kept && names.every((name) => typeof kept[name] === 'number')) return kept as Record<PartName | SecondPortName, number>;
  // A folder from before the second providers keeps its ports; only the missing ones are picked.
  const ports = { ...(kept ?? {}) } as Record<PartName | SecondPortName, number>;
  const chosen = new Set<number>(Object.values(ports));
  for (const name of names) {
    if (typeof ports[name] === 'number') continue;
    let port = await freePort(host);
    while (chosen.has(port)) port = await freePort(host);
    chosen.add(port);
    ports[name] = port;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(ports)}\n`);
  return ports;
}
