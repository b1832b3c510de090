import { errorFromBody, SwarmError } from '@swarm/protocol';
// The HTTP client alone: the whole runtime (Fastify, databases) would slow every CLI start.
import { requestJson } from '@swarm/runtime/http-client';

export interface ClientOptions {
  /** Base URL of the App Registry, e.g. `http://127.0.0.1:7400`. */
  registry: string;
  timeoutMs?: number;
}

export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:7400';

/**
 * One JSON call to a Swarm part: the parsed body of a 2xx answer, else the SwarmError the peer
 * answered with (`registry_unavailable` when it cannot be reached or answers without one).
 */
export async function call<T>(
  method: string,
  url: string,
  body?: unknown,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: T }> {
  const response = await requestJson(method, url, body, {
    ...(options.headers ? { headers: options.headers } : {}),
    timeoutMs: options.timeoutMs ?? 15_000,
  });
  if (response.status >= 200 && response.status < 300) return response as { status: number; body: T };
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
