export { createTestDeveloper, type TestDeveloper } from './developer.js';
export { callApi, type ProvisionedInstance, provisionInstance, trustedRegistryOf } from './swarm.js';
