import { SwarmError } from '@swarm/protocol';

export interface JsonResponse {
  status: number;
  body: unknown;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** The whole exchange, connect to last body byte. Default 10 s. */
  timeoutMs?: number;
  /** The largest answer body read; a bigger one is `registry_unavailable`. Default 16 MiB. */
  maxResponseBytes?: number;
  /**
   * `json` (default): the answer is JSON or empty. `status`: only the status counts and the body
   * is dropped unread, for receivers that may answer anything (broadcast delivery).
   */
  read?: 'json' | 'status';
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Far above any answer a peer sends today; it only stops a peer from filling our memory. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The one way a Swarm part sends HTTP to a peer. A peer that cannot be reached, redirects,
 * answers more than `maxResponseBytes`, or answers with something that is not JSON, is
 * `registry_unavailable`: the caller decides whether to retry.
 *
 * Redirects are never followed: a peer is named by its registry record, and following a
 * `Location` would let it send our signed body anywhere. Answers are asked for uncompressed so
 * the size cap counts what the peer actually sent.
 */
export async function requestJson(method: string, url: string, body?: unknown, options: RequestOptions = {}): Promise<JsonResponse> {
  const target = outboundUrl(url);
  let response: Response;
  try {
    response = await fetch(target, {
      method,
      headers: {
        accept: 'application/json',
        'accept-encoding': 'identity',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: body === undefined ? null : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
    });
  } catch (cause) {
    throw new SwarmError('registry_unavailable', `${target.origin} cannot be reached`, { cause });
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel().catch(() => {});
    throw new SwarmError('registry_unavailable', `${target.origin} answered ${response.status}: redirects are not followed`);
  }
  if (options.read === 'status') {
    await response.body?.cancel().catch(() => {});
    return { status: response.status, body: null };
  }
  const text = await readText(response, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, target.origin);
  if (text === '') return { status: response.status, body: null };
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch (cause) {
    throw new SwarmError('registry_unavailable', `${target.origin} answered ${response.status} with a body that is not JSON`, {
      cause,
    });
  }
}

export const postJson = (url: string, body: unknown, options?: RequestOptions) => requestJson('POST', url, body, options);
export const getJson = (url: string, options?: RequestOptions) => requestJson('GET', url, undefined, options);

/** Every destination passes here before a connection is made: only http(s) URLs are sent to. */
function outboundUrl(url: string): URL {
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

/**
 * The body as UTF-8 text, read up to `limit` bytes. A body cut short (the peer hung up, the
 * timeout fired) reads as empty, as `response.text()` failing did before: the status decides.
 */
async function readText(response: Response, limit: number, origin: string): Promise<string> {
  const tooLarge = () => new SwarmError('registry_unavailable', `${origin} answered more than ${limit} bytes`);
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof SwarmError) throw error;
    return '';
  }
  // TextDecoder drops a leading BOM, as response.text() does.
  return new TextDecoder().decode(Buffer.concat(chunks));
}
