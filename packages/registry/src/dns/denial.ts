import { labelsWire, type Rr } from './rr.js';
import { QTYPE } from './wire-constants.js';

/**
 * Authenticated denial made up per query, RFC 4470 "white lies": each NSEC covers only the one name
 * it denies, from just before it to just after it, so nothing can be walked and nothing has to be
 * known of the zone but the name asked and its closest existing ancestor. NXDOMAIN stays NXDOMAIN
 * (SPEC §7), unlike the NODATA "black lies" some operators answer with.
 */

/** NODATA: the name exists; its NSEC lists the types it has, with next name its first possible child. */
export function nodataProof(labels: string[], types: number[], ttl: number): Rr[] {
  const owner = labelsWire(labels);
  if (!owner) return [];
  return [nsec(owner, successor(labels), [...types, QTYPE.RRSIG, QTYPE.NSEC], ttl)];
}

/**
 * NXDOMAIN (RFC 4035 §3.1.3.2): one NSEC around the whole branch the name is in, from just before to
 * just after `<label>.<closest encloser>`, and one around the wildcard `*.<closest encloser>`. Both
 * share exactly the closest encloser with the name, which is how a validator finds it (RFC 4035
 * §5.4); an NSEC ending at `\000.<name>` would make the name itself look like the closest encloser.
 */
export function nxdomainProof(labels: string[], encloser: string[], encloserTypes: number[], ttl: number): Rr[] {
  const proofs: Rr[] = [];
  const branch = labels.slice(labels.length - encloser.length - 1);
  for (const name of [branch, ['*', ...encloser]]) {
    const owner = predecessor(name);
    if (owner) {
      if (!proofs.some((proof) => proof.owner.equals(owner))) proofs.push(nsec(owner, nextSibling(name), [QTYPE.RRSIG, QTYPE.NSEC], ttl));
      continue;
    }
    // `\000.<encloser>` comes right after the encloser: nothing but the encloser itself precedes it, so
    // the NSEC is the encloser's own, telling the types it has (a white lie may not deny real data).
    const at = labelsWire(encloser);
    if (at && !proofs.some((proof) => proof.owner.equals(at)))
      proofs.push(nsec(at, nextSibling(name), [...encloserTypes, QTYPE.RRSIG, QTYPE.NSEC], ttl));
  }
  return proofs;
}

/**
 * A name just before `labels` in canonical order (RFC 4034 §6.1) with no name of the zone in between:
 * the last byte of the first label one lower, then `\255`. Zone names are made of `[a-z0-9_-]`, so
 * none can fall between. A first label ending in `\000` steps up to a child of the shortened label.
 */
export function predecessor(labels: string[]): Buffer | null {
  const [first, ...parent] = labels;
  if (first === undefined) return null;
  const last = first.charCodeAt(first.length - 1);
  if (last === 0) {
    // `a\000.p` comes right after the whole subtree of `a.p`; `\000.p` right after `p` (denied by no lie).
    const shorter = first.slice(0, -1);
    return shorter === '' ? null : (labelsWire(['\xff', shorter, ...parent]) ?? labelsWire([shorter, ...parent]));
  }
  const lower = first.slice(0, -1) + String.fromCharCode(last - 1);
  // A 63-byte label cannot take `\255`: a child of the lowered label comes after it just the same.
  return labelsWire([`${lower}\xff`, ...parent]) ?? labelsWire(['\xff', lower, ...parent]) ?? labelsWire([lower, ...parent]);
}

/** A name just after `labels` with nothing in between: its first child `\000.<name>` (RFC 4470 §3). */
export function successor(labels: string[]): Buffer {
  return labelsWire(['\0', ...labels]) ?? nextSibling(labels);
}

/** The first name after `labels` and everything below it: its first label with `\000` added. */
export function nextSibling(labels: string[]): Buffer {
  const [first = '', ...parent] = labels;
  const longer = labelsWire([`${first}\0`, ...parent]);
  if (longer) return longer;
  // At a length limit no longer label can exist either: the last byte one up.
  const last = Math.min(first.charCodeAt(first.length - 1) + 1, 255);
  return labelsWire([first.slice(0, -1) + String.fromCharCode(last), ...parent]) ?? (labelsWire(labels) as Buffer);
}

function nsec(owner: Buffer, next: Buffer, types: number[], ttl: number): Rr {
  return { owner, type: QTYPE.NSEC, ttl, rdata: Buffer.concat([next, typeBitmap(types)]) };
}

/** The type bitmap of RFC 4034 §4.1.2; every type here is below 256, so window 0 only. */
export function typeBitmap(types: number[]): Buffer {
  const unique = [...new Set(types)].filter((type) => type > 0 && type < 256);
  const bytes = Buffer.alloc((Math.max(...unique) >> 3) + 1);
  for (const type of unique) bytes[type >> 3] = (bytes[type >> 3] as number) | (0x80 >> (type & 7));
  return Buffer.concat([Buffer.from([0, bytes.length]), bytes]);
}
