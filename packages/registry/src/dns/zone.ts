import { isIPv4 } from 'node:net';
import { appDnsZone, isAppId, NAMESPACE_PATTERN } from '@swarm/protocol';
import type { Answer } from 'dns-packet';
import type { InstanceRecords } from './instance-records.js';
import { isEncodableName, serviceName } from './names.js';
import type { Question } from './query.js';
import { type Rr, rrOf } from './rr.js';
import type { ZoneSigner } from './signer.js';
import { QCLASS, QTYPE, RCODE } from './wire-constants.js';
import type { DnsInstance, DnsZoneSource, MovedZone } from './zone-source.js';

export type Resolution =
  | { rcode: typeof RCODE.REFUSED }
  /** `encloser`: the labels of the closest existing ancestor of the name (for the denial proof). */
  | { rcode: typeof RCODE.NXDOMAIN; encloser: string[] }
  /** `types`: every type the name has records of (an empty answer is NODATA; its proof lists them). */
  | { rcode: typeof RCODE.NOERROR; answers: Rr[]; additionals: Rr[]; types: number[] };

/** A name server of the authority: its name and, for a name inside the authority, its addresses (glue). */
export interface NameServer {
  /** Lowercase, no trailing dot. */
  name: string;
  addresses: string[];
}

export interface Zone {
  /** `<registry>.<tld>`, lowercase, no trailing dot. */
  authority: string;
  source: DnsZoneSource;
  ttl: number;
  /** The apex NS records; the first is the SOA's primary (MNAME). */
  nameServers: NameServer[];
  /** Signs answers to clients that set DO, and its keys are the apex DNSKEYs; null: the zone is not signed. */
  signer: ZoneSigner | null;
  /** An instance's records, or null when it cannot be published (reported by the caller). */
  describe(instance: DnsInstance): InstanceRecords | null;
}

/** NS, their addresses and DNSKEY change only with a restart: a longer TTL, as parents use for delegations. */
export const APEX_TTL = 3600;
/** The SOA serial steps once an hour (the signatures' window, signer.ts): the same bytes all hour long. */
const SERIAL_STEP_SECONDS = 3600;

const REFUSED: Resolution = { rcode: RCODE.REFUSED };
const APP_ZONE_DEPTH = 3;

/** Looks a question up in the authority's tree: apex, name servers, namespaces, app zones and their names. */
export async function resolve(question: Question, zone: Zone): Promise<Resolution> {
  if (question.class !== QCLASS.IN && question.class !== QCLASS.ANY) return REFUSED;
  const apex = zone.authority.split('.');
  const relative = labelsBelow(question.labels, apex);
  if (!relative) return REFUSED;
  if (question.type === QTYPE.AXFR || question.type === QTYPE.IXFR) return REFUSED;
  if (relative.length === 0) return atApex(zone, question.type);
  const host = nameServerAt(zone, question.labels.join('.'));
  if (host) return answered(host.records, question.type === QTYPE.ANY ? (host.types[0] ?? QTYPE.ANY) : question.type, host.types);
  const nsEncloser = nameServerEncloser(zone, relative);
  const nx = (existing: number): Resolution => {
    const depth = Math.max(existing, nsEncloser);
    return { rcode: RCODE.NXDOMAIN, encloser: [...relative.slice(relative.length - depth), ...apex] };
  };
  // `<namespace>` and `<slug>.<namespace>` may have apps below them, so they are empty non-terminals, not
  // NXDOMAIN: resolvers that follow RFC 8020 would otherwise deny every app zone underneath.
  const namespaceDepth = validFromRight(relative);
  if (relative.length < APP_ZONE_DEPTH) return namespaceDepth === relative.length ? empty() : nx(namespaceDepth);
  if (nsEncloser === relative.length) return empty();
  const [registry, tld] = apex;
  const appId = [tld, registry, ...relative.slice(-APP_ZONE_DEPTH).reverse()].join('.');
  if (!isAppId(appId)) return nx(namespaceDepth);
  const appZone = appDnsZone(appId).slice(0, -1);
  const instances = await zone.source.instancesForZone(appZone);
  if (!instances) return nx(namespaceDepth);
  if (!Array.isArray(instances)) return moved(question, relative.slice(0, -APP_ZONE_DEPTH), appZone, instances, zone.ttl);
  const records = instances
    .map((instance) => zone.describe(instance))
    .filter((entry): entry is InstanceRecords => entry !== null && fitsZone(entry, appZone));
  const below = relative.slice(0, -APP_ZONE_DEPTH);
  const names = keptNames(instances, appZone, zone.ttl, () => appZoneNames(appZone, records, zone.ttl));
  const node = names.get(below.join('.'));
  if (!node) {
    let existing = 0;
    while (existing < below.length && names.has(below.slice(below.length - existing - 1).join('.'))) existing++;
    return nx(Math.max(existing + APP_ZONE_DEPTH, nsEncloser));
  }
  if (question.type === QTYPE.SRV) return answered(node.records, QTYPE.SRV, node.types, node.withSrv);
  return answered(node.records, question.type === QTYPE.ANY ? node.anyType : question.type, node.types);
}

/**
 * The old zone of an app that moved (RFC 6672): its apex holds the DNAME to the new zone and a TXT
 * `successor=<authority>`; a name below answers the DNAME and the CNAME synthesized from it, so a
 * stock resolver follows to the same name under the new zone.
 */
function moved(question: Question, below: string[], appZone: string, to: MovedZone, ttl: number): Resolution {
  const dname = rrOf({ type: 'DNAME', name: appZone, ttl, data: to.target });
  if (below.length === 0) {
    const txt = rrOf({ type: 'TXT', name: appZone, ttl, data: [`successor=${to.successor}`] });
    return answered([dname, txt], question.type === QTYPE.ANY ? QTYPE.TXT : question.type, [QTYPE.TXT, QTYPE.DNAME]);
  }
  const relativeName = below.map((label) => label.toLowerCase()).join('.');
  const target = `${relativeName}.${to.target}`;
  // RFC 6672 §2.2: a synthesized name too long to write is YXDOMAIN; answering the DNAME alone says as much.
  if (!isEncodableName(target)) return { rcode: RCODE.NOERROR, answers: [dname], additionals: [], types: [] };
  const cname = rrOf({ type: 'CNAME', name: `${relativeName}.${appZone}`, ttl, data: target });
  return { rcode: RCODE.NOERROR, answers: question.type === QTYPE.DNAME ? [dname] : [dname, cname], additionals: [], types: [QTYPE.CNAME] };
}

/** Whether the instance's names inside the app zone can be written (at most 255 bytes). */
function fitsZone(entry: InstanceRecords, appZone: string): boolean {
  return (
    isEncodableName(serviceName(entry.serviceType, appZone)) && (!entry.address || isEncodableName(`${entry.addressLabel}.${appZone}`))
  );
}

interface NameNode {
  records: Rr[];
  types: number[];
  /** RFC 8482: ANY gets one RRset, not everything, so it is no better a reflector than SRV. */
  anyType: number;
  /** Additional records of an SRV answer. */
  withSrv?: Rr[];
}

/**
 * A zone source may hand out the same instance list for a while (the registry keeps its lists for the
 * rest of a second): the app zone's names and encoded records are then built once, not per query.
 */
const namesKept = new WeakMap<DnsInstance[], { appZone: string; ttl: number; names: Map<string, NameNode> }>();

function keptNames(instances: DnsInstance[], appZone: string, ttl: number, build: () => Map<string, NameNode>): Map<string, NameNode> {
  const kept = namesKept.get(instances);
  if (kept?.appZone === appZone && kept.ttl === ttl) return kept.names;
  const names = build();
  namesKept.set(instances, { appZone, ttl, names });
  return names;
}

/** Every name of an app zone (relative to it, '' for the zone itself) and its records. */
function appZoneNames(appZone: string, records: InstanceRecords[], ttl: number): Map<string, NameNode> {
  const names = new Map<string, NameNode>([['', emptyNode()]]);
  if (records.length === 0) return names;
  for (const path of ['_tcp', '_udp', '_dns-sd._udp']) names.set(path, emptyNode());
  const types = [...new Set(records.map((entry) => entry.serviceType))];
  const services = `_services._dns-sd._udp.${appZone}`;
  names.set('_services._dns-sd._udp', {
    records: types.map((serviceType) => rrOf({ type: 'PTR', name: services, ttl, data: serviceName(serviceType, appZone) })),
    types: [QTYPE.PTR],
    anyType: QTYPE.PTR,
  });
  for (const serviceType of types) {
    const name = serviceName(serviceType, appZone);
    const matching = records.filter((entry) => entry.serviceType === serviceType);
    const srv = matching.map((entry): Answer => srvRecord(name, entry, appZone, ttl));
    const txt = matching.map((entry): Answer => ({ type: 'TXT', name, ttl, data: entry.txt }));
    const addresses = matching.flatMap((entry) => addressRecord(entry, appZone, ttl) ?? []);
    names.set(`_${serviceType}._tcp`, {
      records: [...srv, ...txt].map(rrOf),
      types: [QTYPE.SRV, QTYPE.TXT],
      anyType: QTYPE.SRV,
      // The TXT of the same name and the addresses of targets inside the zone; nothing outside it.
      withSrv: [...txt, ...uniqueByName(addresses)].map(rrOf),
    });
  }
  for (const entry of records) {
    const address = addressRecord(entry, appZone, ttl);
    if (address && !names.has(entry.addressLabel)) {
      const type = address.type === 'A' ? QTYPE.A : QTYPE.AAAA;
      names.set(entry.addressLabel, { records: [rrOf(address)], types: [type], anyType: type });
    }
  }
  return names;
}

function emptyNode(): NameNode {
  return { records: [], types: [], anyType: QTYPE.ANY };
}

/** The apex: SOA, NS (with the addresses of name servers inside the authority) and, when signed, DNSKEY. */
function atApex(zone: Zone, type: number): Resolution {
  const nameServers = zone.nameServers.map((server): Answer => ({ type: 'NS', name: zone.authority, ttl: APEX_TTL, data: server.name }));
  const dnskeys = (zone.signer?.keys ?? []).map((key): Answer => dnskeyRecord(zone.authority, key.rdata));
  const records = [soaRecord(zone), ...nameServers, ...dnskeys].map(rrOf);
  const types = [QTYPE.SOA, QTYPE.NS, ...(dnskeys.length > 0 ? [QTYPE.DNSKEY] : [])];
  if (type === QTYPE.ANY) return answered(records, QTYPE.SOA, types);
  const glue = type === QTYPE.NS ? zone.nameServers.flatMap((server) => nameServerAt(zone, server.name)?.records ?? []) : [];
  return answered(records, type, types, glue);
}

export function dnskeyRecord(authority: string, rdata: Buffer): Answer {
  return {
    type: 'DNSKEY',
    name: authority,
    ttl: APEX_TTL,
    data: { flags: rdata.readUInt16BE(0), algorithm: rdata.readUInt8(3), key: rdata.subarray(4) },
  };
}

/** A name server's own name inside the authority, with its addresses. */
function nameServerAt(zone: Zone, name: string): { records: Rr[]; types: number[] } | null {
  const server = zone.nameServers.find((candidate) => candidate.name === name);
  if (!server || !isInside(server.name, zone.authority) || server.name === zone.authority) return null;
  const records = server.addresses.map((address) => rrOf({ type: isIPv4(address) ? 'A' : 'AAAA', name, ttl: APEX_TTL, data: address }));
  return { records, types: [...new Set(records.map((record) => record.type))] };
}

/** How many labels of `relative` (from the right) are a name server's name inside the authority or above it. */
function nameServerEncloser(zone: Zone, relative: string[]): number {
  let best = 0;
  const apexLabels = zone.authority.split('.').length;
  for (const server of zone.nameServers) {
    if (!isInside(server.name, zone.authority)) continue;
    const labels = server.name.split('.').slice(0, -apexLabels);
    let shared = 0;
    while (shared < labels.length && shared < relative.length && labels.at(-1 - shared) === relative.at(-1 - shared)) shared++;
    best = Math.max(best, shared);
  }
  return best;
}

function isInside(name: string, authority: string): boolean {
  return name === authority || name.endsWith(`.${authority}`);
}

/** Namespace and slug labels, counted from the right, at most two. */
function validFromRight(relative: string[]): number {
  let valid = 0;
  while (valid < Math.min(relative.length, APP_ZONE_DEPTH - 1) && NAMESPACE_PATTERN.test(relative.at(-1 - valid) as string)) valid++;
  return valid;
}

/** The labels left of the authority, or null when the name is not inside it. */
function labelsBelow(labels: string[], authority: string[]): string[] | null {
  const split = labels.length - authority.length;
  if (split < 0) return null;
  return authority.every((label, index) => labels[split + index] === label) ? labels.slice(0, split) : null;
}

function answered(records: Rr[], type: number, types: number[], additionals: Rr[] = []): Resolution {
  const answers = records.filter((record) => record.type === type);
  return { rcode: RCODE.NOERROR, answers, additionals: answers.length > 0 ? additionals : [], types };
}

function empty(): Resolution {
  return { rcode: RCODE.NOERROR, answers: [], additionals: [], types: [] };
}

/** An instance's SRV: the host it was given, or for an address the name inside the app zone that carries it. */
function srvRecord(name: string, entry: InstanceRecords, appZone: string, ttl: number): Answer {
  const target = entry.address ? `${entry.addressLabel}.${appZone}` : entry.target;
  return { type: 'SRV', name, ttl, data: { priority: 0, weight: 0, port: entry.port, target } };
}

function addressRecord(entry: InstanceRecords, appZone: string, ttl: number): Answer | null {
  if (!entry.address) return null;
  return { type: entry.address.type, name: `${entry.addressLabel}.${appZone}`, ttl, data: entry.address.data };
}

function uniqueByName(records: Answer[]): Answer[] {
  const byName = new Map<string, Answer>();
  for (const record of records) if (!byName.has(record.name)) byName.set(record.name, record);
  return [...byName.values()];
}

const soaKept = new WeakMap<object, { serial: number; rr: Rr }>();

/** The SOA as encoded, kept while its serial stands (an hour): negative answers all carry it. */
export function soaRr(zone: Pick<Zone, 'authority' | 'ttl' | 'nameServers'>): Rr {
  const answer = soaRecord(zone);
  const serial = (answer as { data: { serial: number } }).data.serial;
  const kept = soaKept.get(zone);
  if (kept?.serial === serial) return kept.rr;
  const rr = rrOf(answer);
  soaKept.set(zone, { serial, rr });
  return rr;
}

/**
 * The authority's SOA. There is no zone transfer, so the serial only has to move now and then (it steps
 * hourly, so a signed SOA keeps one signature an hour); refresh, retry and expire only matter to
 * secondaries, and `minimum` (the negative-caching TTL, RFC 2308) is the record TTL.
 */
export function soaRecord(zone: Pick<Zone, 'authority' | 'ttl' | 'nameServers'>, now = Date.now()): Answer {
  const seconds = Math.floor(now / 1000);
  return {
    type: 'SOA',
    name: zone.authority,
    ttl: zone.ttl,
    data: {
      mname: zone.nameServers[0]?.name ?? zone.authority,
      rname: `hostmaster.${zone.authority}`,
      serial: (seconds - (seconds % SERIAL_STEP_SECONDS)) >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: zone.ttl,
    },
  };
}
