export type { ProvisionedInstance } from '@swarm/protocol';
export { writeAdminToken } from './admin-token.js';
export { createTestDeveloper, type TestDeveloper } from './developer.js';
export { callApi, provisionInstance, trustedRegistryOf } from './instances.js';
export { type DomainPart, type NetworkSummary, type ServerPart, TestNetwork, type TestNetworkOptions } from './network.js';
export * from './ports.js';
export * from './processes.js';
export * from './seed.js';
