export { registryOptionsFromEnv } from './config.js';
export type { DnsInstance, DnsZoneSource } from './dns/index.js';
export { openApiDocument } from './routes/openapi.js';
export { type RegistryHandle, type RegistryOptions, startRegistry } from './start.js';
export type { BroadcastState, BroadcastView } from './storage/outbox.js';
