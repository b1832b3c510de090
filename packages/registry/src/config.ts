import { parseAllowList } from '@swarm/runtime';
import { type AddressTargets, parseNameServers } from './dns/index.js';
import { parseInstanceQuotas } from './routes/bindings.js';
import type { RegistryOptions } from './start.js';

function port(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new Error(`${name} must be a port number, not ${value}`);
  return parsed;
}

function count(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${name} must be a whole number ≥ 0, not ${value}`);
  return parsed;
}

const text = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

/**
 * Registry options from SWARM_* environment variables; explicit options win over them.
 * SWARM_DNS_PORT=off turns Service DNS off, SWARM_DNSSEC=off its signatures; SWARM_DNS_NS names its
 * name servers; SWARM_ALLOW_EGRESS lists CIDRs broadcasts may reach.
 */
export function registryOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RegistryOptions {
  const options: RegistryOptions = {};
  const httpPort = port(env.SWARM_REGISTRY_PORT, 'SWARM_REGISTRY_PORT');
  if (httpPort !== undefined) options.port = httpPort;
  if (env.SWARM_DNS_PORT === 'off' || env.SWARM_DNS_PORT === 'false') options.dnsPort = false;
  else {
    const dnsPort = port(env.SWARM_DNS_PORT, 'SWARM_DNS_PORT');
    if (dnsPort !== undefined) options.dnsPort = dnsPort;
  }
  const dnsLimits = {
    responsesPerSecond: count(env.SWARM_DNS_RATE_LIMIT, 'SWARM_DNS_RATE_LIMIT'),
    slip: count(env.SWARM_DNS_SLIP, 'SWARM_DNS_SLIP'),
    tcpLifetimeMs: count(env.SWARM_DNS_TCP_LIFETIME_MS, 'SWARM_DNS_TCP_LIFETIME_MS'),
    tcpIdleMs: count(env.SWARM_DNS_TCP_IDLE_MS, 'SWARM_DNS_TCP_IDLE_MS'),
    tcpPerAddress: count(env.SWARM_DNS_TCP_PER_ADDRESS, 'SWARM_DNS_TCP_PER_ADDRESS'),
  };
  const givenLimits = Object.entries(dnsLimits).filter(([, value]) => value !== undefined);
  if (givenLimits.length > 0) options.dnsLimits = Object.fromEntries(givenLimits);
  const nameServers = text(env.SWARM_DNS_NS);
  if (nameServers !== undefined) options.dnsNameServers = parseNameServers(nameServers);
  const targets = text(env.SWARM_DNS_ADDRESS_TARGETS);
  if (targets !== undefined) options.dnsAddressTargets = addressTargets(targets, 'SWARM_DNS_ADDRESS_TARGETS');
  if (env.SWARM_DNSSEC === 'off' || env.SWARM_DNSSEC === 'false') options.dnssec = false;
  const dnssecKeyFile = text(env.SWARM_DNSSEC_KEY_FILE);
  if (dnssecKeyFile !== undefined) options.dnssecKeyFile = dnssecKeyFile;
  const allow = text(env.SWARM_ALLOW_EGRESS);
  if (allow !== undefined) options.egress = { allow: parseAllowList(allow) };
  const fields = {
    databaseUrl: text(env.SWARM_DATABASE_URL),
    dataDir: text(env.SWARM_DATA_DIR),
    authority: text(env.SWARM_AUTHORITY),
    adminToken: text(env.SWARM_ADMIN_TOKEN),
    admissionToken: text(env.SWARM_ADMISSION_TOKEN),
    registryKeyFile: text(env.SWARM_REGISTRY_KEY_FILE),
    publicUrl: text(env.SWARM_PUBLIC_URL),
  };
  const contest = count(env.SWARM_MIGRATION_CONTEST_SECONDS, 'SWARM_MIGRATION_CONTEST_SECONDS');
  if (contest !== undefined) options.migrationContestSeconds = contest;
  const grace = count(env.SWARM_MIGRATION_DNS_GRACE_SECONDS, 'SWARM_MIGRATION_DNS_GRACE_SECONDS');
  if (grace !== undefined) options.migrationDnsGraceSeconds = grace;
  const trustFile = text(env.SWARM_TRUST_FILE);
  if (trustFile !== undefined) options.trustFile = trustFile;
  const quotas = text(env.SWARM_INSTANCE_QUOTAS);
  if (quotas !== undefined) options.instanceQuotas = parseInstanceQuotas(quotas);
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  return options;
}

/** `host` (SPEC §7) or `zone`: how endpoints given as addresses are named as SRV targets. */
export function addressTargets(value: string, name = '--dns-address-targets'): AddressTargets {
  if (value !== 'host' && value !== 'zone') throw new Error(`${name} is host or zone, not ${value}`);
  return value;
}
