import { createHash, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_FRESHNESS_SECONDS,
  generateSigningKey,
  nowSeconds,
  parseAuthority,
  privateKeyToPem,
  type SigningKey,
  SwarmError,
  signingKeyFromPem,
  TrustedRegistries,
  type TrustedRegistry,
} from '@swarm/protocol';
import {
  createHttpApp,
  type Database,
  Egress,
  type EgressOptions,
  EgressPolicy,
  listenApp,
  type MetricsOptions,
  migrate,
  observedOf,
  openDatabase,
  openRedisClient,
  RedisReplayStore,
  Shutdown,
  SqlReplayStore,
  watchTrustFile,
} from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { type Kysely, sql } from 'kysely';
import { AppLookups } from './app-lookups.js';
import { BroadcastDelivery, queuedBroadcasts } from './broadcasts.js';
import { ChangeChannel } from './change-channel.js';
import { KEY_GRACE_SECONDS, MIGRATION_CONTEST_SECONDS, MIGRATION_DNS_GRACE_SECONDS, type RegistryContext } from './context.js';
import { type AddressTargets, type DnsLimits, type NameServer, startDnsServer } from './dns/index.js';
import { storageZoneSource } from './dns-source.js';
import { Liveness } from './liveness.js';
import { registryMetrics } from './metrics.js';
import { DEFAULT_INSTANCE_QUOTAS, type InstanceQuotas } from './routes/bindings.js';
import { registerRoutes } from './routes/index.js';
import { SharedBeats } from './shared-beats.js';
import { prepareAppReads } from './storage/apps.js';
import { prepareBeatRows, prepareBindingReads } from './storage/bindings.js';
import { migrations } from './storage/migrations.js';
import type { RegistryDb, RegistryTables } from './storage/schema.js';
import { settingOrCreate } from './storage/settings.js';

export interface RegistryOptions {
  port?: number;
  host?: string;
  /** What peers use to reach the registry; default `http://<host>:<port>`. */
  publicUrl?: string;
  /** `<registry>.<tld>`; default `swarm.local`. */
  authority?: string;
  /** SQLite lives in `<dataDir>/registry.db`; without dataDir or databaseFile, in memory. */
  dataDir?: string;
  databaseFile?: string;
  /** `postgres://…` switches to PostgreSQL. */
  databaseUrl?: string;
  databaseSchema?: string;
  /**
   * `redis://…` shared by the replicas of this registry: nonces and the last beats of instances
   * live there (docs/SCALE-OUT.md), so a beat taken by one replica counts at every replica.
   */
  redisUrl?: string;
  /** PKCS#8 PEM; without it the key is created once and kept in the database. */
  registryKeyFile?: string;
  /** Without it a random token is created once and kept in the database. */
  adminToken?: string;
  /** When set, namespace claims need `Authorization: Bearer <admissionToken>`. */
  admissionToken?: string;
  freshnessSeconds?: number;
  /** Active instances per app and per namespace, by tier; merged over DEFAULT_INSTANCE_QUOTAS. */
  instanceQuotas?: InstanceQuotas;
  /** Default 10; an instance is unhealthy after missing 3. */
  heartbeatIntervalSeconds?: number;
  /** How long a rotated-out instance key still verifies; default 300 (SPEC §10.1). */
  instanceKeyGraceSeconds?: number;
  defaultBillingUrl?: string;
  defaultLoggingUrl?: string;
  /** 0 (default) = a free port, false = no Service DNS. */
  dnsPort?: number | false;
  /** Service DNS rate limiting and TCP bounds (docs/OPERATIONS.md); each left out takes its default. */
  dnsLimits?: Partial<DnsLimits>;
  /** The zone's NS records and their addresses (docs/DNS.md, "Delegation"); default `ns1.<authority>` at `host`. */
  dnsNameServers?: NameServer[];
  /**
   * SRV targets of endpoints given as addresses: `host` (SPEC §7, default: `127.0.0.1.`) or `zone`
   * (`<service_id>.<app zone>` with its A/AAAA in the zone, for a zone resolvers follow; docs/DNS.md).
   */
  dnsAddressTargets?: AddressTargets;
  /** Addresses or CIDRs that may transfer the Service DNS zone (AXFR/IXFR over TCP); default none. */
  dnsAllowTransfer?: string[];
  /** Signs Service DNS (DNSSEC, Ed25519); default true. */
  dnssec?: boolean;
  /**
   * PKCS#8 PEM Ed25519 keys, one or more in one file (two while a key is rolled over); without it
   * one key is created once and kept in the database, like the registry key.
   */
  dnssecKeyFile?: string;
  /**
   * Service DNS answers kept per cache (HTTP listings, DNS instance lists, encoded DNS replies)
   * until their deadline or a change of their app (on PostgreSQL while the change channel
   * listens), each cache also bounded by 32 MiB; 0 turns them off. Default 100 000: every app of
   * a large registry may be asked within one health window.
   */
  lookupCacheEntries?: number;
  /**
   * How often at most a beat that changes no health is written to the binding row, in heartbeat
   * intervals (docs/REGISTRY.md, "Liveness"). Default 6 on SQLite, and on PostgreSQL with
   * `redisUrl` (replicas hear each other's beats through Redis); 0 (every beat) on PostgreSQL
   * without it, where replicas can read each other's beats only from the rows.
   */
  persistBeatsEveryIntervals?: number;
  /**
   * Delivery of broadcasts: backoff from initialMs (500) doubling to maxMs (60 s); pollMs (1 s)
   * picks up due rows; a change waits up to settleMs (1 s) for its broadcasts' first attempt.
   */
  broadcastRetry?: {
    initialMs?: number;
    maxMs?: number;
    pollMs?: number;
    timeoutMs?: number;
    /** Undelivered this long, a broadcast becomes a dead letter. Default 3 days. */
    giveUpAfterSeconds?: number;
    settleMs?: number;
    /** Requests in flight to one receiver (origin). Default 4. */
    laneConcurrency?: number;
    /** Receivers served at once. Default 64. */
    maxLanes?: number;
    /** Consecutive failures that open a receiver's circuit breaker. Default 5. */
    failuresToOpen?: number;
    /** Broadcast rows an app may have waiting. Default 10 000. */
    queueCapPerApp?: number;
  };
  /**
   * Where broadcasts may go and which URLs owners may set: internal addresses are refused unless
   * `allow` lists them (docs/OPERATIONS.md). The default billing and logging URLs are the
   * operator's and always pass.
   */
  egress?: EgressOptions;
  /** Who may read `/metrics` (the admin token always may) and the metrics port (docs/OPERATIONS.md). */
  metrics?: MetricsOptions;
  logLevel?: string | false;
  /**
   * Peer registries trusted for migrations (docs/REGISTRY.md, "Migration"): a live table is shared
   * as given; `trustFile` (the kit's format, `[{ authority, baseUrl, publicKey }]`) is followed
   * live and replaces the table on each change. `PUT /v1/admin/trust` replaces it at run time.
   */
  trust?: TrustedRegistry[] | TrustedRegistries;
  trustFile?: string;
  /** Seconds a migration without release or Guardian approval waits for a veto; default 72 h (SWARM_MIGRATION_CONTEST_SECONDS). */
  migrationContestSeconds?: number;
  /** Seconds a released app's old zone answers a DNAME; default 30 days (SWARM_MIGRATION_DNS_GRACE_SECONDS). */
  migrationDnsGraceSeconds?: number;
}

export interface RegistryHandle {
  url: string;
  authority: string;
  publicKey: string;
  adminToken: string;
  dnsPort: number | null;
  /** The peer registries trusted for migrations (live: replace it to change trust). */
  trust: TrustedRegistries;
  app: FastifyInstance;
  /** For tests and benchmarks: the kept lookup answers (hit counters), the liveness table (write counter), the PostgreSQL change channel. */
  internals: { lookups: AppLookups; liveness: Liveness; changes: ChangeChannel | null };
  close(): Promise<void>;
}

function openRegistryDatabase(options: RegistryOptions): Database<RegistryTables> {
  if (options.databaseUrl) return openDatabase<RegistryTables>({ url: options.databaseUrl, schema: options.databaseSchema });
  const file = options.databaseFile ?? (options.dataDir ? join(options.dataDir, 'registry.db') : ':memory:');
  return openDatabase<RegistryTables>({ file });
}

/** The DNSSEC keys: every PEM block of the file, else one created once in the database (shared by replicas). */
async function dnssecKeys(db: RegistryDb, options: RegistryOptions): Promise<KeyObject[]> {
  if (options.dnssec === false) return [];
  if (options.dnssecKeyFile) {
    const blocks = readFileSync(options.dnssecKeyFile, 'utf8').match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
    if (blocks.length === 0) throw new SwarmError('invalid_request', `${options.dnssecKeyFile} holds no PEM key`);
    return blocks.map((pem) => signingKeyFromPem(pem).privateKey);
  }
  const pem = await settingOrCreate(db, 'dnssec_key', () => privateKeyToPem(generateSigningKey().privateKey));
  return [signingKeyFromPem(pem).privateKey];
}

async function registryKey(db: RegistryDb, keyFile: string | undefined): Promise<SigningKey> {
  if (keyFile) return signingKeyFromPem(readFileSync(keyFile, 'utf8'));
  // Replicas on one database sign alike: the first to start creates the key, the rest read it.
  return signingKeyFromPem(await settingOrCreate(db, 'registry_key', () => privateKeyToPem(generateSigningKey().privateKey)));
}

/**
 * Starts the App Registry: HTTP API, Service DNS and the broadcast delivery loop over one
 * database.
 *
 * @example
 * const registry = await startRegistry({ port: 0, dataDir: '/tmp/swarm', logLevel: false });
 * const info = await (await fetch(`${registry.url}/.well-known/swarm-registry`)).json();
 * await registry.close();
 */
export function startRegistry(options: RegistryOptions = {}): Promise<RegistryHandle> {
  return openRegistry(options, new EgressPolicy(options.egress, [options.defaultBillingUrl, options.defaultLoggingUrl]));
}

async function openRegistry(options: RegistryOptions, egress: EgressPolicy): Promise<RegistryHandle> {
  const authority = options.authority ?? 'swarm.local';
  const { registry, tld } = parseAuthority(authority);
  const host = options.host ?? '127.0.0.1';
  const shutdown = new Shutdown();
  return shutdown.start(async () => {
    const database = openRegistryDatabase(options);
    shutdown.onRelease(() => database.close());
    // Broadcasts go to receivers tenants named: through this part's egress pool and policy.
    const outbound = new Egress(egress);
    shutdown.onRelease(() => outbound.close());
    await migrate(database.db, 'registry', migrations);
    const key = await registryKey(database.db, options.registryKeyFile);
    // Replicas of one registry share its key: it names their nonces and beats in Redis.
    const redisPrefix = `swarm:registry:${createHash('sha256').update(key.publicKey).digest('hex').slice(0, 16)}`;
    const redis = options.redisUrl ? await openRedisClient(options.redisUrl) : null;
    if (redis)
      shutdown.onRelease(() =>
        redis.quit().then(
          () => {},
          () => {},
        ),
      );
    const replay = redis
      ? RedisReplayStore.over(redis, `${redisPrefix}:nonce`)
      : await SqlReplayStore.open(database.db as unknown as Kysely<unknown>);
    const adminToken =
      options.adminToken ?? (await settingOrCreate(database.db, 'admin_token', () => randomBytes(32).toString('base64url')));

    const heartbeatIntervalSeconds = options.heartbeatIntervalSeconds ?? 10;
    let liveness: Liveness | null = null;
    const metrics = registryMetrics(
      database,
      database.db,
      () => heartbeatIntervalSeconds,
      (since) => liveness?.beatingSince(since) ?? null,
    );
    const beatRows = prepareBeatRows(database.db, database.prepare, database.runInTransaction);
    liveness = new Liveness(beatRows, {
      intervalSeconds: heartbeatIntervalSeconds,
      persistSeconds: heartbeatIntervalSeconds * (options.persistBeatsEveryIntervals ?? (database.dialect === 'sqlite' || redis ? 6 : 0)),
      startedAt: nowSeconds(),
      // Health lost by time alone changes DNS answers: the zone's serial moves with it.
      onStopped: (appId) => lookups.changed(appId),
    });
    const lastBeats = liveness;
    // SQLite: the data version moves only when another process commits. PostgreSQL: answers are
    // kept while the change channel listens to every replica's commits.
    let changes: ChangeChannel | null = null;
    const lookups = new AppLookups(
      database.dataVersion
        ? { stamp: database.dataVersion, enabled: () => true }
        : { stamp: null, enabled: () => changes?.listening ?? false },
      options.lookupCacheEntries ?? 100_000,
      authority,
      metrics.cache,
    );
    if (database.dialect === 'postgres' && options.databaseUrl) {
      const channel = await ChangeChannel.open({
        url: options.databaseUrl,
        schema: options.databaseSchema ?? new URL(options.databaseUrl).searchParams.get('schema') ?? undefined,
        onChange: (appId) => {
          lookups.changed(appId);
          lastBeats.changed(appId, nowSeconds());
        },
        onReset: () => {
          lookups.clear();
          lastBeats.changedAll();
        },
      });
      changes = channel;
      shutdown.onRelease(() => channel.close());
    }
    lastBeats.watch(
      database.dataVersion
        ? { stamp: database.dataVersion, listening: () => true }
        : { stamp: null, listening: () => changes?.listening ?? false },
    );
    if (redis) {
      const table = liveness;
      const shared = await SharedBeats.open({
        client: redis,
        prefix: `${redisPrefix}:beats`,
        expireSeconds: Math.max(60, 6 * heartbeatIntervalSeconds),
        onBeats: (beats) => table.merge(beats, nowSeconds()),
      });
      table.share(shared, (appId) => lookups.changed(appId));
      shutdown.onRelease(() => shared.close());
    }

    const trust = TrustedRegistries.of(options.trust ?? []);
    let log: FastifyInstance['log'] | null = null;
    if (options.trustFile) {
      const trustFile = options.trustFile;
      let firstError: Error | null = null;
      const watch = watchTrustFile(trustFile, trust, {
        onError: (error) => {
          firstError ??= error;
          log?.warn({ err: error, file: trustFile }, 'the trust file was not taken; the trust table is unchanged');
        },
      });
      shutdown.onStop(() => watch.close());
      // A trust file that does not parse at start is an error, not an empty table.
      if (!watch.reload()) throw firstError ?? new SwarmError('invalid_request', `${trustFile} is not a trust list`);
    }

    const retry = options.broadcastRetry ?? {};
    let delivery: BroadcastDelivery | null = null;
    const ctx: RegistryContext = {
      db: database.db,
      dialect: database.dialect,
      reads: {
        apps: prepareAppReads(database.db, database.prepare),
        bindings: prepareBindingReads(database.db, database.prepare, database.dialect),
      },
      beatRows,
      lookups,
      announceChange: async (trx, appId) => {
        await changes?.announce(trx, appId);
      },
      liveness,
      authority,
      appIdPrefix: `${tld}.${registry}`,
      registryKey: key,
      adminToken,
      admissionToken: options.admissionToken ?? null,
      replay,
      freshnessSeconds: options.freshnessSeconds ?? DEFAULT_FRESHNESS_SECONDS,
      heartbeatIntervalSeconds,
      instanceKeyGraceSeconds: options.instanceKeyGraceSeconds ?? KEY_GRACE_SECONDS,
      instanceQuotas: { ...DEFAULT_INSTANCE_QUOTAS, ...options.instanceQuotas },
      defaultBillingUrl: options.defaultBillingUrl ?? null,
      defaultLoggingUrl: options.defaultLoggingUrl ?? null,
      egress,
      trust,
      migrationContestSeconds: options.migrationContestSeconds ?? MIGRATION_CONTEST_SECONDS,
      migrationDnsGraceSeconds: options.migrationDnsGraceSeconds ?? MIGRATION_DNS_GRACE_SECONDS,
      publicUrl: '',
      dnsPort: null,
      settleBroadcasts: async (trx) => {
        const receivers = queuedBroadcasts(trx);
        if (receivers) await delivery?.settle(retry.settleMs ?? 1000, receivers);
      },
      broadcastQueueCap: retry.queueCapPerApp ?? 10_000,
      kickBroadcasts: () => delivery?.kick(),
      observeProviderBeats: (accepted, refused) => metrics.providerBeats(accepted, refused),
    };

    const app = createHttpApp({
      name: 'registry',
      ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
      metrics: metrics.part,
      metricsAccess: { ...options.metrics, tokens: [adminToken, ...(options.metrics?.tokens ?? [])] },
      checks: {
        database: () => sql`select 1`.execute(database.db),
        ...(redis ? { redis: () => redis.ping() } : {}),
      },
    });
    metrics.watch(app);
    log = app.log;
    registerRoutes(app, ctx);
    shutdown.onStop(() => app.close());

    if (options.dnsPort !== false) {
      const dns = await startDnsServer({
        host,
        port: options.dnsPort ?? 0,
        authority,
        source: storageZoneSource(ctx),
        logger: app.log,
        observe: metrics.dns,
        ...(options.dnsLimits ? { limits: options.dnsLimits } : {}),
        ...(options.dnsNameServers ? { nameServers: options.dnsNameServers } : {}),
        ...(options.dnsAddressTargets ? { addressTargets: options.dnsAddressTargets } : {}),
        dnssecKeys: await dnssecKeys(database.db, options),
        ...(options.dnsAllowTransfer ? { allowTransfer: options.dnsAllowTransfer } : {}),
      });
      ctx.dnsPort = dns.port;
      shutdown.onStop(() => dns.close());
    }

    const { publicUrl: url } = await listenApp(app, { host, port: options.port ?? 0, publicUrl: options.publicUrl });
    ctx.publicUrl = url.replace(/\/+$/, '');

    const loop = new BroadcastDelivery(ctx, {
      initialMs: retry.initialMs ?? 500,
      maxMs: retry.maxMs ?? 60_000,
      pollMs: retry.pollMs ?? 1000,
      timeoutMs: retry.timeoutMs ?? 5000,
      giveUpAfterSeconds: retry.giveUpAfterSeconds ?? 3 * 86400,
      laneConcurrency: retry.laneConcurrency ?? 4,
      maxLanes: retry.maxLanes ?? 64,
      failuresToOpen: retry.failuresToOpen ?? 5,
      logger: app.log,
      egress: outbound,
      tracing: () => observedOf(app).tracing(),
    });
    delivery = loop;
    loop.start();
    shutdown.onStop(() => loop.stop());
    liveness.start(nowSeconds);
    // Registered last, stopped first: the beats memory holds reach the rows while the database is open.
    shutdown.onStop(() => liveness.stop());

    return {
      url,
      authority,
      publicKey: key.publicKey,
      adminToken,
      dnsPort: ctx.dnsPort,
      trust,
      app,
      internals: { lookups, liveness, changes },
      close: () => shutdown.close(),
    };
  });
}
