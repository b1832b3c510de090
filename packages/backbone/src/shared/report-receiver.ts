import { checkFreshness, type ReplayStore, requireAppId } from '@swarm/protocol';
import { AppRegistries, Egress, egressPolicyOf, listenApp, RegistryClient, Shutdown } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { AppAuthCache } from './app-records.js';
import { registerBroadcastReceiver } from './broadcast-receiver.js';
import { InstanceVerifier } from './instance-verifier.js';
import { OwnerAccess } from './owner-access.js';
import { Revocations } from './revocations.js';
import { openPartReplayStore } from './scoped-replay.js';
import {
  type BackboneServerOptions,
  backboneApp,
  openPartDatabase,
  type ResolvedOptions,
  resolveOptions,
  type ServerHandle,
} from './server-options.js';

/** Everything Billing and Logging share: storage, the registry, instance checks, owner reads. */
export interface ReceiverContext {
  app: FastifyInstance;
  db: Kysely<unknown>;
  resolved: ResolvedOptions;
  replay: ReplayStore;
  registry: RegistryClient;
  instances: InstanceVerifier;
  owners: OwnerAccess;
  /** Where this part listens or is published (known once it listens). */
  url(): string;
}

interface SignedReport {
  data: { app_id: string; service_id: string; timestamp: number };
  signature: string;
}

/**
 * Starts a receiver of instance reports (SPEC §9.3): opens its database, runs `migrate`, wires
 * the broadcast receiver, lets `routes` add the part's own endpoints, and listens.
 */
export function startReportReceiver(options: BackboneServerOptions, part: ReceiverPart): Promise<ServerHandle> {
  return openReportReceiver(options, part);
}

interface ReceiverPart {
  name: string;
  file: string;
  migrate(db: Kysely<unknown>): Promise<void>;
  routes(context: ReceiverContext): void;
}

async function openReportReceiver(options: BackboneServerOptions, part: ReceiverPart): Promise<ServerHandle> {
  const resolved = resolveOptions(options);
  const shutdown = new Shutdown();
  return shutdown.start(async () => {
    const database = openPartDatabase<unknown>(options, part.file);
    shutdown.onRelease(() => database.close());
    // An app's Auth Provider (whose voided-user list owner reads consult) is a URL its owner chose.
    const outbound = new Egress(egressPolicyOf(options));
    shutdown.onRelease(() => outbound.close());
    await part.migrate(database.db);
    const replay = await openPartReplayStore(database.db, part.name);
    // Apps that moved to another registry resolve there (docs/BACKBONE.md, "After a migration").
    const registry = new RegistryClient(resolved.trusted, { successors: await AppRegistries.open(database.db) });
    await registry.load();
    const revocations = new Revocations(database.db);
    const appAuth = new AppAuthCache(registry);
    const { app } = backboneApp(part.name, options, database, resolved);
    shutdown.onStop(() => app.close());
    let url = '';
    const context: ReceiverContext = {
      app,
      db: database.db,
      resolved,
      replay,
      registry,
      instances: new InstanceVerifier(registry, revocations),
      owners: new OwnerAccess(registry, appAuth, replay, resolved.freshnessSeconds, outbound),
      url: () => url,
    };
    registerBroadcastReceiver(app, {
      registry,
      replay,
      act: async (event) => {
        if (event.event === 'SERVICE_REVOKED') {
          await revocations.revoke(event.app_id, event.service_id, event.timestamp);
          registry.dropServices(event.app_id);
        } else if (event.event === 'KEY_ROTATION') {
          registry.dropServices(event.app_id);
        } else if (event.event === 'BACKBONE_UPDATE') {
          appAuth.drop(event.app_id);
        } else if (event.event === 'APP_MIGRATED') {
          await registry.follow(event.app_id, event.successor);
          appAuth.drop(event.app_id);
        } else {
          registry.dropMasterKeys(event.app_id);
        }
      },
    });
    part.routes(context);
    url = (await listenApp(app, { host: resolved.host, port: resolved.port, publicUrl: options.publicUrl })).publicUrl;
    return { url, app, close: () => shutdown.close() };
  });
}

/**
 * The checks every report passes, cheapest first: (body rules and version, done by the caller's
 * parse) → app_id → freshness → bound instance → signature. Answers the key that signed it.
 */
export async function verifyReport(context: ReceiverContext, report: SignedReport): Promise<string> {
  requireAppId(report.data.app_id);
  checkFreshness(report.data.timestamp, { windowSeconds: context.resolved.freshnessSeconds });
  context.registry.registryFor(report.data.app_id);
  return context.instances.verifyReport(report.data.app_id, report.data.service_id, report.data, report.signature);
}
