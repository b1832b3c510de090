import { randomBytes } from 'node:crypto';
import type { Tracing } from './tracer.js';

/**
 * The W3C Trace Context of the work a part is doing (https://www.w3.org/TR/trace-context/):
 * which trace it belongs to and the span it runs as. It is passed explicitly, like the egress,
 * from the Fastify request (`request.trace`) to `requestJson(…, { trace })`: an implicit async
 * context would make every promise of the process dearer (docs/OPERATIONS.md, "Traces").
 */
export interface TraceContext {
  /** 32 lowercase hex characters, never all zero. */
  readonly traceId: string;
  /** 16 lowercase hex characters: the span this part works in, the parent of what it calls. */
  readonly spanId: string;
  /** Bit 0: sampled. */
  readonly flags: number;
  /** The exported span when spans are exported (tracer.ts); undefined otherwise. */
  readonly span?: ExportedSpan | undefined;
  /** The part's tracer when spans are exported: what the next hop's span is started with. */
  readonly tracing?: Tracing | undefined;
}

/** What of an OpenTelemetry span the parts use, so nothing here loads the SDK. */
export interface ExportedSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The parent a request names in `traceparent`, or null when the header is absent or not version 00's shape. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Reads a `traceparent` header as the W3C rules say: version `ff` and all-zero ids are invalid,
 * version 00 has exactly four fields, a later version may add fields after a dash. Anything
 * else (an array of headers, uppercase hex, a longer value) is ignored and a new trace starts:
 * a header is a hint from the caller, never a reason to refuse a request.
 */
export function parseTraceparent(header: unknown): TraceParent | null {
  if (typeof header !== 'string' || header.length > 512) return null;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  if (version === '00' && rest !== undefined) return null;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** The `traceparent` header naming `trace`'s span as the parent of what it calls. */
export function formatTraceparent(trace: Pick<TraceContext, 'traceId' | 'spanId' | 'flags'>): string {
  return `00-${trace.traceId}-${trace.spanId}-${(trace.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Random ids come from one pooled buffer: a request needs 24 bytes, a syscall would cost more. */
const POOL_BYTES = 24 * 256;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO_SPAN ? newSpanId() : id;
}

export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO_TRACE ? newTraceId() : id;
}

/**
 * The context of a hop that is not exported: the caller's trace continued (or a new one,
 * sampled, when there is no caller), with a span id of its own.
 */
export function continueTrace(parent: TraceParent | null): TraceContext {
  return parent
    ? { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags }
    : { traceId: newTraceId(), spanId: newSpanId(), flags: 1 };
}

/** Headers carrying `trace` to the next hop (none without a trace). */
export function traceHeaders(trace: TraceContext | undefined): Record<string, string> {
  return trace ? { traceparent: formatTraceparent(trace) } : {};
}
