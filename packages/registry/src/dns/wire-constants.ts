export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended RCODE 16 (RFC 6891): its upper eight bits travel in the OPT record. */
export const BADVERS_EXTENDED = 1;

export const QTYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;
export const QCLASS = { IN: 1, ANY: 255 } as const;

export const FLAG = { AA: 0x0400, TC: 0x0200, RD: 0x0100, AD: 0x0020, CD: 0x0010 } as const;

export const CLASSIC_UDP_PAYLOAD = 512;
/** The payload size DNS Flag Day 2020 settled on: fits common MTUs without fragments. */
export const MAX_UDP_PAYLOAD = 1232;
export const MAX_TCP_MESSAGE = 65535;
