import { Shutdown } from '@swarm/runtime';
import { type AuthProviderHandle, type AuthProviderOptions, startAuthProvider } from './auth/auth-provider.js';
import { startBilling } from './billing/billing.js';
import { startLogging } from './logging/logging.js';
import type { ServerHandle } from './shared/server-options.js';

export interface BackboneHandle {
  auth: AuthProviderHandle;
  billing: ServerHandle;
  logging: ServerHandle;
  close(): Promise<void>;
}

/**
 * All three parts for `swarm backbone`: auth on `port`, billing on `port + 1`, logging on
 * `port + 2` (free ports when `port` is 0), their files side by side in `dataDir` (`auth.db`,
 * `billing.db`, `logging.db`, the provider key). `publicUrl`, when given, is the auth provider's.
 */
export async function startBackbone(options: AuthProviderOptions): Promise<BackboneHandle> {
  const port = options.port ?? 0;
  const next = (offset: number) => (port === 0 ? 0 : port + offset);
  const {
    publicUrl: _authUrl,
    provider: _provider,
    providerKey: _key,
    authKeyOverlapSeconds: _overlap,
    tokenTtlSeconds: _ttl,
    ...common
  } = options;
  const shutdown = new Shutdown();
  return shutdown.start(async () => {
    const auth = await startAuthProvider({ ...options, port });
    shutdown.onStop(() => auth.close());
    // A metrics port, like the HTTP port, is the auth provider's; billing and logging take the next two.
    const metricsAt = (offset: number) =>
      options.metrics?.port === undefined
        ? {}
        : { metrics: { ...options.metrics, port: options.metrics.port === 0 ? 0 : options.metrics.port + offset } };
    const billing = await startBilling({ ...common, port: next(1), ...metricsAt(1) });
    shutdown.onStop(() => billing.close());
    const logging = await startLogging({ ...common, port: next(2), ...metricsAt(2) });
    shutdown.onStop(() => logging.close());
    return { auth, billing, logging, close: () => shutdown.close() };
  });
}
