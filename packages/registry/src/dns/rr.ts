import type { Answer } from 'dns-packet';
import dnsPacket from 'dns-packet';

/** A resource record as it goes on the wire, class IN; the owner is already in canonical (lowercase) form. */
export interface Rr {
  owner: Buffer;
  type: number;
  ttl: number;
  rdata: Buffer;
}

const CLASS_IN = 1;
// dns-packet's record writer (untyped in @types/dns-packet): one record, names uncompressed.
const answerCodec = (dnsPacket as unknown as { answer: { encode(record: Answer): Buffer } }).answer;

export function encodeAnswer(record: Answer): Buffer {
  return answerCodec.encode(record);
}
const MAX_NAME_WIRE_BYTES = 255;

/** A record built with dns-packet, read back into its parts (names are written uncompressed). */
export function rrOf(answer: Answer): Rr {
  const wire = encodeAnswer(answer);
  const ownerEnd = nameEnd(wire, 0);
  return {
    owner: wire.subarray(0, ownerEnd),
    type: wire.readUInt16BE(ownerEnd),
    ttl: wire.readUInt32BE(ownerEnd + 4),
    rdata: wire.subarray(ownerEnd + 10),
  };
}

export function rrWire(rr: Rr, ttl = rr.ttl): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([rr.owner, fixed, rr.rdata]);
}

/**
 * Labels (bytes as latin1 characters, the way the question is read) as a wire name, or null past
 * 255 bytes. Unlike dns-packet's writer this keeps any byte, dots and `\000` included.
 */
export function labelsWire(labels: string[]): Buffer | null {
  const parts: Buffer[] = [];
  let length = 1;
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > 63) return null;
    length += 1 + bytes.length;
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  if (length > MAX_NAME_WIRE_BYTES) return null;
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function labelCount(owner: Buffer): number {
  let count = 0;
  for (let offset = 0; owner[offset] !== 0; offset += 1 + (owner[offset] as number)) count++;
  return count;
}

/** Records grouped into RRsets (owner and type), in the order they first appear. */
export function rrsets(records: Rr[]): Rr[][] {
  const sets = new Map<string, Rr[]>();
  for (const rr of records) {
    const key = `${rr.type}:${rr.owner.toString('latin1')}`;
    const set = sets.get(key);
    if (set) set.push(rr);
    else sets.set(key, [rr]);
  }
  return [...sets.values()];
}

function nameEnd(wire: Buffer, offset: number): number {
  for (;;) {
    const length = wire[offset] as number;
    offset += 1 + length;
    if (length === 0) return offset;
  }
}
