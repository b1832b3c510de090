import type { Responder, Transport } from './responder.js';
import { QTYPE, RCODE } from './wire-constants.js';

/** One query answered: its type and the reply's rcode, as bounded names (`other` for the rest). */
export type DnsObserver = (type: string, rcode: string, transport: Transport) => void;

const TYPE_NAMES = new Map<number, string>(Object.entries(QTYPE).map(([name, value]) => [value, name]));
const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([name, value]) => [value, name]));

/** The responder, telling `observe` what each query asked and what it was answered. */
export function observedResponder(respond: Responder, observe: DnsObserver | undefined): Responder {
  if (!observe) return respond;
  const observed: Responder = async (message, transport) => {
    const reply = await respond(message, transport);
    observe(questionType(message), rcodeOf(reply), transport);
    return reply;
  };
  const now = respond.now;
  if (now) {
    observed.now = (message) => {
      const reply = now(message);
      if (reply) observe(questionType(message), rcodeOf(reply), 'udp');
      return reply;
    };
  }
  return observed;
}

/** The reply's rcode name; no reply: the query was dropped (not a DNS query, or the rate limiter's slip). */
function rcodeOf(reply: Buffer | null): string {
  return reply && reply.length >= 4 ? (RCODE_NAMES.get(reply[3]! & 0x0f) ?? 'other') : 'dropped';
}

/** The QTYPE of the first question, read without decoding the rest; `malformed` when there is none. */
export function questionType(message: Buffer): string {
  if (message.length < 12 || message.readUInt16BE(4) === 0) return 'malformed';
  let at = 12;
  // A name in a question is labels up to the root; a pointer here is not valid, and is not followed.
  for (let labels = 0; labels < 128; labels++) {
    const length = message[at];
    if (length === undefined || length > 63) return 'malformed';
    at += 1 + length;
    if (length === 0) break;
  }
  if (at + 2 > message.length) return 'malformed';
  return TYPE_NAMES.get(message.readUInt16BE(at)) ?? 'other';
}
