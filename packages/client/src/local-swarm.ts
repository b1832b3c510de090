import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startAuthProvider, startBilling, startLogging } from '@swarm/backbone';
import { startCmsArticle } from '@swarm/cms-article';
import { startCrmContact } from '@swarm/crm-contact';
import type { TrustedRegistry } from '@swarm/protocol';
import { startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import { startStorageBlob } from '@swarm/storage-blob';
import { writeAdminToken } from './admin-token.js';
import { freePort, LOCAL_AUTHORITY, type PartName, STANDARD_PORTS } from './ports.js';

export { LOCAL_AUTHORITY, type PartName, STANDARD_PORTS } from './ports.js';

export interface LocalSwarmOptions {
  /** Every part keeps its state in a folder under this one. Default `./.swarm`. */
  dataDir?: string;
  /** `standard` = the ports of SPEC §13; `ephemeral` = free ports (tests, benchmarks). */
  ports?: 'standard' | 'ephemeral';
  logLevel?: string | false;
  /** How often domain services beat, and what the registry expects (default 10 s). */
  heartbeatIntervalSeconds?: number;
}

export interface LocalPart {
  name: Exclude<PartName, 'dns'>;
  url: string;
  dataDir: string;
}

export interface LocalSwarm {
  dataDir: string;
  registry: { url: string; authority: string; publicKey: string; adminToken: string; dnsPort: number | null };
  /** URL of each part by name. */
  urls: Record<Exclude<PartName, 'dns'>, string>;
  parts: LocalPart[];
  adminTokenFile: string;
  /** Each domain service sends its pending usage and logs now (tests read usage right after). */
  flushReports(): Promise<void>;
  /** Closes the domain services (they flush their reports), then the backbone, then the registry. */
  close(): Promise<void>;
}

/** Every part of a local swarm runs on loopback, so loopback is where tenants' URLs point. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

interface Closable {
  close(): Promise<void>;
}

/**
 * Starts a whole swarm in this process: registry, auth provider, billing, logging and the three
 * domain services, every part trusting the local registry, the four providers in its catalog.
 * A second start on the same `dataDir` finds everything as it was.
 *
 * @example
 * const swarm = await startLocalSwarm({ dataDir: tmp, ports: 'ephemeral', logLevel: false });
 * // … talk to swarm.registry.url …
 * await swarm.close();
 */
export async function startLocalSwarm(options: LocalSwarmOptions = {}): Promise<LocalSwarm> {
  const dataDir = resolve(options.dataDir ?? '.swarm');
  const host = '127.0.0.1';
  const logLevel = options.logLevel ?? 'warn';
  const ports = options.ports === 'ephemeral' ? await ephemeralPorts(dataDir, host) : { ...STANDARD_PORTS };
  const dirOf = async (name: string) => {
    const dir = join(dataDir, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  };
  const urlOf = (name: Exclude<PartName, 'dns'>) => `http://${host}:${ports[name]}`;

  const started: Closable[] = [];
  const closeAll = async () => {
    for (const part of started.reverse()) await part.close().catch(() => {});
    started.length = 0;
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
      ...(options.heartbeatIntervalSeconds ? { heartbeatIntervalSeconds: options.heartbeatIntervalSeconds } : {}),
      logLevel,
      egress: LOCAL_EGRESS,
    });
    started.push(registry);
    const trustedRegistries: TrustedRegistry[] = [{ authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey }];
    const common = async (name: Exclude<PartName, 'dns'>) => ({
      port: ports[name],
      host,
      dataDir: await dirOf(name),
      trustedRegistries,
      logLevel,
      egress: LOCAL_EGRESS,
    });

    const billing = await startBilling(await common('billing'));
    started.push(billing);
    const logging = await startLogging(await common('logging'));
    started.push(logging);
    const auth = await startAuthProvider(await common('auth'));
    started.push(auth);
    const serviceOptions = async (name: Exclude<PartName, 'dns'>) => ({
      ...(await common(name)),
      ...(options.heartbeatIntervalSeconds ? { heartbeatIntervalSeconds: options.heartbeatIntervalSeconds } : {}),
    });
    const domainServices = [
      await startCmsArticle(await serviceOptions('cms-article')),
      await startCrmContact(await serviceOptions('crm-contact')),
      await startStorageBlob(await serviceOptions('storage-blob')),
    ];
    started.push(...domainServices);

    for (const provider of [auth, ...domainServices]) await provider.registerOffer(registry.url, registry.adminToken);

    const adminTokenFile = await writeAdminToken(dataDir, registry.adminToken);

    const urls = {
      registry: registry.url,
      auth: auth.url,
      billing: billing.url,
      logging: logging.url,
      'cms-article': domainServices[0]!.url,
      'crm-contact': domainServices[1]!.url,
      'storage-blob': domainServices[2]!.url,
    };
    const parts = (Object.keys(urls) as Array<keyof typeof urls>).map((name) => ({ name, url: urls[name], dataDir: join(dataDir, name) }));
    return {
      dataDir,
      registry: {
        url: registry.url,
        authority: registry.authority,
        publicKey: registry.publicKey,
        adminToken: registry.adminToken,
        dnsPort: typeof registry.dnsPort === 'number' ? registry.dnsPort : null,
      },
      urls,
      parts,
      adminTokenFile,
      async flushReports() {
        await Promise.all(domainServices.map((service) => service.flushReports()));
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Free ports, kept in `<dataDir>/ports.json`: instances' endpoint URLs are stored with their
 * bindings, so a restarted ephemeral swarm comes back on the ports it had.
 */
async function ephemeralPorts(dataDir: string, host: string): Promise<Record<PartName, number>> {
  const file = join(dataDir, 'ports.json');
  const kept = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as Record<PartName, number>,
    () => null,
  );
  if (kept) return kept;
  const chosen = new Set<number>();
  const ports = {} as Record<PartName, number>;
  for (const name of Object.keys(STANDARD_PORTS) as PartName[]) {
    let port = await freePort(host);
    while (chosen.has(port)) port = await freePort(host);
    chosen.add(port);
    ports[name] = port;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(ports)}\n`);
  return ports;
}
