import type { ConsoleSource } from '@swarm/console';
import type { SigningKey } from '@swarm/protocol';
import { backboneUpdate, getApp } from './apps.js';
import { auditLog } from './audit.js';
import { listBroadcasts } from './broadcasts.js';
import { catalog, findOffer } from './catalog.js';
import { decommission } from './decommission.js';
import type { ClientOptions } from './http.js';
import { getNamespace } from './identity.js';
import { provision } from './provision.js';
import { logs, usage } from './reports.js';
import { services } from './services.js';

/**
 * What `swarm console` serves, read and signed by this library with the key this process
 * holds: the console's server calls these, the browser only sees their answers.
 */
export function consoleSource(options: ClientOptions, master: SigningKey): ConsoleSource {
  return {
    publicKey: master.publicKey,
    namespace: (name) => getNamespace(options, name),
    app: (appId) => getApp(options, appId),
    services: (appId) => services(options, appId),
    catalog: () => catalog(options),
    broadcasts: (appId, state, limit) => listBroadcasts(options, appId, { state, limit }),
    audit: (appId) => auditLog(options, appId),
    usage: (appId, serviceId) => usage(options, { appId, master, ...(serviceId ? { serviceId } : {}) }),
    logs: (appId, filter) =>
      logs(options, {
        appId,
        master,
        ...(filter.serviceId ? { serviceId: filter.serviceId } : {}),
        ...(filter.level ? { level: filter.level } : {}),
        ...(filter.since === undefined ? {} : { since: filter.since }),
      }),
    provision: async (order, onProgress) => {
      const offer = await findOffer(options, order.serviceType, order.provider);
      return provision(options, {
        appId: order.appId,
        serviceType: order.serviceType,
        master,
        tier: order.tier,
        region: order.region,
        offer,
        onProgress,
        ...(order.storageGb === undefined ? {} : { storageGb: order.storageGb }),
      });
    },
    decommission: (input) => decommission(options, { ...input, master }),
    backboneUpdate: (input) => backboneUpdate(options, { ...input, master }),
  };
}
