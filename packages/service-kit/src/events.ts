import type { BroadcastData } from '@swarm/protocol';
import type { Kit } from './kit.js';

/** Acts on a verified registry broadcast (SPEC §9.4). */
export async function handleBroadcast(kit: Kit, event: BroadcastData): Promise<void> {
  switch (event.event) {
    case 'SERVICE_REVOKED': {
      const instance = await kit.instances.get(event.service_id);
      if (instance && instance.appId === event.app_id) {
        await kit.instances.update(instance.serviceId, { status: 'revoked' });
        kit.reporter.forget(instance.serviceId);
      }
      return;
    }
    case 'BACKBONE_UPDATE': {
      const instances = await kit.instances.list({ status: 'active', appId: event.app_id });
      await Promise.allSettled(
        instances
          .filter((i) => (kit.contexts.get(i.serviceId)?.context.config_epoch ?? -1) < event.config_epoch)
          .map((i) => kit.contexts.refresh(i)),
      );
      return;
    }
    case 'MASTER_KEY_ROTATION':
    case 'MASTER_IDENTITY_RECOVERY':
      kit.registry.dropMasterKeys(event.app_id);
      return;
    case 'APP_MIGRATED':
      // Checked under the app's current registry and the trust table; the follow re-binds its instances.
      await kit.registry.follow(event.app_id, event.successor);
      return;
    case 'KEY_ROTATION':
      // The instance that rotated already holds its new key.
      return;
  }
}
