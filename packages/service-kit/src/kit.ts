import type { ReplayStore, SigningKey, TrustedRegistries } from '@swarm/protocol';
import type { RegistryClient } from '@swarm/runtime';
import type { Kysely } from 'kysely';
import type { Binder } from './binding.js';
import type { ContextCache } from './contexts.js';
import type { Domain, DomainContext } from './domain.js';
import type { InstanceStore } from './instances.js';
import type { ServiceConfig } from './options.js';
import type { Reporter } from './reporting.js';
import type { KitTables } from './store.js';

/** Every dependency of a running service in one place; route modules take this. */
export interface Kit {
  config: ServiceConfig;
  db: Kysely<KitTables>;
  providerKey: SigningKey;
  trusted: TrustedRegistries;
  registry: RegistryClient;
  replay: ReplayStore;
  instances: InstanceStore;
  contexts: ContextCache;
  reporter: Reporter;
  binder: Binder;
  domain: Domain;
  domainContext: DomainContext;
  /** Set once the server listens. */
  publicUrl: string;
}

export function endpointUrl(kit: Kit, serviceId: string): string {
  return `${kit.publicUrl}/i/${serviceId}/api/v1`;
}

export function statusUrl(kit: Kit, serviceId: string): string {
  return `${kit.publicUrl}/v1/instances/${serviceId}`;
}
