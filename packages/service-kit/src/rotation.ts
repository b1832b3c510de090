import {
  errorFromBody,
  generateSigningKey,
  newNonce,
  nowSeconds,
  PROTOCOL_VERSION,
  privateKeyToPem,
  SwarmError,
  sign,
} from '@swarm/protocol';
import { postJson } from '@swarm/runtime';
import type { Kit } from './kit.js';

/**
 * Instance key rotation (SPEC §10.1). The new key is written down before the registry hears of
 * it, so a crash in between cannot leave the registry with a key this service lost.
 */
export async function rotateInstanceKey(kit: Kit, serviceId: string): Promise<void> {
  const instance = await kit.instances.get(serviceId);
  if (!instance?.key || instance.status !== 'active') throw new SwarmError('not_found', 'no active instance with that id');
  const next = generateSigningKey();
  const nextPem = privateKeyToPem(next.privateKey);
  kit.instances.rememberKey(nextPem, next);
  await kit.instances.update(serviceId, { pendingKey: nextPem });
  const data = {
    app_id: instance.appId,
    service_id: serviceId,
    new_public_key: next.publicKey,
    rotation_timestamp: nowSeconds(),
    nonce: newNonce(),
    context: 'key_rotation' as const,
  };
  const request = {
    version: PROTOCOL_VERSION,
    data,
    signature: sign('key_rotation', data, instance.key.privateKey),
    new_key_signature: sign('key_rotation', data, next.privateKey),
  };
  const registry = kit.registry.registryFor(instance.appId);
  const url = `${registry.baseUrl}/v1/apps/${encodeURIComponent(instance.appId)}/services/${encodeURIComponent(serviceId)}/key`;
  const { status, body } = await postJson(url, request, { timeoutMs: 5000 });
  if (status !== 200 && status !== 201) {
    await kit.instances.update(serviceId, { pendingKey: null });
    throw errorFromBody(body) ?? new SwarmError('registry_unavailable', `registry answered ${status} to a key rotation`);
  }
  await kit.instances.update(serviceId, { instanceKey: nextPem, pendingKey: null });
}
