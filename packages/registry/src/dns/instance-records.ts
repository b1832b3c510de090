import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { ServiceType } from '@swarm/protocol';
import { isEncodableName } from './names.js';
import type { DnsInstance } from './zone-source.js';

/** What one instance contributes to its zone, checked so that every part can be encoded. */
export interface InstanceRecords {
  serviceType: string;
  target: string;
  port: number;
  txt: Buffer[];
  address: { type: 'A' | 'AAAA'; data: string } | null;
  /**
   * For an address: the label, inside the app zone, of the name that carries it (the SRV target), as
   * Consul answers with `.addr.` names: an address written as a name would sit outside the zone.
   */
  addressLabel: string;
}

const MAX_SERVICE_TYPE_IN_LABEL = 62;
const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };
const MAX_TXT_STRING_BYTES = 255;
const HOST_LABEL = /^[a-z0-9_-]+$/i;

/**
 * How an endpoint given as an address is named as the SRV target. `host` (SPEC §7, the default):
 * the address written as a name, `127.0.0.1.`, whose A record a resolver cannot find in any zone.
 * `zone` (docs/DNS.md, "Targets"): `<service_id>.<app zone>` with its A/AAAA inside the zone, so a
 * recursive resolver follows SRV → target → address, the way Consul answers with `.addr.` names.
 */
export type AddressTargets = 'host' | 'zone';

/** The instance's SRV target, port and TXT strings, or why it cannot be published. */
export function instanceRecords(instance: DnsInstance, addressTargets: AddressTargets = 'host'): InstanceRecords | { problem: string } {
  // `_<service_type>` must fit one 63-byte label.
  if (!ServiceType.safeParse(instance.serviceType).success || instance.serviceType.length > MAX_SERVICE_TYPE_IN_LABEL)
    return { problem: 'service type does not fit a DNS label' };
  const endpoint = parseEndpoint(instance.endpointUrl);
  if (!endpoint) return { problem: 'endpoint_url has no http(s) host that fits a DNS name' };
  const strings = [
    `service_id=${instance.serviceId}`,
    `endpoint_url=${instance.endpointUrl}`,
    `public_key=${instance.publicKey}`,
    instance.tier === null ? null : `tier=${instance.tier}`,
    instance.region === null ? null : `region=${instance.region}`,
  ].filter((value): value is string => value !== null);
  const txt = strings.map((value) => Buffer.from(value, 'utf8'));
  if (txt.some((value) => value.length > MAX_TXT_STRING_BYTES)) return { problem: 'a TXT key=value is longer than 255 bytes' };
  // Written as a host (SPEC §7), an address is the target itself and has no record in the zone.
  const target = addressTargets === 'zone' ? endpoint : { ...endpoint, address: null };
  return { serviceType: instance.serviceType, ...target, txt, addressLabel: addressLabel(instance.serviceId) };
}

/** The service_id when it fits one label (it is `[a-z0-9][a-z0-9-]*`), else a digest of it. */
function addressLabel(serviceId: string): string {
  const label = serviceId.toLowerCase();
  if (/^[a-z0-9][a-z0-9-]{0,62}$/.test(label)) return label;
  return `i-${createHash('sha256').update(serviceId).digest('hex').slice(0, 32)}`;
}

function parseEndpoint(endpointUrl: string): Pick<InstanceRecords, 'target' | 'port' | 'address'> | null {
  let url: URL;
  try {
    url = new URL(endpointUrl);
  } catch {
    return null;
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (defaultPort === undefined) return null;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  const ipVersion = isIP(host);
  // A target is a host name (RFC 2782): letters, digits, `-` (and `_`, used by internal names). The
  // URL parser lets `*`, `;`, `"` and more through; such a name could not be written in a zone file
  // without escapes, and no resolver would look it up: the instance is left out instead.
  if (!isEncodableName(host) || (ipVersion === 0 && !host.split('.').every((label) => HOST_LABEL.test(label)))) return null;
  const address = ipVersion === 4 ? { type: 'A' as const, data: host } : ipVersion === 6 ? { type: 'AAAA' as const, data: host } : null;
  return { target: host, port: url.port === '' ? defaultPort : Number(url.port), address };
}
