import { createHash, createHmac, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { DNSSEC_ED25519, dnskeyRdata, keyTag } from '@swarm/protocol';
import { labelCount, labelsWire, type Rr, rrWire } from './rr.js';
import { QTYPE } from './wire-constants.js';

/** One DNSKEY: the private key (imported once), its RDATA and tag. */
export interface SigningDnskey {
  privateKey: KeyObject;
  rdata: Buffer;
  tag: number;
}

/**
 * A key the operator keeps (database or file) is the key-signing key (flags 257, what the parent's DS
 * names; it signs the DNSKEY RRset); the zone-signing key (flags 256) that signs every other RRset is
 * derived from it, so replicas sharing the stored key share both and a rollover rolls both. A split
 * KSK/ZSK is what stock verifiers (`dnssec-verify` without -z) expect of a signed zone.
 */
export interface ZoneKey extends SigningDnskey {
  zsk: SigningDnskey;
}

const KSK_FLAGS = 257;
const ZSK_FLAGS = 256;
/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function zoneKey(privateKey: KeyObject): ZoneKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new RangeError('a DNSSEC key must be Ed25519 (algorithm 15)');
  const seed = Buffer.from((privateKey.export({ format: 'jwk' }) as { d?: string }).d ?? '', 'base64url');
  const zskSeed = createHmac('sha256', seed).update('swarm dnssec zone-signing key').digest();
  const zskKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, zskSeed]), format: 'der', type: 'pkcs8' });
  return { ...signingDnskey(privateKey, KSK_FLAGS), zsk: signingDnskey(zskKey, ZSK_FLAGS) };
}

function signingDnskey(privateKey: KeyObject, flags: number): SigningDnskey {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { x?: string };
  const rdata = dnskeyRdata(Buffer.from(jwk.x ?? '', 'base64url'), flags);
  return { privateKey, rdata, tag: keyTag(rdata) };
}

/**
 * Signatures are made for a window of an hour and valid from an hour before it (clocks that lag) to
 * a week after it: a resolver may cache an answer for its TTL well inside that, and a registry that
 * stops signing leaves a week to notice. Ed25519 is deterministic, so replicas sharing the key make
 * the same bytes for the same RRset and window.
 */
export const SIGNATURE_WINDOW_SECONDS = 3600;
const INCEPTION_BEFORE_SECONDS = 3600;
const VALIDITY_SECONDS = 7 * 86_400;
/** Signatures kept: an entry is one RRset's bytes and 64-byte signatures; past either bound the oldest go. */
const MAX_KEPT = 20_000;
const MAX_KEPT_BYTES = 32 * 1024 * 1024;

/**
 * Online signing (RFC 4034 §3.1.8.1, RFC 8080): one RRSIG per key over the canonical RRset, kept per
 * RRset and window so a busy name costs one signature an hour, not one per query.
 */
export class ZoneSigner {
  readonly keys: ZoneKey[];
  /** The apex DNSKEY RDATAs: each key's KSK and ZSK. */
  readonly dnskeys: Buffer[];
  readonly #signer: Buffer;
  readonly #kept = new Map<string, { rrsigs: Rr[]; bytes: number }>();
  #keptBytes = 0;

  constructor(authority: string, keys: ZoneKey[]) {
    if (keys.length === 0) throw new RangeError('a signed zone needs at least one key');
    this.keys = keys;
    this.dnskeys = keys.flatMap((key) => [key.rdata, key.zsk.rdata]);
    this.#signer = labelsWire(authority.split('.')) as Buffer;
  }

  /**
   * The RRSIGs of one RRset (all records of one owner and type, in canonical form). With `transfer`
   * (a zone transfer, every RRset once) the signatures come from the online ones kept or from the
   * previous transfer's, and new ones go to the transfer's own store, never among the online ones:
   * a transfer neither pushes out what online answers use nor signs again what did not change.
   */
  rrsigs(rrset: Rr[], now = Date.now(), transfer?: TransferSignatures): Rr[] {
    const seconds = Math.floor(now / 1000);
    const window = seconds - (seconds % SIGNATURE_WINDOW_SECONDS);
    const canonical = canonicalOrder(rrset);
    const wires = canonical.map((rr) => rrWire(rr));
    const key = `${window}\n${Buffer.concat(wires).toString('latin1')}`;
    if (transfer) {
      const digest = createHash('sha256').update(key, 'latin1').digest('base64');
      const rrsigs =
        this.#kept.get(key)?.rrsigs ??
        transfer.previous.get(digest) ??
        this.keys.map((zoneKey) => this.#sign(canonical, window, signerOf(canonical, zoneKey)));
      transfer.next.set(digest, rrsigs);
      return rrsigs;
    }
    const kept = this.#kept.get(key);
    if (kept) return kept.rrsigs;
    const rrsigs = this.keys.map((zoneKey) => this.#sign(canonical, window, signerOf(canonical, zoneKey)));
    this.#keep(key, rrsigs);
    return rrsigs;
  }

  #sign(rrset: Rr[], window: number, zoneKey: SigningDnskey): Rr {
    const first = rrset[0] as Rr;
    const fixed = Buffer.alloc(18);
    fixed.writeUInt16BE(first.type, 0);
    fixed.writeUInt8(DNSSEC_ED25519, 2);
    fixed.writeUInt8(labelCount(first.owner), 3);
    fixed.writeUInt32BE(first.ttl, 4);
    fixed.writeUInt32BE((window + VALIDITY_SECONDS) >>> 0, 8);
    fixed.writeUInt32BE((window - INCEPTION_BEFORE_SECONDS) >>> 0, 12);
    fixed.writeUInt16BE(zoneKey.tag, 16);
    const head = Buffer.concat([fixed, this.#signer]);
    // RFC 4034 §3.1.8.1: the RRSIG RDATA without its signature, then every RR with the original TTL.
    const signed = Buffer.concat([head, ...rrset.map((rr) => rrWire(rr, first.ttl))]);
    const signature = sign(null, signed, zoneKey.privateKey);
    return { owner: first.owner, type: QTYPE.RRSIG, ttl: first.ttl, rdata: Buffer.concat([head, signature]) };
  }

  #keep(key: string, rrsigs: Rr[]): void {
    const bytes = key.length + rrsigs.reduce((sum, rr) => sum + rr.rdata.length, 0);
    while (this.#kept.size >= MAX_KEPT || (this.#kept.size > 0 && this.#keptBytes + bytes > MAX_KEPT_BYTES)) {
      const [oldest, entry] = this.#kept.entries().next().value as [string, { bytes: number }];
      this.#kept.delete(oldest);
      this.#keptBytes -= entry.bytes;
    }
    this.#kept.set(key, { rrsigs, bytes });
    this.#keptBytes += bytes;
  }
}

/** Signatures a zone transfer reuses from the previous one (by a digest of RRset and window) and those it made. */
export interface TransferSignatures {
  previous: ReadonlyMap<string, Rr[]>;
  next: Map<string, Rr[]>;
}

/** The DNSKEY RRset is signed by the key-signing key (what the DS vouches for), everything else by the zone-signing key. */
function signerOf(rrset: Rr[], key: ZoneKey): SigningDnskey {
  return rrset[0]?.type === QTYPE.DNSKEY ? key : key.zsk;
}

/** RFC 4034 §6.3: records of an RRset ordered by their RDATA as bytes, duplicates removed. */
function canonicalOrder(rrset: Rr[]): Rr[] {
  const sorted = [...rrset].sort((a, b) => Buffer.compare(a.rdata, b.rdata));
  return sorted.filter((rr, index) => index === 0 || !rr.rdata.equals((sorted[index - 1] as Rr).rdata));
}
