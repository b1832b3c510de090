import type { SigningKey } from '@swarm/protocol';
import {
  AppRegistries,
  jsonBody,
  listenApp,
  type ProviderOffer,
  RegistryClient,
  registerApprovedMoveReceiver,
  Shutdown,
  verifyBroadcast,
  watchRoutes,
} from '@swarm/runtime';
import { openPartReplayStore } from '../shared/scoped-replay.js';
import { type BackboneServerOptions, backboneApp, openPartDatabase, resolveOptions, type ServerHandle } from '../shared/server-options.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerAppRoutes } from './app-routes.js';
import { type AuthContext, actOnBroadcast } from './auth-context.js';
import { AuthStore, migrateAuth } from './auth-store.js';
import { LoginThrottle } from './login-throttle.js';
import { authOffer } from './offer.js';
import { unknownUserHash } from './passwords.js';
import { loadOrCreateProviderKey } from './provider-key.js';
import { registerProvision } from './provision.js';
import {
  type BucketStore,
  HashQueue,
  MemoryBucketStore,
  RateLimited,
  type RateLimitRules,
  RateLimits,
  RedisBucketStore,
} from './rate-limits.js';

export interface AuthProviderOptions extends BackboneServerOptions {
  /** The provider's name in the catalog; default `auth.swarm.local`. */
  provider?: string;
  /** Else created once and kept in `<dataDir>/auth-provider-key.pem` (0600). */
  providerKey?: SigningKey;
  /** How long a rotated-out Auth key still verifies; default 300 s. */
  authKeyOverlapSeconds?: number;
  /** Lifetime of login tokens (and the default for owner tokens); default 3600 s. */
  tokenTtlSeconds?: number;
  /** Wrong passwords a username may send in a row before it is locked (1 s, doubling, ≤ 15 min); default 5. */
  loginFreeFailures?: number;
  /** Login and sign-up buckets per client address and per app (docs/OPERATIONS.md has the defaults). */
  rateLimits?: Partial<RateLimitRules>;
  /** Password hashes at once; default the libuv pool size (UV_THREADPOOL_SIZE, else 4). */
  hashConcurrency?: number;
  /** Password hashes waiting for a slot before new ones are shed with 429; default 8 × concurrency. */
  hashQueueLength?: number;
  /** `redis://…`: the rate-limit buckets are shared by every replica through it. */
  redisUrl?: string;
}

export interface AuthProviderHandle extends ServerHandle, ProviderOffer {
  provider: string;
  /** The provider key's public half, `ed25519:…`. */
  publicKey: string;
}

/**
 * The Auth Provider, the apps' trust anchor (SPEC §4.3, §8): one user store, Auth key pair and
 * token issuer per app under `<url>/apps/<app_id>`.
 *
 * @example
 * const auth = await startAuthProvider({ port: 0, dataDir, trustedRegistries: [registry] });
 * await auth.registerOffer(registry.url, registry.adminToken);
 */
export function startAuthProvider(options: AuthProviderOptions): Promise<AuthProviderHandle> {
  return openAuthProvider(options);
}

async function openAuthProvider(options: AuthProviderOptions): Promise<AuthProviderHandle> {
  const resolved = resolveOptions(options);
  const provider = options.provider ?? 'auth.swarm.local';
  const overlapSeconds = options.authKeyOverlapSeconds ?? 300;
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  if (!Number.isSafeInteger(overlapSeconds) || overlapSeconds < 0) throw new Error('authKeyOverlapSeconds must be an integer ≥ 0');
  if (!Number.isSafeInteger(tokenTtlSeconds) || tokenTtlSeconds < 60) throw new Error('tokenTtlSeconds must be an integer ≥ 60');
  const providerKey = options.providerKey ?? (await loadOrCreateProviderKey(options.dataDir));
  const shutdown = new Shutdown();
  return shutdown.start(async () => {
    const database = openPartDatabase(options, 'auth.db');
    shutdown.onRelease(() => database.close());
    const buckets: BucketStore = options.redisUrl ? await RedisBucketStore.open(options.redisUrl) : new MemoryBucketStore();
    shutdown.onRelease(async () => buckets.close?.());
    await migrateAuth(database.db);
    // The first login of an unknown user should not be the one that pays for the dummy hash.
    unknownUserHash().catch(() => {});
    const replay = await openPartReplayStore(database.db, 'auth');
    // Apps that moved to another registry resolve there (docs/BACKBONE.md, "After a migration").
    const registry = new RegistryClient(resolved.trusted, { successors: await AppRegistries.open(database.db) });
    await registry.load();
    const { app, metrics } = backboneApp('auth', options, database, resolved);
    const provisionings = metrics.counter(
      'swarm_provisionings_total',
      'Provisioning requests answered, by outcome (active, existing, error code)',
      ['outcome'],
    );
    watchRoutes(app, {
      'POST /v1/provision': (status, error) => provisionings.inc({ outcome: error ?? (status === 201 ? 'active' : 'existing') }),
    });
    shutdown.onStop(() => app.close());
    let url = '';
    const context: AuthContext = {
      app,
      store: new AuthStore(database.db),
      registry,
      replay,
      provider,
      providerKey,
      freshnessSeconds: resolved.freshnessSeconds,
      overlapSeconds,
      tokenTtlSeconds,
      loginThrottle: new LoginThrottle({ freeFailures: options.loginFreeFailures ?? 5 }),
      rateLimits: new RateLimits(buckets, options.rateLimits),
      hashQueue: new HashQueue({
        ...(options.hashConcurrency === undefined ? {} : { concurrency: options.hashConcurrency }),
        ...(options.hashQueueLength === undefined ? {} : { maxWaiting: options.hashQueueLength }),
      }),
      baseUrl: () => url,
    };
    app.addHook('onError', async (_request, reply, error) => {
      if (error instanceof RateLimited) reply.header('retry-after', String(error.retryAfterSeconds));
    });
    registerProvision(context);
    registerAppRoutes(context);
    registerAdminRoutes(context);
    app.post('/v1/events', async (request, reply) => {
      await actOnBroadcast(context, await verifyBroadcast(registry, jsonBody(request), replay));
      reply.code(202).send({ accepted: true });
    });
    registerApprovedMoveReceiver(app, registry);
    url = (await listenApp(app, { host: resolved.host, port: resolved.port, publicUrl: options.publicUrl })).publicUrl;
    return {
      url,
      app,
      provider,
      publicKey: providerKey.publicKey,
      ...authOffer(provider, url, providerKey),
      close: () => shutdown.close(),
    };
  });
}
