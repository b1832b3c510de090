export { auditView, type ConsoleHandle, type ConsoleOptions, startConsole } from './server.js';
export type { ConsoleSource, ProvisionOrder } from './source.js';
