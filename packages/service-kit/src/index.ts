export {
  ifMatchPasses,
  ifNoneMatchPasses,
  parseEntityTags,
  preconditionFailed,
  requireWritePreconditions,
} from './conditions.js';
export type { DataPage, DataTransfer, Domain, DomainContext, TransferLimits } from './domain.js';
export { authorOf, needs, requestClaims, requestInstance, type SignedAccess } from './domain.js';
export { domainContext, migrateDomain } from './domain-context.js';
export { serviceOptionsFromEnv } from './env.js';
export type { InstanceInfo } from './instances.js';
export { migrationDialect } from './migration-dialect.js';
export { LOCAL_REGIONS, LOCAL_TIERS, type ServiceOptions } from './options.js';
export {
  DEFAULT_PAGE_LIMITS,
  decodeCursor,
  encodeCursor,
  MAX_CURSOR_CHARS,
  type PageLimits,
  pageLimit,
  pageOf,
} from './paging.js';
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
export { fts5Match, MAX_SEARCH_WORDS, searchWords, tsQuery, tsVectorSql } from './text-search.js';
export { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions, type UserClaims } from './tokens.js';
