import type { Answer } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { nodataProof, nxdomainProof } from './denial.js';
import { type Edns, opcodeOf, parseQuery, type QueryHeader, type Question } from './query.js';
import { encodeAnswer, type Rr, rrsets, rrWire } from './rr.js';
import { BADVERS_EXTENDED, CLASSIC_UDP_PAYLOAD, FLAG, MAX_TCP_MESSAGE, MAX_UDP_PAYLOAD, QTYPE, RCODE } from './wire-constants.js';
import { resolve, soaRr, type Zone } from './zone.js';
import type { DnsLogger } from './zone-source.js';

export type Transport = 'udp' | 'tcp';

/**
 * Turns one DNS message into the reply to send, or null to send nothing. Never throws. `now`, where
 * present, answers a UDP query from a kept reply without a promise (undefined: nothing kept, ask
 * the responder): a repeated question then costs a map lookup and a copy, as in a static server.
 */
export type Responder = ((message: Buffer, transport: Transport) => Promise<Buffer | null>) & {
  now?: (message: Buffer) => Buffer | undefined;
};

export interface Reply {
  header: QueryHeader;
  question: Question | null;
  rcode: number;
  authoritative?: boolean;
  answers?: Rr[];
  authorities?: Rr[];
  additionals?: Rr[];
  edns?: Edns | null;
  extendedRcode?: number;
}

export function createResponder(zone: Zone, logger: DnsLogger): Responder {
  const answer = keptReplies(zone, answerer(zone, logger));
  const respond: Responder = async (message, transport) => {
    try {
      return await answer(message, transport);
    } catch (error) {
      logger.warn({ err: error }, 'service DNS dropped a message it could not answer');
      return null;
    }
  };
  const keptReply = zone.source.keptReply?.bind(zone.source);
  if (keptReply) {
    respond.now = (message) => {
      if (!keepable(message)) return undefined;
      const reply = keptReply(replyKey(message));
      return reply ? withId(reply, message) : undefined;
    };
  }
  return respond;
}

/** Replies may be kept at most this big a query (a classic UDP datagram): the key is the query. */
const MAX_KEPT_QUERY = 512;
const QR = 0x8000;

/**
 * Where the zone source keeps replies, a query answered before in the same circumstances gets
 * the same bytes with its own ID. The key is everything of a UDP query but its ID (flags, the
 * question as written, EDNS); a reply that reports a failure is not kept.
 */
function keptReplies(zone: Zone, answer: Responder & { failed?: WeakSet<Buffer> }): Responder {
  const keepReplies = zone.source.keepReplies?.bind(zone.source);
  if (!keepReplies) return answer;
  return async (message, transport) => {
    // UDP only: the hot path, and replies of at most 1232 bytes (a TCP reply may be 64 KiB).
    if (transport !== 'udp' || !keepable(message)) return answer(message, transport);
    const reply = await keepReplies(
      replyKey(message),
      () => answer(message, transport),
      (built) => built !== null && !(answer.failed?.has(built) ?? false),
    );
    return reply ? withId(reply, message) : null;
  };
}

function keepable(message: Buffer): boolean {
  return message.length >= 12 && message.length <= MAX_KEPT_QUERY;
}

/** Everything of the query but its ID. */
function replyKey(message: Buffer): string {
  return message.toString('latin1', 2);
}

/** A copy of a kept reply with the query's ID. */
function withId(reply: Buffer, message: Buffer): Buffer {
  // Every byte is written: the ID from the query, the rest from the kept reply.
  const own = Buffer.allocUnsafe(reply.length);
  reply.copy(own, 2, 2);
  own[0] = message[0] as number;
  own[1] = message[1] as number;
  return own;
}

function answerer(zone: Zone, logger: DnsLogger): Responder & { failed: WeakSet<Buffer> } {
  // SERVFAIL replies written because the source failed: never kept.
  const failed = new WeakSet<Buffer>();
  const respond: Responder = async (message, transport) => {
    const query = parseQuery(message);
    if (query.kind === 'drop') return null;
    if (query.kind === 'error') return encodeReply(query, MAX_TCP_MESSAGE);
    const { header, question, edns } = query;
    const sizeLimit = transport === 'tcp' ? MAX_TCP_MESSAGE : udpPayloadLimit(edns);
    if (edns && edns.version > 0) {
      return encodeReply({ header, question, rcode: RCODE.NOERROR, edns, extendedRcode: BADVERS_EXTENDED }, sizeLimit);
    }
    // RFC 6891 §6.1.1: OPT is a pseudo-record; nobody can ask for it.
    if (question.type === QTYPE.OPT) return encodeReply({ header, question, rcode: RCODE.FORMERR, edns }, sizeLimit);
    try {
      const resolution = await resolve(question, zone);
      if (resolution.rcode === RCODE.REFUSED) return encodeReply({ header, question, rcode: resolution.rcode, edns }, sizeLimit);
      // RFC 3225: DNSSEC records go only to a client that set DO.
      const signer = edns?.dnssecOk ? zone.signer : null;
      const signed = (records: Rr[]) => (signer ? rrsets(records).flatMap((set) => [...set, ...signer.rrsigs(set)]) : records);
      if (resolution.rcode === RCODE.NXDOMAIN) {
        const proof = signer ? nxdomainProof(question.labels, resolution.encloser, resolution.encloserTypes, zone.ttl) : [];
        const authorities = signed([soaRr(zone), ...proof]);
        return encodeReply({ header, question, rcode: resolution.rcode, authoritative: true, authorities, edns }, sizeLimit);
      }
      const answers = signed(resolution.answers);
      const proof = signer && answers.length === 0 ? nodataProof(question.labels, resolution.types, zone.ttl) : [];
      return encodeReply(
        {
          header,
          question,
          rcode: resolution.rcode,
          authoritative: true,
          answers,
          authorities: answers.length === 0 ? signed([soaRr(zone), ...proof]) : [],
          additionals: signed(resolution.additionals),
          edns,
        },
        sizeLimit,
      );
    } catch (error) {
      logger.warn({ err: error, name: question.labels.join('.') }, 'service DNS could not answer a query');
      const reply = encodeReply({ header, question, rcode: RCODE.SERVFAIL, edns }, sizeLimit);
      failed.add(reply);
      return reply;
    }
  };
  return Object.assign(respond, { failed });
}

/**
 * What a client over its rate limit gets when its answer slips: the question, no records, TC set,
 * so a real client retries over TCP (where no source can be forged). Null for anything that is
 * not a plain query: a flooder gets no error replies either.
 */
export function truncatedReply(message: Buffer): Buffer | null {
  const query = parseQuery(message);
  if (query.kind !== 'query') return null;
  return encodeMessage({ header: query.header, question: query.question, rcode: RCODE.NOERROR, edns: query.edns }, true);
}

/** The client's advertised EDNS0 payload size, never below 512 (RFC 6891 §6.2.5) nor above 1232. */
function udpPayloadLimit(edns: Edns | null): number {
  if (!edns) return CLASSIC_UDP_PAYLOAD;
  return Math.min(Math.max(edns.payloadSize, CLASSIC_UDP_PAYLOAD), MAX_UDP_PAYLOAD);
}

/**
 * Encodes a reply within `sizeLimit` bytes. Additional records are dropped first (RFC 2181 §9): the TXT
 * records (with their signatures) before the targets' addresses, which spare a resolver a round trip;
 * when the answer itself does not fit, the reply carries TC and no records at all, so a client never
 * mistakes a partial record set for the whole one and asks again over TCP.
 */
function encodeReply(reply: Reply, sizeLimit: number): Buffer {
  const whole = encodeMessage(reply, false);
  if (whole.length <= sizeLimit) return whole;
  const addresses = (reply.additionals ?? []).filter((rr) => coveredType(rr) !== QTYPE.TXT);
  if (addresses.length > 0 && addresses.length < (reply.additionals ?? []).length) {
    const withAddresses = encodeMessage({ ...reply, additionals: addresses }, false);
    if (withAddresses.length <= sizeLimit) return withAddresses;
  }
  const withoutAdditionals = encodeMessage({ ...reply, additionals: [] }, false);
  if (withoutAdditionals.length <= sizeLimit) return withoutAdditionals;
  return encodeMessage({ ...reply, answers: [], authorities: [], additionals: [] }, true);
}

/** A record's type, or for an RRSIG the type it signs. */
function coveredType(rr: Rr): number {
  return rr.type === QTYPE.RRSIG ? rr.rdata.readUInt16BE(0) : rr.type;
}

export function encodeMessage(reply: Reply, truncated: boolean): Buffer {
  const { header } = reply;
  const flags =
    QR |
    (opcodeOf(header.flags) << 11) |
    (header.flags & (FLAG.RD | FLAG.CD)) |
    (reply.authoritative ? FLAG.AA : 0) |
    (truncated ? FLAG.TC : 0) |
    (reply.rcode & 0xf);
  const sections = [reply.answers ?? [], reply.authorities ?? [], reply.additionals ?? []];
  const opt = reply.edns ? [encodeAnswer(optRecord(reply.edns, reply.extendedRcode ?? 0))] : [];
  const head = Buffer.alloc(12);
  head.writeUInt16BE(header.id, 0);
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(reply.question ? 1 : 0, 4);
  head.writeUInt16BE(sections[0]?.length ?? 0, 6);
  head.writeUInt16BE(sections[1]?.length ?? 0, 8);
  head.writeUInt16BE((sections[2]?.length ?? 0) + opt.length, 10);
  // Names are written uncompressed, so the question goes in byte for byte as it was asked.
  return Buffer.concat([head, reply.question?.wire ?? Buffer.alloc(0), ...sections.flat().map((rr) => rrWire(rr)), ...opt]);
}

function optRecord(edns: Edns, extendedRcode: number): Answer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: MAX_UDP_PAYLOAD,
    extendedRcode,
    ednsVersion: 0,
    // RFC 3225: DO is copied from the query.
    flags: edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
    flag_do: edns.dnssecOk,
    options: [],
  };
}
