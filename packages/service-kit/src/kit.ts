import type { ReplayStore, SigningKey, TrustedRegistries } from '@swarm/protocol';
import type { Database, Egress, RegistryClient, Tracing } from '@swarm/runtime';
import type { Binder } from './binding.js';
import type { BoundRegistries } from './bound-registries.js';
import type { ContextCache } from './contexts.js';
import type { BoundDomain } from './domain.js';
import type { InstanceStore } from './instances.js';
import type { KitMetrics } from './metrics.js';
import type { ServiceConfig } from './options.js';
import type { Rebinder } from './rebind.js';
import type { Reporter } from './reporting.js';

/** Every dependency of a running service in one place (built by `createKit`); route modules take this. */
export interface Kit {
  config: ServiceConfig;
  /** The one connection the kit's stores and the domain share; closed with the service. */
  database: Database<unknown>;
  providerKey: SigningKey;
  trusted: TrustedRegistries;
  registry: RegistryClient;
  /** Where each instance is bound (its app may have moved since: bound-registries.ts). */
  bound: BoundRegistries;
  replay: ReplayStore;
  instances: InstanceStore;
  contexts: ContextCache;
  reporter: Reporter;
  binder: Binder;
  /** Re-binds instances at the registry an app moved to (docs/SERVICE-KIT.md, "Following a migration"). */
  rebinder: Rebinder;
  /** The domain with its context given. */
  domain: BoundDomain;
  /** The service's egress pool and policy, for URLs tenants chose (reports, voided-user lists). */
  egress: Egress;
  /** Set once the server listens. */
  publicUrl: string;
  /** The service's metrics (metrics.ts). */
  metrics: KitMetrics;
  /** The span exporter, once the server listens and only when OTLP is configured. */
  tracing(): Tracing | null;
  /** Set once by the server: where `tracing` reads from. */
  setTracing(tracing: () => Tracing | null): void;
}

export function endpointUrl(kit: Pick<Kit, 'publicUrl'>, serviceId: string): string {
  return `${kit.publicUrl}/i/${serviceId}/api/v1`;
}

export function statusUrl(kit: Pick<Kit, 'publicUrl'>, serviceId: string): string {
  return `${kit.publicUrl}/v1/instances/${serviceId}`;
}
