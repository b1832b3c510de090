export type { ProvisionedInstance } from '@swarm/protocol';
export { createTestDeveloper, type TestDeveloper } from './developer.js';
export { callApi, provisionInstance, trustedRegistryOf } from './swarm.js';
