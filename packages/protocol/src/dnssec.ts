import { createHash } from 'node:crypto';

/** DNSSEC algorithm 15, Ed25519 (RFC 8080). */
export const DNSSEC_ED25519 = 15;
/** Zone key with the Secure Entry Point bit: one key signs everything (a combined signing key). */
export const DNSKEY_FLAGS_CSK = 257;
/** DS digest type 2, SHA-256 (RFC 4509). */
export const DS_SHA256 = 2;

/** A DS record's fields (RFC 4034 §5). */
export interface DsRecord {
  keyTag: number;
  algorithm: number;
  digestType: number;
  /** Upper-case hex, as zone files write it. */
  digest: string;
}

/** DNSKEY RDATA (RFC 4034 §2.1): flags, protocol 3, algorithm, the 32-byte Ed25519 key (RFC 8080 §3). */
export function dnskeyRdata(publicKey: Uint8Array, flags = DNSKEY_FLAGS_CSK): Buffer {
  const rdata = Buffer.alloc(4 + publicKey.byteLength);
  rdata.writeUInt16BE(flags, 0);
  rdata.writeUInt8(3, 2);
  rdata.writeUInt8(DNSSEC_ED25519, 3);
  Buffer.from(publicKey).copy(rdata, 4);
  return rdata;
}

/** The key tag of a DNSKEY RDATA (RFC 4034 Appendix B). */
export function keyTag(rdata: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < rdata.length; i++) sum += i & 1 ? (rdata[i] as number) : (rdata[i] as number) << 8;
  sum += (sum >> 16) & 0xffff;
  return sum & 0xffff;
}

/** A name as DNS writes it, lowercased (the canonical form of RFC 4034 §6.2); `a.b` and `a.b.` alike. */
export function canonicalNameWire(name: string): Buffer {
  const labels = name
    .toLowerCase()
    .replace(/\.$/, '')
    .split('.')
    .filter((label) => label !== '');
  return Buffer.concat([...labels.flatMap((label) => [Buffer.from([label.length]), Buffer.from(label, 'ascii')]), Buffer.from([0])]);
}

/** The DS a parent zone publishes for `zone`'s DNSKEY RDATA (RFC 4034 §5.1.4, SHA-256). */
export function dsRecord(zone: string, rdata: Uint8Array): DsRecord {
  const digest = createHash('sha256').update(canonicalNameWire(zone)).update(rdata).digest('hex').toUpperCase();
  return { keyTag: keyTag(rdata), algorithm: rdata[3] as number, digestType: DS_SHA256, digest };
}
