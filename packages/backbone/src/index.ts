export { type AuthProviderHandle, type AuthProviderOptions, startAuthProvider } from './auth/auth-provider.js';
export { type BackboneHandle, startBackbone } from './backbone.js';
export { startBilling } from './billing/billing.js';
export type { UsageSummary } from './billing/usage-store.js';
export type { StoredLogEntry } from './logging/log-store.js';
export { startLogging } from './logging/logging.js';
export type { BackboneServerOptions, ServerHandle } from './shared/server-options.js';
