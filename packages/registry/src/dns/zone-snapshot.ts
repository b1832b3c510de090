import { createHash } from 'node:crypto';
import { typeBitmap } from './denial.js';
import { type Rr, rrOf, rrsets, rrWire } from './rr.js';
import { QTYPE } from './wire-constants.js';
import { apexRecords, appZoneRecords, soaRecord, type Zone } from './zone.js';

/** The whole zone at one moment, as a transfer sends it: the SOA first, then every other record. */
export interface ZoneSnapshot {
  serial: number;
  soa: Rr;
  /** Everything but the SOA itself (its RRSIG included), owners in canonical order (RFC 4034 §6.1). */
  records: Rr[];
}

/** Every record of the zone but the SOA, as read at one moment, and the serial they go under. */
export interface ZoneContent {
  serial: number;
  body: Rr[];
  nowMs: number;
}

/**
 * Reads every app zone from the source: apex (NS, DNSKEY), the name servers' addresses, every app
 * zone's records. Their digest goes to the zone's version (zone-version.ts), which moves the serial
 * when they changed unannounced.
 */
export async function zoneContent(zone: Zone, nowMs = Date.now()): Promise<ZoneContent> {
  if (!zone.source.everyZone) throw new Error('the zone source cannot list its zones');
  const suffix = `.${zone.authority}`;
  const appZones = (await zone.source.everyZone()).filter((app) => app.zone.endsWith(suffix));
  const apex = apexRecords(zone, 0).filter((rr) => rr.type !== QTYPE.SOA);
  const body = unique([...apex, ...appZones.flatMap((app) => appZoneRecords(zone, app.zone, app.instances))]);
  return { serial: zone.version.observed(digestOf(body), Math.floor(nowMs / 1000)), body, nowMs };
}

/**
 * The zone written out for a transfer. When the zone is signed, a full NSEC chain over every name
 * that owns records is made here (RFC 4034 §4: the next owner in canonical order, the last pointing
 * back at the apex), unlike the white lies of online answers (denial.ts), and every RRset gets its
 * RRSIGs, so the copy is a complete signed zone a secondary serves as it is.
 */
export async function zoneSnapshot(zone: Zone, content: ZoneContent): Promise<ZoneSnapshot> {
  const { serial, body, nowMs } = content;
  const soa = rrOf(soaRecord(zone, serial));
  const records = sortedCanonically([soa, ...body]);
  if (!zone.signer) return { serial, soa, records: records.slice(1) };
  const signer = zone.signer;
  // What did not change since the last transfer keeps its signatures (in the same window).
  const signatures = { previous: lastSignatures.get(zone) ?? new Map<string, Rr[]>(), next: new Map<string, Rr[]>() };
  const signed: Rr[] = [];
  for (const [index, set] of rrsets([...records, ...nsecChain(records, zone.ttl)]).entries()) {
    signed.push(...set, ...signer.rrsigs(set, nowMs, signatures));
    // Signing a large zone takes a while: online answers get their turn in between.
    if (index % YIELD_EVERY_RRSETS === YIELD_EVERY_RRSETS - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  lastSignatures.set(zone, signatures.next);
  return { serial, soa, records: sortedCanonically(signed).filter((rr) => rr !== soa) };
}

/** The signatures of each zone's last transfer, by a digest of RRset and window. */
const lastSignatures = new WeakMap<Zone, Map<string, Rr[]>>();
const YIELD_EVERY_RRSETS = 256;

/** Reads the zone now and checks it against the serial, every `everyMs`, until stopped (listed secondaries poll the SOA). */
export function watchZone(zone: Zone, everyMs: number, onError: (error: unknown) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    zoneContent(zone)
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** One NSEC per owner name, pointing at the next owner; types: the owner's, RRSIG and NSEC. */
function nsecChain(records: Rr[], ttl: number): Rr[] {
  const owners: { owner: Buffer; types: number[] }[] = [];
  for (const rr of records) {
    const last = owners.at(-1);
    if (last?.owner.equals(rr.owner)) last.types.push(rr.type);
    else owners.push({ owner: rr.owner, types: [rr.type] });
  }
  return owners.map(({ owner, types }, index) => {
    const next = (owners[(index + 1) % owners.length] as { owner: Buffer }).owner;
    return { owner, type: QTYPE.NSEC, ttl, rdata: Buffer.concat([next, typeBitmap([...types, QTYPE.RRSIG, QTYPE.NSEC])]) };
  });
}

/** Records ordered by owner (canonical order), then type, then RDATA; a type's RRSIG right after it. */
function sortedCanonically(records: Rr[]): Rr[] {
  return [...records].sort((a, b) => compareNames(a.owner, b.owner) || sortType(a) - sortType(b) || Buffer.compare(a.rdata, b.rdata));
}

/** SOA first at the apex; an RRSIG sorts just after the type it covers. */
function sortType(rr: Rr): number {
  const type = rr.type === QTYPE.RRSIG ? rr.rdata.readUInt16BE(0) : rr.type;
  return (type === QTYPE.SOA ? 0 : type * 2) + (rr.type === QTYPE.RRSIG ? 1 : 0);
}

/** RFC 4034 §6.1: labels compared from the right, each as lowercase bytes; a parent before its children. */
export function compareNames(a: Buffer, b: Buffer): number {
  const left = labelsOf(a);
  const right = labelsOf(b);
  for (let i = 1; i <= Math.min(left.length, right.length); i++) {
    const order = Buffer.compare(left.at(-i) as Buffer, right.at(-i) as Buffer);
    if (order !== 0) return order;
  }
  return left.length - right.length;
}

function labelsOf(wire: Buffer): Buffer[] {
  const labels: Buffer[] = [];
  for (let offset = 0; wire[offset] !== 0; offset += 1 + (wire[offset] as number)) {
    const label = Buffer.from(wire.subarray(offset + 1, offset + 1 + (wire[offset] as number)));
    for (let i = 0; i < label.length; i++)
      if ((label[i] as number) >= 0x41 && (label[i] as number) <= 0x5a) label[i] = (label[i] as number) + 32;
    labels.push(label);
  }
  return labels;
}

function unique(records: Rr[]): Rr[] {
  const seen = new Set<string>();
  return records.filter((rr) => {
    const key = rrWire(rr).toString('latin1');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What the records say, in an order that does not depend on how they were read. */
function digestOf(records: Rr[]): string {
  const wires = records.map((rr) => rrWire(rr).toString('latin1')).sort();
  const hash = createHash('sha256');
  for (const wire of wires) hash.update(wire, 'latin1');
  return hash.digest('hex');
}
