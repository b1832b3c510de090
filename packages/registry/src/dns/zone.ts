import { appDnsZone, isAppId, NAMESPACE_PATTERN } from '@swarm/protocol';
import type { Answer } from 'dns-packet';
import type { InstanceRecords } from './instance-records.js';
import { isEncodableName, serviceName } from './names.js';
import type { Question } from './query.js';
import { QCLASS, QTYPE, RCODE } from './wire-constants.js';
import type { DnsInstance, DnsZoneSource } from './zone-source.js';

export type Resolution =
  | { rcode: typeof RCODE.REFUSED }
  | { rcode: typeof RCODE.NXDOMAIN }
  | { rcode: typeof RCODE.NOERROR; answers: Answer[]; additionals: Answer[] };

export interface Zone {
  /** `<registry>.<tld>`, lowercase, no trailing dot. */
  authority: string;
  source: DnsZoneSource;
  ttl: number;
  /** An instance's records, or null when it cannot be published (reported by the caller). */
  describe(instance: DnsInstance): InstanceRecords | null;
}

const REFUSED: Resolution = { rcode: RCODE.REFUSED };
const NXDOMAIN: Resolution = { rcode: RCODE.NXDOMAIN };
const APP_ZONE_DEPTH = 3;

/** Looks a question up in the authority's tree: apex, namespaces, app zones and their service names. */
export async function resolve(question: Question, zone: Zone): Promise<Resolution> {
  if (question.class !== QCLASS.IN && question.class !== QCLASS.ANY) return REFUSED;
  const relative = labelsBelow(question.labels, zone.authority.split('.'));
  if (!relative) return REFUSED;
  if (question.type === QTYPE.AXFR || question.type === QTYPE.IXFR) return REFUSED;
  if (relative.length === 0) return answered(wants(question.type, QTYPE.SOA) ? [soaRecord(zone)] : []);
  // `<namespace>` and `<slug>.<namespace>` may have apps below them, so they are empty non-terminals, not
  // NXDOMAIN: resolvers that follow RFC 8020 would otherwise deny every app zone underneath.
  if (relative.length < APP_ZONE_DEPTH) return relative.every((label) => NAMESPACE_PATTERN.test(label)) ? answered([]) : NXDOMAIN;
  const [registry, tld] = zone.authority.split('.');
  const appId = [tld, registry, ...relative.slice(-APP_ZONE_DEPTH).reverse()].join('.');
  if (!isAppId(appId)) return NXDOMAIN;
  const appZone = appDnsZone(appId).slice(0, -1);
  const instances = await zone.source.instancesForZone(appZone);
  if (!instances) return NXDOMAIN;
  const records = instances
    .map((instance) => zone.describe(instance))
    .filter((entry): entry is InstanceRecords => entry !== null && isEncodableName(serviceName(entry.serviceType, appZone)));
  return resolveInAppZone(relative.slice(0, -APP_ZONE_DEPTH), question.type, appZone, records, zone.ttl);
}

function resolveInAppZone(below: string[], type: number, appZone: string, records: InstanceRecords[], ttl: number): Resolution {
  const name = [...below, appZone].join('.');
  const path = below.join('.');
  if (path === '') return answered([]);
  if (path === '_tcp' || path === '_udp' || path === '_dns-sd._udp') return records.length > 0 ? answered([]) : NXDOMAIN;
  if (path === '_services._dns-sd._udp') {
    if (records.length === 0) return NXDOMAIN;
    const types = [...new Set(records.map((entry) => entry.serviceType))];
    return answered(wants(type, QTYPE.PTR) ? types.map((serviceType) => ptrRecord(name, serviceName(serviceType, appZone), ttl)) : []);
  }
  const [serviceLabel, protocolLabel] = below;
  if (below.length !== 2 || protocolLabel !== '_tcp') return NXDOMAIN;
  const matching = records.filter((entry) => `_${entry.serviceType}` === serviceLabel);
  if (matching.length === 0) return NXDOMAIN;
  const srv = matching.map((entry) => srvRecord(name, entry, ttl));
  const txt = matching.map((entry) => ({ type: 'TXT' as const, name, ttl, data: entry.txt }));
  const addresses = addressRecords(matching, ttl);
  if (type === QTYPE.SRV) return answered(srv, [...txt, ...addresses]);
  if (type === QTYPE.TXT) return answered(txt);
  // RFC 8482: ANY gets one RRset, not everything, so it is no better a reflector than SRV.
  if (type === QTYPE.ANY) return answered(srv);
  return answered([]);
}

/** The labels left of the authority, or null when the name is not inside it. */
function labelsBelow(labels: string[], authority: string[]): string[] | null {
  const split = labels.length - authority.length;
  if (split < 0) return null;
  return authority.every((label, index) => labels[split + index] === label) ? labels.slice(0, split) : null;
}

function wants(asked: number, type: number): boolean {
  return asked === type || asked === QTYPE.ANY;
}

function answered(answers: Answer[], additionals: Answer[] = []): Resolution {
  return { rcode: RCODE.NOERROR, answers, additionals };
}

function srvRecord(name: string, entry: InstanceRecords, ttl: number): Answer {
  return { type: 'SRV', name, ttl, data: { priority: 0, weight: 0, port: entry.port, target: entry.target } };
}

function ptrRecord(name: string, target: string, ttl: number): Answer {
  return { type: 'PTR', name, ttl, data: target };
}

function addressRecords(entries: InstanceRecords[], ttl: number): Answer[] {
  const byTarget = new Map<string, Answer>();
  for (const { target, address } of entries) {
    if (address && !byTarget.has(target)) byTarget.set(target, { type: address.type, name: target, ttl, data: address.data });
  }
  return [...byTarget.values()];
}

/**
 * The authority's SOA. There is no zone transfer, so the serial is simply the current time; refresh, retry
 * and expire only matter to secondaries, and `minimum` (the negative-caching TTL, RFC 2308) is the record TTL.
 */
export function soaRecord(zone: Pick<Zone, 'authority' | 'ttl'>): Answer {
  return {
    type: 'SOA',
    name: zone.authority,
    ttl: zone.ttl,
    data: {
      mname: zone.authority,
      rname: `hostmaster.${zone.authority}`,
      serial: Math.floor(Date.now() / 1000) >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: zone.ttl,
    },
  };
}
