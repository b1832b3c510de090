import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { parseAuthority, SwarmError } from '@swarm/protocol';
import { type AddressTargets, type InstanceRecords, instanceRecords } from './instance-records.js';
import { type DnsLimits, dnsLimits, ResponseRateLimiter } from './limits.js';
import { type DnsObserver, observedResponder } from './observed.js';
import { createResponder, type Responder } from './responder.js';
import { ZoneSigner, zoneKey } from './signer.js';
import { listenTcp } from './tcp-transport.js';
import { type TcpResponder, tcpResponder } from './transfer.js';
import { TransferAcl } from './transfer-acl.js';
import { type Listening, listenUdp } from './udp-transport.js';
import type { NameServer } from './zone.js';
import { watchZone } from './zone-snapshot.js';
import type { DnsInstance, DnsLogger, DnsZoneSource } from './zone-source.js';
import { ZoneVersion } from './zone-version.js';

export interface DnsServerOptions {
  host: string;
  /** 0 picks a free port; UDP and TCP always share it. */
  port: number;
  /** The registry authority `<registry>.<tld>`, e.g. `swarm.local`. */
  authority: string;
  source: DnsZoneSource;
  /** Seconds; also the negative-caching TTL. Default 30. */
  ttl?: number;
  logger?: DnsLogger;
  /** Rate limiting and TCP connection bounds; each left out takes its default (DEFAULT_DNS_LIMITS). */
  limits?: Partial<DnsLimits>;
  /** Told the type and rcode of every query answered (metrics). */
  observe?: DnsObserver;
  /** SRV targets of endpoints given as addresses: `host` (SPEC §7, default) or `zone` (names inside the app zone). */
  addressTargets?: AddressTargets;
  /**
   * The apex NS records (the first is the SOA's primary); addresses go with names inside the authority.
   * Default: `ns1.<authority>` at `host` (when `host` is an address other than 0.0.0.0 or ::).
   */
  nameServers?: NameServer[];
  /** DNSSEC keys (Ed25519): every one is published and signs (two during a rollover); none: unsigned. */
  dnssecKeys?: KeyObject[];
  /** Addresses or CIDRs that may transfer the zone over TCP (AXFR, IXFR); default none (REFUSED). */
  allowTransfer?: readonly string[];
}

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_DNS_TTL = 30;
/** Half the SOA refresh (60 s): a change shows in the serial before a secondary's next poll. */
const ZONE_CHECK_MS = 30_000;
const FREE_PORT_ATTEMPTS = 20;
const silent: DnsLogger = { warn() {} };

/**
 * Serves the authority's Service DNS (SPEC §7) over UDP and TCP on one port.
 *
 * @example
 * const dns = await startDnsServer({ host: '127.0.0.1', port: 0, authority: 'swarm.local', source });
 * // dig @127.0.0.1 -p <dns.port> SRV _cms-article._tcp.<hash>.<slug>.<namespace>.swarm.local
 * await dns.close();
 */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const authority = options.authority.toLowerCase().replace(/\.$/, '');
  parseAuthority(authority);
  const ttl = options.ttl ?? DEFAULT_DNS_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) throw new RangeError('ttl must be an integer number of seconds');
  const logger = options.logger ?? silent;
  const limits = dnsLimits(options.limits);
  const nameServers = options.nameServers ?? defaultNameServers(authority, options.host);
  if (nameServers.length === 0) throw new RangeError('the zone needs at least one name server');
  const unreachable = nameServers.find((server) => server.addresses.length === 0 && `.${server.name}`.endsWith(`.${authority}`));
  if (options.nameServers && unreachable)
    throw new SwarmError(
      'invalid_request',
      `name server ${unreachable.name} is inside ${authority}: give its address (${unreachable.name}=<ip>)`,
    );
  const keys = (options.dnssecKeys ?? []).map(zoneKey);
  const signer = keys.length > 0 ? new ZoneSigner(authority, keys) : null;
  const zone = {
    authority,
    source: options.source,
    ttl,
    nameServers,
    signer,
    describe: publishable(logger, options.addressTargets ?? 'host'),
    version: options.source.version ?? new ZoneVersion(Math.floor(Date.now() / 1000)),
  };
  const acl = new TransferAcl(options.allowTransfer);
  const respond = observedResponder(createResponder(zone, logger), options.observe);
  const respondTcp = tcpResponder(zone, respond, acl, logger, options.observe);
  const [udp, tcp] = await listenOnOnePort(options.host, options.port, respond, respondTcp, logger, limits);
  // With secondaries listed, the zone is read now and then, so that the SOA they poll tells of
  // changes nobody announced (health lost by time alone) within that period.
  const unwatch =
    acl.entries.length > 0 && options.source.everyZone
      ? watchZone(zone, ZONE_CHECK_MS, (error) => logger.warn({ err: error }, 'service DNS could not read the zone'))
      : () => {};
  return {
    port: udp.port,
    close: async () => {
      unwatch();
      await Promise.all([udp.close(), tcp.close()]);
    },
  };
}

/** `ns1.<authority>`, with the address the server listens on when that is one peers can reach. */
export function defaultNameServers(authority: string, host: string): NameServer[] {
  const address = host.replace(/^\[(.*)\]$/, '$1');
  const reachable = isIP(address) !== 0 && address !== '0.0.0.0' && address !== '::';
  return [{ name: `ns1.${authority}`, addresses: reachable ? [address] : [] }];
}

async function listenOnOnePort(
  host: string,
  port: number,
  respond: Responder,
  respondTcp: TcpResponder,
  logger: DnsLogger,
  limits: DnsLimits,
): Promise<[Listening, Listening]> {
  for (let attempt = 1; ; attempt++) {
    const udp = await listenUdp(host, port, respond, logger, new ResponseRateLimiter(limits));
    try {
      return [udp, await listenTcp(host, udp.port, respondTcp, logger, limits)];
    } catch (error) {
      await udp.close();
      // A free UDP port may be taken for TCP; with port 0 another free one will do.
      const portTaken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (port !== 0 || !portTaken || attempt >= FREE_PORT_ATTEMPTS) throw error;
    }
  }
}

/** Leaves out instances that cannot be published, saying so once per instance and problem. */
function publishable(logger: DnsLogger, addressTargets: AddressTargets): (instance: DnsInstance) => InstanceRecords | null {
  const reported = new Set<string>();
  // A zone source may hand out the same instance objects for a while (the registry's keep theirs
  // for the rest of a second): each is described once, not per query.
  const described = new WeakMap<DnsInstance, InstanceRecords | null>();
  return (instance) => {
    let records = described.get(instance);
    if (records === undefined) {
      records = describe(instance);
      described.set(instance, records);
    }
    return records;
  };

  function describe(instance: DnsInstance): InstanceRecords | null {
    const records = instanceRecords(instance, addressTargets);
    if (!('problem' in records)) return records;
    const key = `${instance.serviceId}\n${records.problem}`;
    if (!reported.has(key)) {
      if (reported.size >= 1000) reported.clear();
      reported.add(key);
      logger.warn(
        { serviceId: instance.serviceId, endpointUrl: instance.endpointUrl },
        `service DNS leaves out an instance: ${records.problem}`,
      );
    }
    return null;
  }
}
