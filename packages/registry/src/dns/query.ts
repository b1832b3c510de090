import { QTYPE, RCODE } from './wire-constants.js';

export interface QueryHeader {
  id: number;
  /** The query's 16-bit flags word, QR clear. */
  flags: number;
}

export interface Question {
  /** Labels left to right, ASCII letters lowercased (names compare case-insensitively, RFC 4343). */
  labels: string[];
  type: number;
  class: number;
  /** The question exactly as sent, echoed back so 0x20-randomised case survives. */
  wire: Buffer;
}

export interface Edns {
  payloadSize: number;
  version: number;
  dnssecOk: boolean;
}

export type ParsedQuery =
  | { kind: 'drop' }
  | { kind: 'error'; header: QueryHeader; rcode: number; question: Question | null }
  | { kind: 'query'; header: QueryHeader; question: Question; edns: Edns | null };

const HEADER_BYTES = 12;
const QR = 0x8000;
const MAX_NAME_WIRE_BYTES = 255;
const ADDITIONAL_SECTION = 2;
const DNSSEC_OK = 0x8000;

/**
 * Reads a DNS message as a query; anything that is not exactly one QUERY question is an error or
 * dropped. Read by hand rather than with dns-packet: its decoder joins labels with dots, losing the
 * exact bytes the question must be echoed with.
 */
export function parseQuery(message: Buffer): ParsedQuery {
  // Too short to carry an id, or a response: answering could start a loop between servers.
  if (message.length < HEADER_BYTES) return { kind: 'drop' };
  const flags = message.readUInt16BE(2);
  if (flags & QR) return { kind: 'drop' };
  const header = { id: message.readUInt16BE(0), flags };
  const questionCount = message.readUInt16BE(4);
  const question = questionCount === 1 ? readQuestion(message) : null;
  if (opcodeOf(flags) !== 0) return { kind: 'error', header, rcode: RCODE.NOTIMP, question };
  if (!question) return { kind: 'error', header, rcode: RCODE.FORMERR, question: null };
  const edns = readEdns(message, HEADER_BYTES + question.wire.length);
  if (edns === 'malformed') return { kind: 'error', header, rcode: RCODE.FORMERR, question };
  return { kind: 'query', header, question, edns };
}

export function opcodeOf(flags: number): number {
  return (flags >> 11) & 0xf;
}

function readQuestion(message: Buffer): Question | null {
  const labels: string[] = [];
  let offset = HEADER_BYTES;
  let nameBytes = 1;
  for (;;) {
    const length = message[offset++];
    if (length === undefined) return null;
    if (length === 0) break;
    // A compression pointer in the only question could point nowhere but the header.
    if (length & 0xc0) return null;
    nameBytes += length + 1;
    if (nameBytes > MAX_NAME_WIRE_BYTES || offset + length > message.length) return null;
    labels.push(lowercaseAscii(message.toString('latin1', offset, offset + length)));
    offset += length;
  }
  if (offset + 4 > message.length) return null;
  return {
    labels,
    type: message.readUInt16BE(offset),
    class: message.readUInt16BE(offset + 2),
    wire: Buffer.from(message.subarray(HEADER_BYTES, offset + 4)),
  };
}

function lowercaseAscii(label: string): string {
  return label.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * Finds the OPT record (RFC 6891) by skipping every record after the question. Owner names are only
 * skipped, never decoded: following their compression pointers would let one crafted message cost
 * quadratic time.
 */
function readEdns(message: Buffer, offset: number): Edns | null | 'malformed' {
  const sectionCounts = [message.readUInt16BE(6), message.readUInt16BE(8), message.readUInt16BE(10)];
  let edns: Edns | null = null;
  for (const [section, count] of sectionCounts.entries()) {
    for (let record = 0; record < count; record++) {
      const owner = offset;
      offset = skipName(message, offset);
      if (offset < 0 || offset + 10 > message.length) return 'malformed';
      const rdataEnd = offset + 10 + message.readUInt16BE(offset + 8);
      if (rdataEnd > message.length) return 'malformed';
      if (message.readUInt16BE(offset) === QTYPE.OPT) {
        // One OPT, owned by the root, in the additional section (RFC 6891 §6.1.1).
        if (section !== ADDITIONAL_SECTION || edns || message[owner] !== 0) return 'malformed';
        edns = {
          payloadSize: message.readUInt16BE(offset + 2),
          version: message.readUInt8(offset + 5),
          dnssecOk: (message.readUInt16BE(offset + 6) & DNSSEC_OK) !== 0,
        };
      }
      offset = rdataEnd;
    }
  }
  return edns;
}

/** The offset just past the name at `offset` (a compression pointer ends it), or -1 when it runs off the message. */
export function skipName(message: Buffer, offset: number): number {
  for (;;) {
    const length = message[offset];
    if (length === undefined) return -1;
    if ((length & 0xc0) === 0xc0) return offset + 2 <= message.length ? offset + 2 : -1;
    if (length & 0xc0) return -1;
    offset += 1 + length;
    if (length === 0) return offset;
  }
}
