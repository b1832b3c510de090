import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ReplayStore, TrustedRegistries } from '@swarm/protocol';
import {
  AppRegistries,
  Egress,
  egressPolicyOf,
  openDatabase,
  RedisReplayStore,
  RegistryClient,
  SqlReplayStore,
  type Tracing,
  withTables,
} from '@swarm/runtime';
import { Binder } from './binding.js';
import { BoundRegistries } from './bound-registries.js';
import { ContextCache } from './contexts.js';
import { bindDomain, type Domain } from './domain.js';
import { domainContext, migrateDomain } from './domain-context.js';
import { InstanceStore } from './instances.js';
import { endpointUrl, type Kit } from './kit.js';
import { kitMetrics } from './metrics.js';
import { resolveConfig, type ServiceOptions } from './options.js';
import { loadOrCreateProviderKey } from './provider-key.js';
import { Rebinder } from './rebind.js';
import { Reporter } from './reporting.js';
import { type KitTables, kitDatabaseFile, migrateKit } from './store.js';

/**
 * Builds everything a service runs on before it listens: configuration, provider key, the
 * migrated database (kit and domain tables), the replay store, the stores and caches, and the
 * domain bound to its typed context. Nothing is left open when it throws.
 */
export async function createKit<Tables>(options: ServiceOptions, domain: Domain<Tables>): Promise<Kit> {
  const config = resolveConfig(options);
  mkdirSync(config.dataDir, { recursive: true });
  const providerKey = options.providerKey ?? loadOrCreateProviderKey(config.dataDir);
  const trusted = TrustedRegistries.of(options.trustedRegistries);
  const database = openDatabase<unknown>({
    url: config.databaseUrl,
    file: kitDatabaseFile(config.dataDir, config.serviceType),
    schema: config.databaseSchema,
  });
  let replay: ReplayStore | undefined;
  // Reports and voided-user lists go to URLs tenants chose: through this service's egress pool.
  const egress = new Egress(egressPolicyOf(options));
  try {
    const db = withTables<KitTables>(database.db);
    await migrateKit(db);
    await migrateDomain(database, config.serviceType, domain.migrations);
    replay = config.redisUrl
      ? await RedisReplayStore.open(config.redisUrl, `swarm:nonce:${config.provider}`)
      : await SqlReplayStore.open(database.db);
    const metrics = kitMetrics(database, db);
    const domainDir = join(config.dataDir, 'files');
    mkdirSync(domainDir, { recursive: true });
    const bound = bindDomain(
      domain,
      domainContext<Tables>(
        database,
        domainDir,
        // Called only while serving, once `parts` (below) holds the public URL the server listens on.
        (serviceId): string => endpointUrl(parts as Pick<Kit, 'publicUrl'>, serviceId),
        metrics.caches.read,
      ),
    );
    const instances = new InstanceStore(db);
    // Apps followed to another registry resolve there before any stored context is checked.
    const registry = new RegistryClient(trusted, { successors: await AppRegistries.open(database.db) });
    await registry.load();
    const contexts = new ContextCache(db, registry, metrics.caches.context);
    await contexts.loadAll();
    const boundRegistries = new BoundRegistries(db, registry);
    await boundRegistries.load();
    // The server's tracer once it listens: the reporter and the binder read it through here.
    const tracer = { current: (): Tracing | null => null };
    const reporter = new Reporter({
      egress,
      db,
      prepare: database.prepare,
      runInTransaction: database.runInTransaction,
      instances,
      contexts,
      tracing: (): Tracing | null => tracer.current(),
      gauges: async (serviceId) => {
        const instance = await instances.get(serviceId);
        return instance && !instance.wiped ? bound.usage(instance.info) : {};
      },
    });
    const parts = {
      config,
      database,
      providerKey,
      trusted,
      registry,
      bound: boundRegistries,
      replay,
      instances,
      contexts,
      reporter,
      domain: bound,
      egress,
      publicUrl: '',
      metrics,
      tracing: (): Tracing | null => tracer.current(),
      setTracing: (tracing: () => Tracing | null) => {
        tracer.current = tracing;
      },
    };
    // The binder and rebinder hold the same object, so they see `publicUrl` once the server listens.
    return Object.assign(parts, { binder: new Binder(parts), rebinder: new Rebinder(parts) });
  } catch (error) {
    await replay?.close?.();
    await database.close();
    await egress.close();
    throw error;
  }
}
