import { type AnswerSchema, errorFromBody, parseAnswer, SwarmError } from '@swarm/protocol';
// The HTTP client alone: the whole runtime (Fastify, databases) would slow every CLI start.
import { requestJson } from '@swarm/runtime/http-client';

export interface ClientOptions {
  /** Base URL of the App Registry, e.g. `http://127.0.0.1:7400`. */
  registry: string;
  timeoutMs?: number;
}

export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:7400';

/**
 * One JSON call to a Swarm part: the body of a 2xx answer read with its schema, else the
 * SwarmError the peer answered with (`registry_unavailable` when it cannot be reached, answers
 * without one, or answers a body its schema refuses).
 */
export async function call<T>(
  method: string,
  url: string,
  answer: AnswerSchema<T>,
  body?: unknown,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: T }> {
  const response = await requestJson(method, url, body, {
    ...(options.headers ? { headers: options.headers } : {}),
    timeoutMs: options.timeoutMs ?? 15_000,
  });
  if (response.status >= 200 && response.status < 300) {
    return { status: response.status, body: parseAnswer(answer, response.body, new URL(url).origin) };
  }
  const error = errorFromBody(response.body);
  if (error) throw error;
  throw new SwarmError('registry_unavailable', `${new URL(url).origin} answered ${response.status}`);
}

export function registryUrl(options: ClientOptions, path: string): string {
  return options.registry.replace(/\/+$/, '') + path;
}

export function appPath(appId: string): string {
  return `/v1/apps/${encodeURIComponent(appId)}`;
}
