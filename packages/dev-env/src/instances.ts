import { ProvisionedInstance, parseAnswer, type TrustedRegistry } from '@swarm/protocol';
import { postJson } from '@swarm/runtime/http-client';
import type { ServiceHandle } from '@swarm/service-kit';
import type { TestDeveloper } from './developer.js';

/** The trust-table entry for a started registry. */
export function trustedRegistryOf(registry: { authority: string; url: string; publicKey: string }): TrustedRegistry {
  return { authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey };
}

/** Provisions an instance of `service` for the developer's app and expects `201 active`. */
export async function provisionInstance(
  service: Pick<ServiceHandle, 'catalogEntry' | 'provider'>,
  developer: TestDeveloper,
  fields: Parameters<TestDeveloper['provisionRequest']>[1] = {},
): Promise<ProvisionedInstance> {
  const { status, body } = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(service.provider, fields));
  if (status !== 201) throw new Error(`provisioning answered ${status}: ${JSON.stringify(body)}`);
  return parseAnswer(ProvisionedInstance, body, service.provider);
}

/** A JSON request with a bearer token; answers `{ status, body }` (body null when empty). */
export async function callApi(
  url: string,
  token: string,
  init: { method?: string; json?: unknown; body?: Uint8Array | string; contentType?: string } = {},
): Promise<{ status: number; body: unknown; headers: Headers; bytes: Buffer }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: Uint8Array | string | undefined = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (body !== undefined) {
    headers['content-type'] = init.contentType ?? 'application/octet-stream';
  }
  const response = await fetch(url, { method: init.method ?? 'GET', headers, body: body ?? null });
  const bytes = Buffer.from(await response.arrayBuffer());
  let parsed: unknown = null;
  if ((response.headers.get('content-type') ?? '').includes('json') && bytes.length > 0) parsed = JSON.parse(bytes.toString('utf8'));
  return { status: response.status, body: parsed, headers: response.headers, bytes };
}
