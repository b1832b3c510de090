import { z } from 'zod';
import { type ErrorCode, SwarmError } from './errors.js';
import {
  AppIdString,
  BindingRecord,
  CatalogEntry,
  HttpUrl,
  LogEntry,
  Namespace,
  OperationalContext,
  ProjectSlug,
  PublicKey,
  RegionName,
  ServiceId,
  ServiceType,
  StorageGb,
  TierName,
  Timestamp,
} from './schemas.js';

/*
 * One schema per answer body a Swarm part sends (SPEC §4–§11 and the extensions in
 * docs/PROTOCOL.md); the servers build answers typed by the inferred types, the clients parse
 * what they receive with the schemas. Answer objects are not strict: a peer of a later profile
 * may add a field, and a reader keeps what it knows (unknown fields are dropped when parsed).
 */

/** `{ code, message }` of a failed instance; the code is kept as sent, a reader maps unknown ones. */
export const ErrorDetail = z.object({ code: z.string().max(64), message: z.string().max(4096) });

// §4.1 and §10.3: the namespace record, also the answer of a rotation or a recovery.
export const NamespaceRecord = z.object({
  namespace: Namespace,
  public_key: PublicKey,
  guardian_public_keys: z.array(PublicKey),
  status: z.string().max(32),
  created_at: Timestamp,
});

// §4.2
export const AppRegistration = z.object({
  app_id: AppIdString,
  owner_namespace: Namespace,
  project_slug: ProjectSlug,
  display_name: z.string().max(200),
  status: z.string().max(32),
  created_at: Timestamp,
});
/** `GET /v1/apps/{app_id}`: what anyone may know about an app (public keys and URLs only). */
export const AppRecord = AppRegistration.extend({
  description: z.string().max(2000).nullable().optional(),
  config_epoch: z.int().min(0),
  auth: OperationalContext.shape.auth,
  billing_provider_url: HttpUrl.nullable(),
  logging_service_url: HttpUrl.nullable(),
  services: z.record(z.string().max(63), HttpUrl),
});

/** `GET /v1/namespaces/{ns}/apps`: one page of a namespace's apps; `next` is the `after` of the next page. */
export const NamespaceAppsAnswer = z.object({
  namespace: Namespace,
  apps: z
    .array(
      z.object({
        app_id: AppIdString,
        project_slug: ProjectSlug,
        display_name: z.string().max(200),
        status: z.string().max(32),
        created_at: Timestamp,
        config_epoch: z.int().min(0),
      }),
    )
    .max(1000),
  next: AppIdString.nullable(),
});
export type NamespaceAppsAnswer = z.infer<typeof NamespaceAppsAnswer>;

/** §4.3 step 3 and §10.2: the app's new configuration epoch. */
export const ConfigEpochAnswer = z.object({ app_id: AppIdString, config_epoch: z.int().min(0) });

// §4.3 step 2
export const AuthProvisionAnswer = z.object({
  app_id: AppIdString,
  auth_public_key: PublicKey,
  service_public_key: PublicKey,
  auth_provider_url: HttpUrl,
});

// §5.1: the provisioning answer and the status document; `error` only when `failed`.
export const ProvisionAnswer = z.object({
  service_id: ServiceId,
  status: z.enum(['active', 'binding', 'failed', 'revoked']),
  endpoint_url: HttpUrl.optional(),
  app_id: AppIdString,
  service_type: ServiceType,
  service_tier: TierName.optional(),
  region: RegionName.optional(),
  storage_limit_gb: StorageGb.optional(),
  bound_at: Timestamp.optional(),
  status_url: HttpUrl.optional(),
  error: ErrorDetail.optional(),
});
/** §5.1 `201`: a bound instance, with all its terms. */
export const ProvisionedInstance = ProvisionAnswer.extend({
  status: z.literal('active'),
  endpoint_url: HttpUrl,
  service_tier: TierName,
  region: RegionName,
  storage_limit_gb: StorageGb,
  bound_at: Timestamp,
});

// §6
export const RegistryInfo = z.object({
  authority: z.string().max(127),
  public_key: PublicKey,
  version: z.string().max(16),
  /** null when the registry serves no DNS. */
  dns_port: z.int().min(0).max(65535).nullable(),
});
export const MasterKeyRecord = z.object({
  app_id: AppIdString,
  namespace: Namespace,
  public_key: PublicKey,
  status: z.string().max(32),
});
/** A Service DNS record over HTTP: the binding, its health, and a rotated key still in its grace period. */
export const ServiceRecord = z.object({
  ...BindingRecord.shape,
  health: z.enum(['healthy', 'unhealthy']).optional(),
  last_heartbeat_at: Timestamp.optional(),
  /** The last change of the instance's terms or key (its binding time when none since). */
  updated_at: Timestamp.optional(),
  previous_public_key: PublicKey.optional(),
  previous_key_expires_at: Timestamp.optional(),
});
export const ServicesAnswer = z.object({ app_id: AppIdString, records: z.array(ServiceRecord) });
export const CatalogAnswer = z.object({ services: z.array(CatalogEntry) });
/**
 * One audit-log entry: the chain fields; the rest depends on the event and is kept as sent. The
 * chain fields are only typed here: whether they hold is `verifyAuditChain`'s verdict to give.
 */
export const AuditEntry = z.looseObject({
  seq: z.number(),
  at: z.number(),
  event: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
});
/** One page of the log: `next` is the seq to ask after (a string), null at the head. */
export const AuditLogAnswer = z.object({ entries: z.array(AuditEntry), next: z.string().nullable().optional() });

// The registry's broadcast outbox as an app's owner sees it (docs/REGISTRY.md).
export const BroadcastState = z.enum(['pending', 'dead', 'delivered']);
export const BroadcastView = z.object({
  id: z.string(),
  url: z.string(),
  event: z.unknown(),
  state: BroadcastState,
  attempts: z.int(),
  created_at: z.int(),
  /** Unix seconds of the next attempt (pending rows). */
  next_attempt_at: z.int().nullable(),
  delivered_at: z.int().nullable(),
  dead_at: z.int().nullable(),
  last_error: z.string().nullable(),
});
export const BroadcastPage = z.object({
  app_id: z.string(),
  state: BroadcastState,
  broadcasts: z.array(BroadcastView),
  next: z.string().nullable(),
});
export const BroadcastRetryAnswer = z.object({ app_id: z.string(), retried: z.int().min(0) });
export type BroadcastState = z.infer<typeof BroadcastState>;
export type BroadcastView = z.infer<typeof BroadcastView>;
export type BroadcastPage = z.infer<typeof BroadcastPage>;
export type BroadcastRetryAnswer = z.infer<typeof BroadcastRetryAnswer>;

// §9.2
export const HeartbeatAnswer = z.object({ config_epoch: z.int().min(0) });
/** One entry of a provider heartbeat: its app's epoch, or why it was not taken (in the order sent). */
export const ProviderBeatResult = z.union([
  z.object({ app_id: z.string(), service_id: z.string(), config_epoch: z.int().min(0) }),
  z.object({ app_id: z.string(), service_id: z.string(), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export const ProviderHeartbeatAnswer = z.object({ results: z.array(ProviderBeatResult) });

// §10.1
export const KeyRotationAnswer = z.object({
  app_id: AppIdString,
  service_id: ServiceId,
  public_key: PublicKey,
  previous_public_key: PublicKey,
  previous_key_expires_at: Timestamp,
});

// §11: `revoked` is false when the instance was already revoked (the call is idempotent).
export const DecommissionAnswer = z.object({ binding: BindingRecord, revoked: z.boolean() });

// Day two (docs/PROTOCOL.md): an instance update as its provider reports it (`PATCH` answer and
// status document) and as the registry recorded it; an app's retirement.
export const InstanceUpdateAnswer = z.object({
  update_id: z.string().regex(/^[0-9a-f]{32}$/),
  service_id: ServiceId,
  app_id: AppIdString,
  status: z.enum(['pending', 'applied', 'failed']),
  service_tier: TierName,
  region: RegionName,
  storage_limit_gb: StorageGb,
  requested_at: Timestamp,
  applied_at: Timestamp.optional(),
  status_url: HttpUrl.optional(),
  error: ErrorDetail.optional(),
});
export const UpdateBindingAnswer = z.object({ update_id: z.string().regex(/^[0-9a-f]{32}$/), binding: BindingRecord });
/** `audit_seq`: the `app_retired` entry, the operation's id (docs/PROTOCOL.md, "Reading back what exists"). */
export const AppRetirementAnswer = z.object({
  app_id: AppIdString,
  status: z.literal('retired'),
  retired_at: Timestamp,
  audit_seq: z.int().min(1).optional(),
});
/** An app's display data changed: the public record, and the seq of its `app_updated` audit entry (the operation id). */
export const AppUpdateAnswer = AppRecord.extend({ audit_seq: z.int().min(1) });

// Moving an instance with its data (docs/DATA-TRANSFER.md).
/** How many items an instance holds and the SHA-256 over their export records, in export order. */
export const TransferSummary = z.object({ items: z.number().int().min(0), digest: z.string().regex(/^[0-9a-f]{64}$/) });
/** One page of an instance's data in the `swarm-data/1` format; `summary` only on the last page. */
export const DataPageAnswer = z.object({
  format: z.literal('swarm-data/1'),
  service_type: ServiceType,
  service_id: ServiceId,
  items: z.array(z.record(z.string(), z.unknown())).max(10_000),
  next_cursor: z.string().min(1).max(4096).nullable(),
  summary: TransferSummary.optional(),
});
/** A transfer as the new provider runs it: `GET {provision_url}/{new_service_id}/import`. */
export const MoveStatusAnswer = z.object({
  move_id: z.string().regex(/^[0-9a-f]{32}$/),
  app_id: AppIdString,
  service_id: ServiceId,
  source_service_id: ServiceId,
  source_provider: z.string().max(253),
  status: z.enum(['running', 'done', 'failed']),
  items_copied: z.number().int().min(0),
  pages: z.number().int().min(0),
  /** Items that had been copied when the transfer last resumed; null when it never stopped. */
  resumed_from_items: z.number().int().min(0).nullable(),
  source: TransferSummary.nullable(),
  imported: TransferSummary.nullable(),
  started_at: Timestamp,
  finished_at: Timestamp.nullable(),
  status_url: HttpUrl,
  error: ErrorDetail.optional(),
});

// Delegated keys (docs/PROTOCOL.md): a grant as the registry keeps it, and lists of them.
export const DelegationRecord = z.object({
  delegation_id: z.string().regex(/^[0-9a-f]{32}$/),
  namespace: Namespace,
  public_key: PublicKey,
  apps: z.array(AppIdString),
  actions: z.array(z.string().max(32)),
  expires_at: Timestamp,
  created_at: Timestamp,
  revoked_at: Timestamp.nullable(),
  status: z.enum(['active', 'expired', 'revoked']),
});
export const DelegationsAnswer = z.object({ delegations: z.array(DelegationRecord) });

// §9.3, read by the owner: Billing's summary and Logging's entries.
export const UsageSummary = z.object({
  app_id: AppIdString,
  service_id: ServiceId.optional(),
  /** Accepted reports (a repeated nonce counts once). */
  reports: z.int().min(0),
  /** The span the reports cover, or null before the first one. */
  period: z.object({ start: Timestamp, end: Timestamp }).nullable(),
  /** Per instance and metric. */
  totals: z.array(z.object({ service_id: ServiceId, metric: z.string().max(63), value: z.number() })),
  /** Per metric over the whole app (or the one instance asked for). */
  app_totals: z.array(z.object({ metric: z.string().max(63), value: z.number() })),
});
export const StoredLogEntry = z.object({
  service_id: ServiceId,
  ...LogEntry.shape,
  fields: z.record(z.string(), z.unknown()).optional(),
  received_at: Timestamp,
});
export const LogsAnswer = z.object({ app_id: AppIdString, entries: z.array(StoredLogEntry) });

// Extensions: a user token (owner token and login).
export const TokenAnswer = z.object({
  access_token: z.string().max(8192),
  token_type: z.literal('Bearer'),
  expires_in: z.int().min(0),
});

export type ErrorDetail = z.infer<typeof ErrorDetail>;
export type NamespaceRecord = z.infer<typeof NamespaceRecord>;
export type AppRegistration = z.infer<typeof AppRegistration>;
export type AppRecord = z.infer<typeof AppRecord>;
export type ConfigEpochAnswer = z.infer<typeof ConfigEpochAnswer>;
export type AuthProvisionAnswer = z.infer<typeof AuthProvisionAnswer>;
export type ProvisionAnswer = z.infer<typeof ProvisionAnswer>;
export type ProvisionedInstance = z.infer<typeof ProvisionedInstance>;
export type RegistryInfo = z.infer<typeof RegistryInfo>;
export type MasterKeyRecord = z.infer<typeof MasterKeyRecord>;
export type ServiceRecord = z.infer<typeof ServiceRecord>;
export type ServicesAnswer = z.infer<typeof ServicesAnswer>;
export type CatalogAnswer = z.infer<typeof CatalogAnswer>;
export type AuditEntry = z.infer<typeof AuditEntry>;
export type AuditLogAnswer = z.infer<typeof AuditLogAnswer>;
export type HeartbeatAnswer = z.infer<typeof HeartbeatAnswer>;
export type ProviderBeatResult = z.infer<typeof ProviderBeatResult>;
export type ProviderHeartbeatAnswer = z.infer<typeof ProviderHeartbeatAnswer>;
export type KeyRotationAnswer = z.infer<typeof KeyRotationAnswer>;
export type DecommissionAnswer = z.infer<typeof DecommissionAnswer>;
export type InstanceUpdateAnswer = z.infer<typeof InstanceUpdateAnswer>;
export type UpdateBindingAnswer = z.infer<typeof UpdateBindingAnswer>;
export type AppRetirementAnswer = z.infer<typeof AppRetirementAnswer>;
export type AppUpdateAnswer = z.infer<typeof AppUpdateAnswer>;
export type DelegationRecord = z.infer<typeof DelegationRecord>;
export type TransferSummary = z.infer<typeof TransferSummary>;
export type DataPageAnswer = z.infer<typeof DataPageAnswer>;
export type MoveStatusAnswer = z.infer<typeof MoveStatusAnswer>;
export type DelegationsAnswer = z.infer<typeof DelegationsAnswer>;
export type UsageSummary = z.infer<typeof UsageSummary>;
export type StoredLogEntry = z.infer<typeof StoredLogEntry>;
export type LogsAnswer = z.infer<typeof LogsAnswer>;
export type TokenAnswer = z.infer<typeof TokenAnswer>;

/** Any answer schema; lets a caller name the schema without depending on zod itself. */
export type AnswerSchema<T> = z.ZodType<T>;

/**
 * Reads a peer's answer with its schema: the typed value, or a SwarmError (`code`, by default
 * `registry_unavailable`, the code of a peer that answers nothing usable) naming the peer and
 * the first offending field. A malformed answer is the peer's fault, never `invalid_request`.
 */
export function parseAnswer<T>(schema: AnswerSchema<T>, body: unknown, from: string, code: ErrorCode = 'registry_unavailable'): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new SwarmError(code, `${from} answered an unexpected body (${where}: ${issue?.message ?? 'invalid'})`);
}
