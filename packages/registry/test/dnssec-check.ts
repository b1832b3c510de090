import { createPublicKey, verify } from 'node:crypto';

/** One record as read off the wire, names as raw bytes (replies are written uncompressed). */
export interface RawRecord {
  owner: Buffer;
  type: number;
  ttl: number;
  rdata: Buffer;
}

export interface RawReply {
  flags: number;
  rcode: number;
  answers: RawRecord[];
  authorities: RawRecord[];
  additionals: RawRecord[];
}

export const TYPE = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, RRSIG: 46, NSEC: 47, DNSKEY: 48 };

function nameEnd(message: Buffer, offset: number): number {
  for (;;) {
    const length = message[offset] as number;
    if (length >= 0xc0) throw new Error('a compressed name: not expected from this server');
    offset += 1 + length;
    if (length === 0) return offset;
  }
}

/** Reads a reply written by the server without dns-packet, so the checks do not share its reading. */
export function readRaw(message: Buffer): RawReply {
  let offset = 12;
  for (let q = 0; q < message.readUInt16BE(4); q++) offset = nameEnd(message, offset) + 4;
  const sections: RawRecord[][] = [];
  for (const count of [message.readUInt16BE(6), message.readUInt16BE(8), message.readUInt16BE(10)]) {
    const records: RawRecord[] = [];
    for (let i = 0; i < count; i++) {
      const end = nameEnd(message, offset);
      const rdLength = message.readUInt16BE(end + 8);
      records.push({
        owner: message.subarray(offset, end),
        type: message.readUInt16BE(end),
        ttl: message.readUInt32BE(end + 4),
        rdata: message.subarray(end + 10, end + 10 + rdLength),
      });
      offset = end + 10 + rdLength;
    }
    sections.push(records);
  }
  return {
    flags: message.readUInt16BE(2),
    rcode: message.readUInt16BE(2) & 0xf,
    answers: sections[0] ?? [],
    authorities: sections[1] ?? [],
    additionals: (sections[2] ?? []).filter((record) => record.type !== TYPE.OPT),
  };
}

export function wireName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  return Buffer.concat([...labels.flatMap((label) => [Buffer.from([label.length]), Buffer.from(label, 'latin1')]), Buffer.from([0])]);
}

export function nameOf(wire: Buffer): string[] {
  const labels: string[] = [];
  for (let offset = 0; wire[offset] !== 0; offset += 1 + (wire[offset] as number)) {
    labels.push(wire.toString('latin1', offset + 1, offset + 1 + (wire[offset] as number)));
  }
  return labels;
}

/** RFC 4034 §6.1 canonical order of two names given as labels (lowercase already). */
export function compareNames(a: string[], b: string[]): number {
  for (let i = 1; i <= Math.max(a.length, b.length); i++) {
    const x = a.at(-i);
    const y = b.at(-i);
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const order = Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1'));
    if (order !== 0) return order;
  }
  return 0;
}

export interface Rrsig {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: string[];
  signature: Buffer;
  owner: Buffer;
  rdata: Buffer;
}

export function readRrsig(record: RawRecord): Rrsig {
  const { rdata } = record;
  const signerEnd = nameEnd(rdata, 18);
  return {
    typeCovered: rdata.readUInt16BE(0),
    algorithm: rdata[2] as number,
    labels: rdata[3] as number,
    originalTtl: rdata.readUInt32BE(4),
    expiration: rdata.readUInt32BE(8),
    inception: rdata.readUInt32BE(12),
    keyTag: rdata.readUInt16BE(16),
    signer: nameOf(rdata.subarray(18, signerEnd)),
    signature: rdata.subarray(signerEnd),
    owner: record.owner,
    rdata,
  };
}

/** A DNSKEY RDATA's Ed25519 public key as a KeyObject. */
export function dnskeyPublicKey(rdata: Buffer) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: rdata.subarray(4).toString('base64url') }, format: 'jwk' });
}

/**
 * Checks every RRset of the records against its RRSIGs (RFC 4034 §3.1.8.1), written out here from the
 * RFC rather than taken from the server. Returns how many RRsets verified under each key tag.
 */
export function verifySection(records: RawRecord[], keys: Map<number, ReturnType<typeof dnskeyPublicKey>>): Map<number, number> {
  const verified = new Map<number, number>();
  const sets = new Map<string, RawRecord[]>();
  for (const record of records.filter((r) => r.type !== TYPE.RRSIG)) {
    const key = `${record.type}/${record.owner.toString('hex')}`;
    sets.set(key, [...(sets.get(key) ?? []), record]);
  }
  for (const sig of records.filter((r) => r.type === TYPE.RRSIG).map(readRrsig)) {
    const set = sets.get(`${sig.typeCovered}/${sig.owner.toString('hex')}`);
    if (!set) throw new Error(`an RRSIG for type ${sig.typeCovered} with no RRset`);
    const publicKey = keys.get(sig.keyTag);
    if (!publicKey) throw new Error(`an RRSIG by unknown key ${sig.keyTag}`);
    const sorted = [...set].sort((a, b) => Buffer.compare(a.rdata, b.rdata));
    const rrs = sorted.map((rr) => {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(rr.type, 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt32BE(sig.originalTtl, 4);
      fixed.writeUInt16BE(rr.rdata.length, 8);
      return Buffer.concat([rr.owner, fixed, rr.rdata]);
    });
    const data = Buffer.concat([sig.rdata.subarray(0, sig.rdata.length - sig.signature.length), ...rrs]);
    if (!verify(null, data, publicKey, sig.signature)) throw new Error(`the RRSIG over type ${sig.typeCovered} does not verify`);
    verified.set(sig.keyTag, (verified.get(sig.keyTag) ?? 0) + 1);
  }
  for (const [key, set] of sets) {
    if (!records.some((r) => r.type === TYPE.RRSIG && `${readRrsig(r).typeCovered}/${r.owner.toString('hex')}` === key))
      throw new Error(`RRset ${key} (${set.length} records) has no RRSIG`);
  }
  return verified;
}

/** The NSEC's next name and the types of its bitmap. */
export function readNsec(record: RawRecord): { next: string[]; types: number[] } {
  const end = nameEnd(record.rdata, 0);
  const types: number[] = [];
  for (let offset = end; offset < record.rdata.length; ) {
    const window = record.rdata[offset] as number;
    const length = record.rdata[offset + 1] as number;
    for (let i = 0; i < length; i++) {
      for (let bit = 0; bit < 8; bit++)
        if ((record.rdata[offset + 2 + i] as number) & (0x80 >> bit)) types.push(window * 256 + i * 8 + bit);
    }
    offset += 2 + length;
  }
  return { next: nameOf(record.rdata.subarray(0, end)), types };
}
