import { SwarmError } from '@swarm/protocol';
import { type Dispatcher, request } from 'undici';
import { EGRESS_REFUSED, type Egress } from './egress.js';
import { formatTraceparent, type TraceContext } from './observability/trace-context.js';
import { endHop } from './observability/tracer.js';

export interface JsonResponse {
  status: number;
  body: unknown;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** The whole exchange, connect to last body byte. Default 10 s. */
  timeoutMs?: number;
  /**
   * The largest answer body read; a bigger one is `registry_unavailable`. Default 16 MiB, and
   * `ACK_MAX_BYTES` for a URL a tenant chose (its answer is only ever an acknowledgement).
   */
  maxResponseBytes?: number;
  /**
   * `json` (default): the answer is JSON or empty. `status`: only the status counts; at most
   * `ACK_MAX_BYTES` of the body are read and dropped, for receivers that may answer anything
   * (broadcast delivery).
   */
  read?: 'json' | 'status';
  /**
   * The part's egress (egress.ts) for a URL a tenant chose: passed explicitly at each such call
   * (an implicit async context would enable async hooks and slow every promise of the process).
   * Without it the URL is the operator's own (a trusted registry, the CLI's own target).
   */
  egress?: Egress;
  /**
   * The trace the request is part of (a Fastify request's `request.trace`, or a root started by a
   * loop): sent as `traceparent`, and a client span when the part exports spans. Passed
   * explicitly, like `egress`.
   */
  trace?: TraceContext | undefined;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Far above any answer a peer sends today; it only stops a peer from filling our memory. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/**
 * What is read of an acknowledgement: a status with a short JSON note or error. Webhook senders
 * keep about this much of a receiver's answer too.
 */
export const ACK_MAX_BYTES = 16 * 1024;

/**
 * The one way a Swarm part sends HTTP to a peer. A peer that cannot be reached, redirects,
 * answers more than `maxResponseBytes`, or answers with something that is not JSON, is
 * `registry_unavailable`: the caller decides whether to retry.
 *
 * Redirects are never followed: a peer is named by its registry record, and following a
 * `Location` would let it send our signed body anywhere (or to an internal address). Answers are
 * asked for uncompressed and never inflated, so the size cap counts what the peer actually sent
 * and a compressed bomb stays a few bytes. Inside a part, a URL a tenant chose goes through the
 * part's egress pool (egress.ts): internal addresses are refused on the address connected to,
 * and connections per host are bounded.
 */
export async function requestJson(method: string, url: string, body?: unknown, options: RequestOptions = {}): Promise<JsonResponse> {
  const target = outboundUrl(url);
  const egress = options.egress;
  const tenantChosen = egress !== undefined && !egress.policy.isOperatorOrigin(target);
  if (tenantChosen) {
    const refusal = egress.policy.literalRefusal(target);
    if (refusal) throw new SwarmError('registry_unavailable', `${target.origin} is not sent to: ${refusal}`);
  }
  const dispatcher = egress?.dispatcherFor(target);
  // The next hop's parent: a client span of its own when spans are exported, else this hop's span.
  const hop = options.trace?.tracing
    ? options.trace.tracing.start(method, 'client', options.trace, { 'http.request.method': method, 'server.address': target.host })
    : options.trace;
  let response: Dispatcher.ResponseData;
  try {
    response = await request(target, {
      method: method as Dispatcher.HttpMethod,
      headers: {
        accept: 'application/json',
        'accept-encoding': 'identity',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(hop ? { traceparent: formatTraceparent(hop) } : {}),
        ...options.headers,
      },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (cause) {
    const refused = egressRefusalOf(cause);
    const reason = refused ? `is not sent to: ${refused}` : 'cannot be reached';
    if (hop !== options.trace) endHop(hop, undefined, reason);
    throw new SwarmError('registry_unavailable', `${target.origin} ${reason}`, { cause });
  }
  const status = response.statusCode;
  if (hop !== options.trace) endHop(hop, status);
  if (status >= 300 && status < 400) {
    discard(response);
    throw new SwarmError('registry_unavailable', `${target.origin} answered ${status}: redirects are not followed`);
  }
  if (options.read === 'status') {
    // A short answer is drained so the connection can be reused; a longer one closes it.
    await response.body.dump({ limit: ACK_MAX_BYTES }).catch(() => {});
    return { status, body: null };
  }
  const encoding = String(response.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    discard(response);
    throw new SwarmError('registry_unavailable', `${target.origin} answered ${status} with content-encoding ${encoding}, not identity`);
  }
  const limit = options.maxResponseBytes ?? (tenantChosen ? ACK_MAX_BYTES : DEFAULT_MAX_RESPONSE_BYTES);
  const text = await readText(response, limit, target.origin);
  if (text === '') return { status, body: null };
  try {
    return { status, body: JSON.parse(text) };
  } catch (cause) {
    throw new SwarmError('registry_unavailable', `${target.origin} answered ${status} with a body that is not JSON`, {
      cause,
    });
  }
}

export const postJson = (url: string, body: unknown, options?: RequestOptions) => requestJson('POST', url, body, options);
export const getJson = (url: string, options?: RequestOptions) => requestJson('GET', url, undefined, options);

/** Every destination passes here before a connection is made: only http(s) URLs are sent to. */
export function outboundUrl(url: string): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch (cause) {
    throw new SwarmError('registry_unavailable', 'the peer URL is not a URL', { cause });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new SwarmError('registry_unavailable', `the peer URL must be http(s), not ${target.protocol}`);
  }
  return target;
}

/** Drops an unread body and its connection; the abort it raises is expected, not an error. */
function discard(response: Dispatcher.ResponseData): void {
  response.body.on('error', () => {});
  response.body.destroy();
}

/** The egress rule in a connect error (egress.ts refuses from the pool's lookup), if that is what it is. */
function egressRefusalOf(error: unknown): string | null {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as NodeJS.ErrnoException).code === EGRESS_REFUSED) return cause.message;
  }
  return null;
}

/**
 * The body as UTF-8 text, read up to `limit` bytes. A body cut short (the peer hung up, the
 * timeout fired) reads as empty: the status decides.
 */
async function readText(response: Dispatcher.ResponseData, limit: number, origin: string): Promise<string> {
  const tooLarge = () => new SwarmError('registry_unavailable', `${origin} answered more than ${limit} bytes`);
  const declared = Number(response.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    discard(response);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > limit) {
        discard(response);
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof SwarmError) throw error;
    return '';
  }
  // TextDecoder drops a leading BOM, as response.text() does.
  return new TextDecoder().decode(Buffer.concat(chunks));
}
