import type { ReplayStore, SigningKey, TrustedRegistries } from '@swarm/protocol';
import type { Dialect, EgressPolicy } from '@swarm/runtime';
import type { AppLookups } from './app-lookups.js';
import type { Liveness } from './liveness.js';
import type { InstanceQuotas } from './routes/bindings.js';
import type { AppReads } from './storage/apps.js';
import type { BeatRows, BindingReads } from './storage/bindings.js';
import type { Executor, RegistryDb } from './storage/schema.js';

/** Everything a route needs, built once by startRegistry. */
export interface RegistryContext {
  db: RegistryDb;
  dialect: Dialect;
  /** The reads every lookup makes, compiled once; writes and transactions use `db`. */
  reads: { apps: AppReads; bindings: BindingReads };
  /** The rows beats are written to, many to a transaction (storage/bindings.ts). */
  beatRows: BeatRows;
  /** Service DNS answers of the current second (app-lookups.ts): JSON over HTTP, instances and encoded replies for DNS, per app. */
  lookups: AppLookups;
  /**
   * In a transaction changing an app's lookups: tells the other replicas (PostgreSQL NOTIFY, sent
   * only if the transaction commits). This process drops its own answers after the commit.
   */
  announceChange(trx: Executor, appId: string): Promise<void>;
  /** Last beats in memory, health transitions written (liveness.ts). */
  liveness: Liveness;
  authority: string;
  /** `<tld>` and `<registry>` labels of the authority, the first two labels of every app_id. */
  appIdPrefix: string;
  registryKey: SigningKey;
  adminToken: string;
  admissionToken: string | null;
  replay: ReplayStore;
  freshnessSeconds: number;
  heartbeatIntervalSeconds: number;
  /** SPEC §10.1: how long a rotated-out instance key still verifies (default KEY_GRACE_SECONDS). */
  instanceKeyGraceSeconds: number;
  /** Active instances per app and per namespace, by tier (routes/bindings.ts). */
  instanceQuotas: InstanceQuotas;
  defaultBillingUrl: string | null;
  defaultLoggingUrl: string | null;
  /** Which URLs owners may set (backbone, auth provider); broadcasts are sent under it too. */
  egress: EgressPolicy;
  /**
   * Peer registries this one trusts (docs/REGISTRY.md, "Migration"): exports and successors are
   * checked against their keys, and only a listed registry may be a migration's source or target.
   * Replaced whole at run time (`--trust FILE` followed live, `PUT /v1/admin/trust`).
   */
  trust: TrustedRegistries;
  /** Without a Guardian approval or the source's release, activation waits this long for a veto (default 72 h). */
  migrationContestSeconds: number;
  /** How long a released app's old zone answers a DNAME to its new zone (default 30 days). */
  migrationDnsGraceSeconds: number;
  /** What peers use to reach this registry; filled in once HTTP listens. */
  publicUrl: string;
  /** Filled in once the DNS server listens. */
  dnsPort: number | null;
  /**
   * After `trx` committed: gives the broadcasts it queued their first attempt (bounded wait);
   * nothing to do, and no outbox scan, when it queued none.
   */
  settleBroadcasts(trx: Executor): Promise<void>;
  /** Rows an app may have waiting for delivery; a change that would queue more is `429 rate_limited`. */
  broadcastQueueCap: number;
  /** Starts a delivery pass now (after dead letters were put back in the queue). */
  kickBroadcasts(): void;
  /** Counts the instance beats of a provider heartbeat (metrics). */
  observeProviderBeats(accepted: number, refused: number): void;
}

/** Migration defaults (docs/REGISTRY.md, "Migration"): the contest window, the old zone's DNAME, stale instances. */
export const MIGRATION_CONTEST_SECONDS = 72 * 3600;
export const MIGRATION_DNS_GRACE_SECONDS = 30 * 86400;
export const MIGRATION_STALE_SECONDS = 7 * 86400;
/** SPEC §10.1: the old instance key stays valid this long after a rotation. */
export const KEY_GRACE_SECONDS = 300;
/** SPEC §4.3: a replaced Auth key stays in the JWKS this long unless the delegation says otherwise. */
export const DEFAULT_RETIRE_PREVIOUS_AFTER = 300;
/** SPEC §5.2: a developer proof may be this old when its binding lands (a `202` retry). */
export const DEVELOPER_PROOF_MAX_AGE = 15 * 60;
/** SPEC §9.2: missing this many heartbeat intervals makes an instance unhealthy. */
export const MISSED_HEARTBEATS = 3;
