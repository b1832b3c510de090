import { SwarmError } from '@swarm/protocol';

export interface JsonResponse {
  status: number;
  body: unknown;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * One JSON request to a peer. A peer that cannot be reached, or answers with something that is
 * not JSON, is `registry_unavailable`: the caller decides whether to retry.
 */
export async function requestJson(method: string, url: string, body?: unknown, options: RequestOptions = {}): Promise<JsonResponse> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (cause) {
    throw new SwarmError('registry_unavailable', `${new URL(url).origin} cannot be reached`, { cause });
  }
  const text = await response.text().catch(() => '');
  if (text === '') return { status: response.status, body: null };
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch (cause) {
    throw new SwarmError('registry_unavailable', `${new URL(url).origin} answered ${response.status} with a body that is not JSON`, {
      cause,
    });
  }
}

export const postJson = (url: string, body: unknown, options?: RequestOptions) => requestJson('POST', url, body, options);
export const getJson = (url: string, options?: RequestOptions) => requestJson('GET', url, undefined, options);
