import type { BroadcastData, ReplayStore, SigningKey } from '@swarm/protocol';
import type { RegistryClient } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import type { AuthStore } from './auth-store.js';
import type { LoginThrottle } from './login-throttle.js';

/** What the auth provider's routes share. */
export interface AuthContext {
  app: FastifyInstance;
  store: AuthStore;
  registry: RegistryClient;
  replay: ReplayStore;
  provider: string;
  providerKey: SigningKey;
  freshnessSeconds: number;
  overlapSeconds: number;
  tokenTtlSeconds: number;
  loginThrottle: LoginThrottle;
  /** The provider's public URL (known once it listens). */
  baseUrl(): string;
}

/** The app's own issuer, like a realm: `<publicUrl>/apps/<app_id>` (SPEC §4.3). */
export function issuerOf(context: AuthContext, appId: string): string {
  return `${context.baseUrl()}/apps/${appId}`;
}

/** What a broadcast changes here: a replaced Master key must stop verifying at once. */
export function actOnBroadcast(context: AuthContext, event: BroadcastData | null): void {
  if (event && (event.event === 'MASTER_KEY_ROTATION' || event.event === 'MASTER_IDENTITY_RECOVERY')) {
    context.registry.dropMasterKeys(event.app_id);
  }
}
