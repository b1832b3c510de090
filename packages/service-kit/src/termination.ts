import { randomUUID } from 'node:crypto';
import { nowSeconds, PermanentTermination, SwarmError, signEnvelope } from '@swarm/protocol';
import { verifyOwnerSigned } from '@swarm/runtime';
import { instanceInfo } from './instances.js';
import type { Kit } from './kit.js';
import { inFlightRequests } from './scope.js';

/**
 * How long a termination waits for the instance's requests in flight before it cuts them and
 * wipes: about what a reverse proxy gives a request to finish on a graceful stop.
 */
export const TERMINATION_DRAIN_MS = 10_000;

/**
 * Provider cleanup (SPEC §11 step 1), Master-signed: the instance stops serving, `wipe` deletes
 * its data, counting stops, and a receipt signed with the instance key goes back. A repeat
 * (with a fresh nonce) gets a fresh receipt, so a developer can retry safely.
 */
export async function terminate(kit: Kit, serviceId: string, body: unknown) {
  const { data, expected: instance } = await verifyOwnerSigned(PermanentTermination, body, {
    purpose: 'permanent_termination',
    action: 'decommission',
    registry: kit.registry,
    replay: kit.replay,
    freshnessSeconds: kit.config.freshnessSeconds,
    expect: async (data) => {
      if (data.service_id !== serviceId) throw new SwarmError('invalid_request', 'data.service_id must name the instance in the URL');
      const instance = await kit.instances.get(serviceId);
      if (!instance?.key || instance.appId !== data.app_id) throw new SwarmError('not_found', 'no such instance');
      return { ...instance, key: instance.key };
    },
  });
  const wipe = data.data_handling === 'wipe';
  // Terminated first, so no new request is admitted; then the ones already admitted finish (or
  // are cut) before the wipe, so none of them writes after it.
  await kit.instances.update(serviceId, { terminated: 1 });
  kit.reporter.forget(serviceId);
  if (wipe && !instance.wiped) {
    const inFlight = inFlightRequests(kit);
    if (!(await inFlight.drained(serviceId, TERMINATION_DRAIN_MS))) {
      inFlight.abort(serviceId);
      await inFlight.drained(serviceId, TERMINATION_DRAIN_MS);
    }
    await kit.domain.wipe(instanceInfo(instance));
    await kit.instances.update(serviceId, { wiped: 1 });
  }
  const receipt = {
    app_id: data.app_id,
    service_id: serviceId,
    status: 'success' as const,
    message: wipe ? 'instance terminated, data wiped' : 'instance terminated, data retained',
    receipt_id: randomUUID(),
    timestamp: nowSeconds(),
  };
  return signEnvelope('termination_receipt', receipt, instance.key.privateKey);
}
