export { addressTargets, registryOptionsFromEnv } from './config.js';
export {
  type AddressTargets,
  type DnsInstance,
  type DnsZoneSource,
  type NameServer,
  parseNameServers,
  parseTransferAllowList,
} from './dns/index.js';
export { DEFAULT_INSTANCE_QUOTAS, type InstanceQuota, type InstanceQuotas, parseInstanceQuotas } from './routes/bindings.js';
export { openApiDocument } from './routes/openapi.js';
export { type RegistryHandle, type RegistryOptions, startRegistry } from './start.js';
export type { BroadcastState, BroadcastView } from './storage/outbox.js';
