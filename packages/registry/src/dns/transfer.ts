import type { DnsObserver } from './observed.js';
import { questionType } from './observed.js';
import { type Edns, parseQuery, type QueryHeader, type Question, skipName } from './query.js';
import { encodeMessage, type Responder } from './responder.js';
import { type Rr, rrWire } from './rr.js';
import type { TransferAcl } from './transfer-acl.js';
import { MAX_TCP_MESSAGE, QCLASS, QTYPE, RCODE } from './wire-constants.js';
import { soaRr, type Zone } from './zone.js';
import { zoneContent, zoneSnapshot } from './zone-snapshot.js';
import type { DnsLogger } from './zone-source.js';

/** Answers one message received over TCP from `peerAddress`: the replies to send, in order (none: drop). */
export type TcpResponder = (message: Buffer, peerAddress: string) => Promise<Buffer[]>;

/** Transfers built at once; more wait their turn as REFUSED (a secondary retries). */
const MAX_TRANSFERS_AT_ONCE = 2;
/** Room kept in each message for the header, the question and the OPT record. */
const MESSAGE_OVERHEAD = 12 + 260 + 16;

/**
 * Zone transfers over TCP (RFC 5936 AXFR; RFC 1995 IXFR answered the AXFR way, the whole zone,
 * since no history of changes is kept) to the addresses the ACL allows; every other message, and a
 * transfer asked by anyone else, goes to the ordinary responder, which refuses transfers.
 */
export function tcpResponder(zone: Zone, respond: Responder, acl: TransferAcl, logger: DnsLogger, observe?: DnsObserver): TcpResponder {
  let transfers = 0;
  const ordinary = async (message: Buffer): Promise<Buffer[]> => {
    const reply = await respond(message, 'tcp');
    return reply ? [reply] : [];
  };
  return async (message, peerAddress) => {
    const type = questionType(message);
    if (type !== 'AXFR' && type !== 'IXFR') return ordinary(message);
    const query = parseQuery(message);
    if (query.kind !== 'query' || !isApex(query.question, zone) || !zone.source.everyZone) return ordinary(message);
    if (!acl.allows(peerAddress) || transfers >= MAX_TRANSFERS_AT_ONCE) return ordinary(message);
    transfers++;
    try {
      const replies = await transferReplies(zone, message, query.header, query.question, query.edns);
      observe?.(type, 'NOERROR', 'tcp');
      return replies;
    } catch (error) {
      logger.warn({ err: error }, 'service DNS could not transfer the zone');
      observe?.(type, 'SERVFAIL', 'tcp');
      return [encodeMessage({ header: query.header, question: query.question, rcode: RCODE.SERVFAIL, edns: query.edns }, false)];
    } finally {
      transfers--;
    }
  };
}

function isApex(question: Question, zone: Zone): boolean {
  return (question.class === QCLASS.IN || question.class === QCLASS.ANY) && question.labels.join('.') === zone.authority;
}

async function transferReplies(zone: Zone, message: Buffer, header: QueryHeader, question: Question, edns: Edns | null): Promise<Buffer[]> {
  const reply = (answers: Rr[], first: boolean) =>
    encodeMessage(
      { header, question: first ? question : null, rcode: RCODE.NOERROR, authoritative: true, answers, edns: first ? edns : null },
      false,
    );
  // Read first: the serial compared below must tell of changes nobody announced.
  const content = await zoneContent(zone);
  if (question.type === QTYPE.IXFR) {
    // RFC 1995 §2: a client as new as the server (or newer) gets the SOA alone.
    const theirs = clientSerial(message);
    if (theirs !== null && !serialBefore(theirs, content.serial)) return [reply([soaRr(zone)], true)];
  }
  const snapshot = await zoneSnapshot(zone, content);
  // RFC 5936 §2.2: the SOA, every other record, the SOA again; as many messages as it takes.
  const messages: Buffer[] = [];
  let batch: Rr[] = [snapshot.soa];
  let size = rrWire(snapshot.soa).length;
  for (const rr of [...snapshot.records, snapshot.soa]) {
    const bytes = rrWire(rr).length;
    if (size + bytes > MAX_TCP_MESSAGE - MESSAGE_OVERHEAD) {
      messages.push(reply(batch, messages.length === 0));
      batch = [];
      size = 0;
    }
    batch.push(rr);
    size += bytes;
  }
  messages.push(reply(batch, messages.length === 0));
  return messages;
}

/** RFC 1982: whether serial `a` comes before `b`. */
function serialBefore(a: number, b: number): boolean {
  const difference = (b - a) >>> 0;
  return difference !== 0 && difference < 0x80000000;
}

/** The serial of the SOA an IXFR query carries in its authority section (RFC 1995 §3), or null. */
export function clientSerial(message: Buffer): number | null {
  if (message.length < 12 || message.readUInt16BE(8) < 1) return null;
  let offset = skipName(message, 12);
  if (offset < 0) return null;
  offset = skipName(message, offset + 4);
  if (offset < 0 || offset + 10 > message.length || message.readUInt16BE(offset) !== QTYPE.SOA) return null;
  const rdataStart = offset + 10;
  const rdataEnd = rdataStart + message.readUInt16BE(offset + 8);
  let at = skipName(message, rdataStart);
  if (at >= 0) at = skipName(message, at);
  if (at < 0 || at + 4 > rdataEnd || rdataEnd > message.length) return null;
  return message.readUInt32BE(at);
}
