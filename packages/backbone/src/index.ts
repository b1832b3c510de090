export { type AuthProviderHandle, type AuthProviderOptions, startAuthProvider } from './auth/auth-provider.js';
export { type BackboneHandle, startBackbone } from './backbone.js';
export { startBilling } from './billing/billing.js';
export { startLogging } from './logging/logging.js';
export type { BackboneServerOptions, ServerHandle } from './shared/server-options.js';
