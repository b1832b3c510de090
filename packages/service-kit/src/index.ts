export type { Domain, DomainContext } from './domain.js';
export { authorOf, needs, requestClaims, requestInstance } from './domain.js';
export { serviceOptionsFromEnv } from './env.js';
export type { InstanceInfo } from './instances.js';
export { LOCAL_REGIONS, LOCAL_TIERS, type ServiceOptions } from './options.js';
export { ReadCache } from './read-cache.js';
export {
  listReportOutbox,
  openReportOutbox,
  REPORT_OUTBOX_DEFAULTS,
  type ReportOutboxLimits,
  type ReportRowState,
  type ReportRowView,
  retryReportOutbox,
} from './reporting.js';
export { type ServiceHandle, startService } from './service.js';
export { kitDatabaseFile } from './store.js';
export { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions, type UserClaims } from './tokens.js';
