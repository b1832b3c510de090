import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackbone } from '@swarm/backbone';
import { startCmsArticle } from '@swarm/cms-article';
import { startCrmContact } from '@swarm/crm-contact';
import { LOCAL_AUTHORITY, STANDARD_PORTS } from '@swarm/dev-env/ports';
import { parseTrustList, RegistryInfo, type SigningKey, SwarmError, TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import {
  addressTargets,
  parseInstanceQuotas,
  parseNameServers,
  type RegistryOptions,
  registryOptionsFromEnv,
  startRegistry,
} from '@swarm/registry';
import { type EgressOptions, isLoopbackHost, type MetricsOptions, parseAllowList, watchTrustFile } from '@swarm/runtime';
import { startStorageBlob } from '@swarm/storage-blob';
import { call } from '../http.js';
import { loadKey } from '../keys.js';

type Opts = Record<string, unknown>;
const str = (opts: Opts, name: string) => (typeof opts[name] === 'string' ? (opts[name] as string) : undefined);
/** `--metrics-port` (plus `offset`, for the backbone's second and third parts) and `--metrics-host`. */
const metricsOf = (opts: Opts): { metrics?: MetricsOptions } =>
  typeof opts.metricsPort === 'number'
    ? { metrics: { port: opts.metricsPort, ...(str(opts, 'metricsHost') ? { host: str(opts, 'metricsHost')! } : {}) } }
    : {};
const logLevelOf = (opts: Opts): string | false => (opts.logLevel === 'silent' ? false : (str(opts, 'logLevel') ?? 'info'));

/**
 * `swarm registry`: defaults, then SWARM_* environment variables, then the flags given.
 * Returns the handle and the data folder (where the admin token file goes).
 */
export async function startStandaloneRegistry(opts: Opts) {
  const flags: RegistryOptions = {};
  const set = <K extends keyof RegistryOptions>(key: K, value: RegistryOptions[K] | undefined) => {
    if (value !== undefined) flags[key] = value;
  };
  set('port', opts.port as number | undefined);
  set('host', str(opts, 'host'));
  set('publicUrl', str(opts, 'publicUrl'));
  set('dnsPort', opts.dnsPort === 'off' ? false : opts.dnsPort === undefined ? undefined : Number(opts.dnsPort));
  set('authority', str(opts, 'authority'));
  // Flags win over SWARM_DNS_* one limit at a time.
  const dnsLimitFlags = Object.entries({
    responsesPerSecond: opts.dnsRateLimit,
    slip: opts.dnsSlip,
    tcpLifetimeMs: opts.dnsTcpLifetime,
    tcpPerAddress: opts.dnsTcpPerAddress,
  }).filter((entry): entry is [string, number] => typeof entry[1] === 'number');
  if (dnsLimitFlags.length > 0) set('dnsLimits', { ...registryOptionsFromEnv().dnsLimits, ...Object.fromEntries(dnsLimitFlags) });
  const nameServers = str(opts, 'dnsNs');
  set('dnsNameServers', nameServers === undefined ? undefined : parseNameServers(nameServers));
  const targets = str(opts, 'dnsAddressTargets');
  set('dnsAddressTargets', targets === undefined ? undefined : addressTargets(targets));
  set('dnssec', opts.dnssec === false ? false : undefined);
  set('dnssecKeyFile', str(opts, 'dnssecKey'));
  set('databaseUrl', str(opts, 'databaseUrl'));
  set('registryKeyFile', str(opts, 'registryKey'));
  set('admissionToken', str(opts, 'admissionToken'));
  const quotas = str(opts, 'instanceQuotas');
  set('instanceQuotas', quotas === undefined ? undefined : parseInstanceQuotas(quotas));
  set('defaultBillingUrl', str(opts, 'billingUrl'));
  set('defaultLoggingUrl', str(opts, 'loggingUrl'));
  set('dataDir', str(opts, 'data'));
  set('egress', egressOf(opts));
  set('trustFile', str(opts, 'trust'));
  set('migrationContestSeconds', opts.migrationContestSeconds as number | undefined);
  set('migrationDnsGraceSeconds', opts.migrationDnsGraceSeconds as number | undefined);
  const options: RegistryOptions = {
    port: STANDARD_PORTS.registry,
    dnsPort: STANDARD_PORTS.dns,
    authority: LOCAL_AUTHORITY,
    dataDir: join('.swarm', 'registry'),
    defaultBillingUrl: `http://127.0.0.1:${STANDARD_PORTS.billing}`,
    defaultLoggingUrl: `http://127.0.0.1:${STANDARD_PORTS.logging}`,
    ...registryOptionsFromEnv(),
    ...flags,
    ...metricsOf(opts),
    logLevel: logLevelOf(opts),
  };
  if (options.dnsPort !== false && Number.isNaN(options.dnsPort))
    throw new SwarmError('invalid_request', '--dns-port is a port number or off');
  await mkdir(options.dataDir as string, { recursive: true, mode: 0o700 });
  return { registry: await startRegistry(options), dataDir: options.dataDir as string };
}

/**
 * `--allow-egress CIDR,…` (else SWARM_ALLOW_EGRESS): the internal ranges a standalone part may
 * send to when a tenant chose the URL. Without either, none.
 */
function egressOf(opts: Opts): EgressOptions | undefined {
  const list = str(opts, 'allowEgress') ?? (process.env.SWARM_ALLOW_EGRESS || undefined);
  return list === undefined ? undefined : { allow: parseAllowList(list) };
}

/** Where the registry a part learned at its first start is kept, next to the part's other state. */
export const REGISTRY_PIN_FILE = 'registry-trust.json';

/**
 * A registry is reached over TLS unless it is on this machine: over plain `http:` anyone on
 * the path could present their own key at the first start. `--insecure` accepts that.
 */
function requireSecureRegistry(baseUrl: string, insecure: boolean): void {
  const url = URL.canParse(baseUrl) ? new URL(baseUrl) : null;
  if (!url) throw new SwarmError('invalid_request', `the registry URL ${baseUrl} is not a URL`);
  if (url.protocol === 'https:' || insecure) return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new SwarmError(
    'invalid_request',
    `the registry ${baseUrl} is not https and not on this machine: use https, or pass --insecure to trust it over plain http`,
  );
}

/**
 * The registries a standalone part trusts: the `--trust` file, else the one at `--registry`,
 * whose authority and key are read from its `/.well-known/swarm-registry`. That answer is pinned
 * in `<dataDir>/registry-trust.json` at the first start; a later start that is shown another
 * authority or key refuses to run unless `--registry-key` names the new key (a rotation the
 * operator checked), which then replaces the pin.
 */
export async function trustedRegistries(opts: Opts, registryUrl: string, dataDir: string): Promise<TrustedRegistry[]> {
  const insecure = opts.insecure === true;
  const file = str(opts, 'trust');
  if (file) return trustFileEntries(await readFile(file, 'utf8'), insecure);
  const baseUrl = registryUrl.replace(/\/+$/, '');
  requireSecureRegistry(baseUrl, insecure);
  const { body } = await call('GET', `${baseUrl}/.well-known/swarm-registry`, RegistryInfo);
  const entry: TrustedRegistry = { authority: body.authority, baseUrl, publicKey: body.public_key };
  const expectedKey = str(opts, 'registryKey');
  if (expectedKey !== undefined && expectedKey !== entry.publicKey) {
    throw new SwarmError(
      'unknown_registry',
      `the registry at ${baseUrl} presents key ${entry.publicKey}, not the --registry-key ${expectedKey}`,
    );
  }
  const pinFile = join(dataDir, REGISTRY_PIN_FILE);
  const pinned = await readPin(pinFile);
  const same = pinned !== null && pinned.authority === entry.authority && pinned.publicKey === entry.publicKey;
  if (pinned !== null && !same && expectedKey === undefined) {
    throw new SwarmError(
      'unknown_registry',
      `the registry at ${baseUrl} presents ${entry.authority} key ${entry.publicKey}, but ${pinFile} pins ${pinned.authority} ` +
        `key ${pinned.publicKey} (learned at the first start). If the registry's key really changed, start with ` +
        `--registry-key ${entry.publicKey} (or --trust FILE)`,
    );
  }
  if (!same || pinned.baseUrl !== baseUrl) {
    await writeFile(pinFile, `${JSON.stringify([entry], null, 2)}\n`, { mode: 0o600 });
  }
  const how = same ? 'pinned' : pinned === null ? 'pinned now, at the first start' : 'pinned anew, as --registry-key says';
  process.stderr.write(`trusting registry ${entry.authority} at ${baseUrl}, key ${entry.publicKey} (${how})\n`);
  return [entry];
}

function trustFileEntries(text: string, insecure: boolean): TrustedRegistry[] {
  const entries = parseTrustList(text);
  for (const entry of entries) requireSecureRegistry(entry.baseUrl, insecure);
  return entries;
}

/**
 * The live trust table of a standalone part. With `--trust FILE` the file is read again when it
 * changes and on SIGHUP, so registries are added, re-keyed or dropped without a restart; a file
 * that does not parse (or names a plain-http registry elsewhere without `--insecure`) is
 * reported and the table keeps what it had.
 */
async function liveTrust(opts: Opts, registryUrl: string, dataDir: string) {
  const table = new TrustedRegistries(await trustedRegistries(opts, registryUrl, dataDir));
  const file = str(opts, 'trust');
  if (!file) return { table, close: () => {} };
  const insecure = opts.insecure === true;
  const watch = watchTrustFile(file, table, {
    check: (entries) => {
      for (const entry of entries) requireSecureRegistry(entry.baseUrl, insecure);
    },
    onReload: (authorities) => process.stderr.write(`trust file ${file} reloaded: ${authorities.join(', ') || 'no registry'}\n`),
    onError: (error) => process.stderr.write(`trust file ${file} not reloaded, the trust table is unchanged: ${error.message}\n`),
  });
  return { table, close: () => watch.close() };
}

async function readPin(file: string): Promise<TrustedRegistry | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const [entry] = new TrustedRegistries(JSON.parse(text) as TrustedRegistry[]).list();
  return entry ?? null;
}

/** Replicas of one provider sign alike: they share the provider key file. */
async function providerKeyOf(opts: Opts): Promise<SigningKey | undefined> {
  const file = str(opts, 'providerKey');
  return file ? loadKey(file) : undefined;
}

async function adminToken(opts: Opts): Promise<string | undefined> {
  const file = str(opts, 'adminTokenFile');
  if (file) return (await readFile(file, 'utf8')).trim();
  return process.env.SWARM_ADMIN_TOKEN || undefined;
}

const DOMAIN_SERVICES = {
  'cms-article': startCmsArticle,
  'crm-contact': startCrmContact,
  'storage-blob': startStorageBlob,
} as const;

export async function startStandaloneService(serviceType: string, opts: Opts, registryUrl: string) {
  const start = DOMAIN_SERVICES[serviceType as keyof typeof DOMAIN_SERVICES];
  if (!start) throw new SwarmError('invalid_request', `no service type ${serviceType}; choose ${Object.keys(DOMAIN_SERVICES).join(', ')}`);
  const databaseUrl = str(opts, 'databaseUrl') ?? process.env.SWARM_DATABASE_URL;
  const redisUrl = str(opts, 'redisUrl') ?? process.env.SWARM_REDIS_URL;
  const publicUrl = str(opts, 'publicUrl');
  const providerKey = await providerKeyOf(opts);
  const dataDir = str(opts, 'data') ?? join('.swarm', serviceType);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const trust = await liveTrust(opts, registryUrl, dataDir);
  const trusted = trust.table.list();
  const egress = egressOf(opts);
  const service = await start({
    ...(providerKey ? { providerKey } : {}),
    port: (opts.port as number | undefined) ?? STANDARD_PORTS[serviceType as keyof typeof DOMAIN_SERVICES],
    host: str(opts, 'host') ?? '127.0.0.1',
    ...(publicUrl ? { publicUrl } : {}),
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    trustedRegistries: trust.table,
    ...(egress ? { egress } : {}),
    ...metricsOf(opts),
    logLevel: logLevelOf(opts),
  });
  const token = await adminToken(opts);
  let offer = 'offer not registered: pass --admin-token-file to put it in the catalog';
  if (token) {
    for (const registry of trusted) await service.registerOffer(registry.baseUrl, token);
    offer = `offer registered at ${trusted.map((r) => r.authority).join(', ')}`;
  }
  return {
    url: service.url,
    offer,
    close: async () => {
      trust.close();
      await service.close();
    },
  };
}

export async function startStandaloneBackbone(opts: Opts, registryUrl: string) {
  const databaseUrl = str(opts, 'databaseUrl') ?? process.env.SWARM_DATABASE_URL;
  const redisUrl = str(opts, 'redisUrl') ?? process.env.SWARM_REDIS_URL;
  const providerKey = await providerKeyOf(opts);
  const publicUrl = str(opts, 'publicUrl');
  const dataDir = str(opts, 'data') ?? join('.swarm', 'backbone');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const trust = await liveTrust(opts, registryUrl, dataDir);
  const trusted = trust.table.list();
  const egress = egressOf(opts);
  const backbone = await startBackbone({
    ...(providerKey ? { providerKey } : {}),
    ...(publicUrl ? { publicUrl } : {}),
    port: opts.port as number,
    host: str(opts, 'host') ?? '127.0.0.1',
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    trustedRegistries: trust.table,
    ...(egress ? { egress } : {}),
    ...metricsOf(opts),
    logLevel: logLevelOf(opts),
  });
  const token = await adminToken(opts);
  if (token) for (const registry of trusted) await backbone.auth.registerOffer(registry.baseUrl, token);
  return {
    urls: { auth: backbone.auth.url, billing: backbone.billing.url, logging: backbone.logging.url },
    close: async () => {
      trust.close();
      await backbone.close();
    },
  };
}
