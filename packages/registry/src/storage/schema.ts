import type { Kysely, Transaction } from 'kysely';

/** Unix seconds come back as strings from PostgreSQL's bigint; rows are read through Number(). */
type Seconds = number | string;

export interface SettingsTable {
  name: string;
  value: string;
}

export interface NamespacesTable {
  namespace: string;
  public_key: string;
  /** JSON array, fixed at the genesis claim (SPEC §10.3). */
  guardian_public_keys: string;
  /** JSON array of replaced Master keys: a replayed rotation signed by one is told apart from a forgery. */
  former_public_keys: string;
  contact_email: string;
  metadata: string | null;
  status: string;
  created_at: Seconds;
  updated_at: Seconds;
}

export interface AppsTable {
  app_id: string;
  /** The reversed app_id without the trailing dot: what Service DNS looks up. */
  zone: string;
  owner_namespace: string;
  project_slug: string;
  display_name: string;
  description: string | null;
  status: string;
  created_at: Seconds;
  config_epoch: Seconds;
  auth_provider_url: string | null;
  auth_public_key: string | null;
  auth_previous_public_key: string | null;
  auth_previous_expires_at: Seconds | null;
  billing_provider_url: string | null;
  logging_service_url: string | null;
  /** JSON object name → URL (SPEC §10.2). */
  services: string;
  /** Head of the audit chain, kept on the row that every app change locks first. */
  log_seq: Seconds;
  log_hash: string;
  /** Status `migrated`: the signed successor envelope (JSON) every write is answered with. */
  successor: string | null;
}

export interface CatalogTable {
  provider: string;
  service_type: string;
  public_key: string;
  events_url: string;
  /** The catalog entry as JSON, without timestamp and nonce. */
  entry: string;
  created_at: Seconds;
  updated_at: Seconds;
}

export interface BindingsTable {
  app_id: string;
  service_id: string;
  provider: string;
  service_type: string;
  endpoint_url: string;
  public_key: string;
  previous_public_key: string | null;
  previous_key_expires_at: Seconds | null;
  service_tier: string | null;
  region: string | null;
  storage_limit_gb: Seconds | null;
  bound_at: Seconds;
  status: string;
  /** SHA-256 of the developer proof's canonical payload: a proof binds at most one instance. */
  proof_hash: string;
  last_heartbeat_at: Seconds;
  heartbeat_status: string | null;
  revoked_at: Seconds | null;
}

export interface AuditLogTable {
  app_id: string;
  seq: Seconds;
  at: Seconds;
  event: string;
  /** The whole entry as JSON, hash included. */
  entry: string;
  hash: string;
}

export interface OutboxTable {
  id: string;
  app_id: string;
  url: string;
  /** Broadcast data without its timestamp: it is signed afresh at each attempt. */
  data: string;
  created_at: Seconds;
  attempts: Seconds;
  /** Milliseconds. */
  next_attempt_at: Seconds;
  delivered_at: Seconds | null;
  last_error: string | null;
  /** The destination origin: rows are delivered one lane per receiver. */
  receiver: string;
  /** Set when the row failed for good (a permanent answer, or undelivered too long): the owner may retry it. */
  dead_at: Seconds | null;
}

export interface BindingUpdatesTable {
  /** The first 32 hex of SHA-256 over the owner's canonical update payload. */
  update_id: string;
  app_id: string;
  service_id: string;
  service_tier: string;
  region: string | null;
  storage_limit_gb: Seconds;
  at: Seconds;
}

export interface AppRetirementsTable {
  app_id: string;
  owner_namespace: string;
  project_slug: string;
  retired_at: Seconds;
}

export interface DelegationsTable {
  /** The first 32 hex of SHA-256 over the Master-signed grant's canonical data. */
  delegation_id: string;
  namespace: string;
  public_key: string;
  /** JSON arrays of app ids and action names. */
  apps: string;
  actions: string;
  expires_at: Seconds;
  created_at: Seconds;
  revoked_at: Seconds | null;
}

export interface MigrationImportsTable {
  app_id: string;
  /** The source registry's authority. */
  source: string;
  state: string;
  path: string;
  /** The signed export and the Proof of Continuity as received (JSON). */
  export: string;
  proof: string;
  proof_digest: string;
  /** The Guardian key that co-signed the proof at prepare, if one did. */
  guardian_key: string | null;
  /** JSON array: the instances prepare imported. */
  service_ids: string;
  /** 1 when prepare created the namespace (an abort deletes it again). */
  created_namespace: number;
  /** JSON array: catalog entries prepare added. */
  created_providers: string;
  /** The source's signed successor naming this registry, once seen (JSON). */
  successor: string | null;
  contest_ends_at: Seconds | null;
  prepared_at: Seconds;
  activated_at: Seconds | null;
  /** When it was aborted or vetoed. */
  ended_at: Seconds | null;
}

export interface RegistryTables {
  registry_settings: SettingsTable;
  namespaces: NamespacesTable;
  apps: AppsTable;
  catalog: CatalogTable;
  bindings: BindingsTable;
  audit_log: AuditLogTable;
  broadcast_outbox: OutboxTable;
  binding_updates: BindingUpdatesTable;
  app_retirements: AppRetirementsTable;
  delegations: DelegationsTable;
  migration_imports: MigrationImportsTable;
}

export type RegistryDb = Kysely<RegistryTables>;
export type Executor = Kysely<RegistryTables> | Transaction<RegistryTables>;
