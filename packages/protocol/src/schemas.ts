import { z } from 'zod';
import { isAppId, NAMESPACE_PATTERN } from './app-id.js';
import { SwarmError } from './errors.js';
import { isWirePublicKey } from './keys.js';

/*
 * One schema per SPEC message; the TypeScript types are inferred from them. Every object is
 * strict, so an unknown field is `invalid_request` and never reaches signed bytes unnoticed.
 */

export const Timestamp = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const Nonce = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'nonce must be 8–64 of [A-Za-z0-9_-]');
export const PublicKey = z.string().max(64).refine(isWirePublicKey, 'public key must be ed25519:<base64url of 32 bytes>');
export const SignatureHex = z.string().regex(/^[0-9a-f]{128}$/, 'signature must be 128 lowercase hex characters');
/** Format is checked later, in order, as `invalid_app_id` (SPEC §2). */
export const AppIdString = z.string().max(300);
export const Namespace = z.string().regex(NAMESPACE_PATTERN, 'namespace must be 1–63 of [a-z0-9_-]');
export const ProjectSlug = Namespace;
export const ServiceType = z.string().regex(/^[a-z][a-z0-9-]{1,62}$/, 'service_type must match [a-z][a-z0-9-]{1,62}');
export const ServiceId = z.string().regex(/^[a-z0-9][a-z0-9-]{2,127}$/, 'service_id must match [a-z0-9][a-z0-9-]{2,127}');
export const ProviderName = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'provider must be a DNS name');
/**
 * URLs judged lately, by their text: parsing is the dearest check of an operational context,
 * which names the same few URLs in every answer. The judgement depends on the text alone.
 */
const judgedUrls = new Map<string, boolean>();
const JUDGED_URLS_LIMIT = 2000;

function isHttpUrl(value: string): boolean {
  let ok = judgedUrls.get(value);
  if (ok !== undefined) return ok;
  try {
    const url = new URL(value);
    ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
  } catch {
    ok = false;
  }
  if (judgedUrls.size >= JUDGED_URLS_LIMIT) judgedUrls.clear();
  judgedUrls.set(value, ok);
  return ok;
}

export const HttpUrl = z.string().max(2048).refine(isHttpUrl, 'must be an http(s) URL');
export const TierName = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'tier must be 1–63 of [a-z0-9_.-]');
export const RegionName = TierName;
export const StorageGb = z.int().min(0).max(1_000_000);

const signed = <T extends z.ZodType>(data: T) => z.strictObject({ version: z.string().max(16), data, signature: SignatureHex });

// §4.1
export const NamespaceClaimData = z.strictObject({
  public_key: PublicKey,
  guardian_public_keys: z.array(PublicKey).min(1).max(5),
  namespace_claim: Namespace,
  contact_email: z.email().max(254),
  metadata: z.strictObject({ website: HttpUrl.optional(), organization: z.string().max(200).optional() }).optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const NamespaceClaim = signed(NamespaceClaimData);

// §4.2
export const AppManifestData = z.strictObject({
  owner_namespace: Namespace,
  project_slug: ProjectSlug,
  display_name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const AppManifest = z.strictObject({
  version: z.string().max(16),
  data: AppManifestData,
  signature: SignatureHex,
  public_key_hint: z.string().max(200).optional(),
});

// §4.3 step 1 and §5.1: one request shape; tier and region are what domain services need.
export const ProvisionData = z.strictObject({
  app_id: AppIdString,
  target_provider: ProviderName,
  service_tier: TierName.optional(),
  region: RegionName.optional(),
  storage_limit_gb: StorageGb.optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const ProvisionRequest = signed(ProvisionData);

// §4.3 step 3
export const DelegateAuthorityData = z.strictObject({
  action: z.literal('DELEGATE_AUTHORITY'),
  app_id: AppIdString,
  auth_public_key: PublicKey,
  auth_provider_url: HttpUrl,
  retire_previous_after: z
    .int()
    .min(0)
    .max(30 * 86400)
    .optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const DelegateAuthority = signed(DelegateAuthorityData);

// §5.2
export const ServiceBinding = z.strictObject({
  service_id: ServiceId,
  service_type: ServiceType,
  public_key: PublicKey,
  endpoint_url: HttpUrl,
  timestamp: Timestamp,
  nonce: Nonce,
});
export const DeveloperProof = z.strictObject({ payload: ProvisionData, signature: SignatureHex });
export const BindingRequest = z.strictObject({
  version: z.string().max(16),
  developer_proof: DeveloperProof,
  service_binding: ServiceBinding,
  binding_signature: SignatureHex,
});

// §5.3
/** `exp` (an extension, docs/PROTOCOL.md): when a retiring Auth key stops being valid, Unix seconds. */
export const Jwk = z.strictObject({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().max(64),
  kid: z.string().max(64),
  exp: Timestamp.optional(),
});
export const OperationalContext = z.strictObject({
  app_id: AppIdString,
  config_epoch: z.int().min(0),
  issued_at: Timestamp,
  auth: z
    .strictObject({
      auth_provider_url: HttpUrl,
      issuer: HttpUrl,
      audience: AppIdString,
      jwks: z.strictObject({ keys: z.array(Jwk).max(16) }),
    })
    .nullable(),
  billing_provider_url: HttpUrl.nullable(),
  logging_service_url: HttpUrl.nullable(),
  services: z.record(z.string().max(63), HttpUrl),
  registry: z.strictObject({ authority: z.string().max(127), public_key: PublicKey }),
});
export const BindingRecord = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  service_type: ServiceType,
  provider: ProviderName,
  endpoint_url: HttpUrl,
  public_key: PublicKey,
  service_tier: TierName.nullable(),
  region: RegionName.nullable(),
  storage_limit_gb: StorageGb.nullable(),
  bound_at: Timestamp,
  /** `imported`: carried over by a registry migration, not yet re-bound (docs/PROTOCOL.md, "Registry migration"). */
  status: z.enum(['active', 'revoked', 'imported']),
});
export const SignedContext = z.object({ operational_context: OperationalContext, context_signature: SignatureHex });
export const BindingAnswer = z.object({
  binding: BindingRecord,
  operational_context: OperationalContext,
  context_signature: SignatureHex,
});

// §6 catalog
export const Tier = z.strictObject({
  name: TierName,
  storage_limit_gb_max: StorageGb,
  storage_limit_gb_default: StorageGb,
});
export const CatalogEntry = z.strictObject({
  service_type: ServiceType,
  provider: ProviderName,
  provision_url: HttpUrl,
  events_url: HttpUrl,
  public_key: PublicKey,
  tiers: z.array(Tier).min(1).max(32),
  regions: z.array(RegionName).min(1).max(64),
  description: z.string().max(2000),
});
export const OfferData = CatalogEntry.extend({ timestamp: Timestamp, nonce: Nonce });
export const Offer = signed(OfferData);

// §9.1–9.2
export const ServiceCallData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  timestamp: Timestamp,
  nonce: Nonce,
});
export const ServiceCall = signed(ServiceCallData);
export const HeartbeatData = ServiceCallData.extend({ status: z.enum(['ok', 'degraded']).optional() });
export const Heartbeat = signed(HeartbeatData);

/** Instances one provider heartbeat may carry: 500 entries of a long app_id stay within 64 KiB. */
export const MAX_PROVIDER_BEATS = 500;
export const ProviderBeat = z.strictObject({ app_id: AppIdString, service_id: ServiceId, status: z.enum(['ok', 'degraded']) });
/** Batched liveness (docs/PROTOCOL.md): one signature by the provider's catalog key for many instances. */
export const ProviderHeartbeatData = z.strictObject({
  provider: ProviderName,
  timestamp: Timestamp,
  nonce: Nonce,
  beats: z.array(ProviderBeat).min(1).max(MAX_PROVIDER_BEATS),
});
export const ProviderHeartbeat = signed(ProviderHeartbeatData);

// §9.3
export const UsageData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  period_start: Timestamp,
  period_end: Timestamp,
  metrics: z.record(z.string().regex(/^[a-z][a-z0-9_.]{0,62}$/), z.number().finite().min(0)),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const UsageReport = signed(UsageData);
export const LogEntry = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error', 'fatal']),
  message: z.string().max(4096),
  at: Timestamp,
  fields: z.record(z.string().max(63), z.union([z.string().max(1024), z.number(), z.boolean(), z.null()])).optional(),
});
export const LogsData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  entries: z.array(LogEntry).min(1).max(500),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const LogsReport = signed(LogsData);

// Registry migration (docs/PROTOCOL.md, "Registry migration"): the source registry's signed
// successor, declared here because the APP_MIGRATED broadcast carries it; the rest of the
// migration messages are in migration.ts.
/** `<registry>.<tld>`, as a trust table names registries. */
export const Authority = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'authority must be <registry>.<tld>');
/** base64url SHA-256, unpadded (43 characters). */
export const Digest = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'digest must be the base64url SHA-256 (43 characters)');
export const MigrationSuccessorData = z.strictObject({
  app_id: AppIdString,
  previous_registry: Authority,
  successor: Authority,
  successor_url: HttpUrl,
  released_at: Timestamp,
  proof_digest: Digest,
  audit_head: z.strictObject({ seq: z.int().min(0), hash: z.string().regex(/^[0-9a-f]{64}$/, 'hash must be 64 lowercase hex characters') }),
});
export const MigrationSuccessor = signed(MigrationSuccessorData);

// §9.4
const broadcastBase = { origin: z.string().max(127), app_id: AppIdString, timestamp: Timestamp, nonce: Nonce };
export const BroadcastData = z.discriminatedUnion('event', [
  z.strictObject({ ...broadcastBase, event: z.literal('BACKBONE_UPDATE'), config_epoch: z.int().min(0) }),
  z.strictObject({
    ...broadcastBase,
    event: z.literal('KEY_ROTATION'),
    service_id: ServiceId,
    old_public_key: PublicKey,
    new_public_key: PublicKey,
    grace_period_expiry: Timestamp,
  }),
  z.strictObject({ ...broadcastBase, event: z.literal('SERVICE_REVOKED'), service_id: ServiceId }),
  z.strictObject({
    ...broadcastBase,
    event: z.literal('MASTER_KEY_ROTATION'),
    revoked_master_key: PublicKey,
    new_master_public_key: PublicKey,
  }),
  z.strictObject({
    ...broadcastBase,
    event: z.literal('MASTER_IDENTITY_RECOVERY'),
    revoked_master_key: PublicKey,
    new_master_public_key: PublicKey,
  }),
  // The app moved to another registry (docs/PROTOCOL.md, "Registry migration").
  z.strictObject({ ...broadcastBase, event: z.literal('APP_MIGRATED'), successor: MigrationSuccessor }),
]);
export const Broadcast = signed(BroadcastData);

// §10.1
export const KeyRotationData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  new_public_key: PublicKey,
  rotation_timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('key_rotation'),
});
export const KeyRotation = z.strictObject({
  version: z.string().max(16),
  data: KeyRotationData,
  signature: SignatureHex,
  new_key_signature: SignatureHex,
});

// §10.2
export const BackboneUpdateData = z.strictObject({
  app_id: AppIdString,
  operational_context: z.strictObject({
    billing_provider_url: HttpUrl.optional(),
    logging_service_url: HttpUrl.optional(),
    services: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/), HttpUrl).optional(),
  }),
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('backbone_update'),
});
export const BackboneUpdate = signed(BackboneUpdateData);

// §10.3
export const MasterKeyRotationData = z.strictObject({
  namespace: Namespace,
  new_master_public_key: PublicKey,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('master_key_rotation'),
});
export const MasterKeyRotation = z.strictObject({
  version: z.string().max(16),
  data: MasterKeyRotationData,
  signature: SignatureHex,
  new_key_signature: SignatureHex,
});
export const IdentityRecoveryData = z.strictObject({
  namespace: Namespace,
  new_master_public_key: PublicKey,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('identity_recovery'),
});
export const IdentityRecovery = signed(IdentityRecoveryData);

// §11
export const PermanentTerminationData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('permanent_termination'),
  data_handling: z.enum(['wipe', 'retain']),
});
export const PermanentTermination = signed(PermanentTerminationData);
export const TerminationReceiptData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  status: z.literal('success'),
  message: z.string().max(1024),
  receipt_id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  timestamp: Timestamp,
});
export const TerminationReceipt = signed(TerminationReceiptData);
export const DecommissionData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('decommission'),
  provider_receipt: TerminationReceipt.optional(),
});
export const Decommission = signed(DecommissionData);

// Extensions (docs/PROTOCOL.md): owner reads and owner token requests, Master-signed.
export const OwnerQueryData = z.strictObject({
  app_id: AppIdString,
  /**
   * The service the query is meant for: the receiver's base URL as the app's operational context
   * lists it, so a query made for Billing is refused by Logging and the other way round.
   */
  audience: HttpUrl,
  service_id: ServiceId.optional(),
  level: z.enum(['debug', 'info', 'warn', 'error', 'fatal']).optional(),
  since: Timestamp.optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const OwnerQuery = signed(OwnerQueryData);

/** One spelling of a base URL for comparing audiences: what `URL` normalises, no trailing `/`. */
export function audienceOf(url: string): string {
  return new URL(url).href.replace(/\/+$/, '');
}

/** An owner puts the app's dead-letter broadcasts (all, or `ids`) back in the registry's queue; signed `broadcast_retry`. */
export const BroadcastRetryData = z.strictObject({
  app_id: AppIdString,
  action: z.literal('retry_broadcasts'),
  ids: z.array(z.string().min(1).max(64)).max(1000).optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const BroadcastRetry = signed(BroadcastRetryData);
export const TokenRequestData = z.strictObject({
  app_id: AppIdString,
  sub: z.string().min(1).max(255),
  roles: z
    .array(z.string().regex(/^[a-z][a-z0-9_:-]{0,62}$/))
    .max(32)
    .optional(),
  ttl_seconds: z.int().min(60).max(86400).optional(),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const TokenRequest = signed(TokenRequestData);
export const AuthKeyRotationData = z.strictObject({
  app_id: AppIdString,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('auth_key_rotation'),
});
export const AuthKeyRotation = signed(AuthKeyRotationData);

export type NamespaceClaimData = z.infer<typeof NamespaceClaimData>;
export type AppManifestData = z.infer<typeof AppManifestData>;
export type ProvisionData = z.infer<typeof ProvisionData>;
export type DelegateAuthorityData = z.infer<typeof DelegateAuthorityData>;
export type ServiceBinding = z.infer<typeof ServiceBinding>;
export type BindingRequest = z.infer<typeof BindingRequest>;
export type OperationalContext = z.infer<typeof OperationalContext>;
export type BindingRecord = z.infer<typeof BindingRecord>;
export type BindingAnswer = z.infer<typeof BindingAnswer>;
export type SignedContext = z.infer<typeof SignedContext>;
export type CatalogEntry = z.infer<typeof CatalogEntry>;
export type Tier = z.infer<typeof Tier>;
export type OfferData = z.infer<typeof OfferData>;
export type ServiceCallData = z.infer<typeof ServiceCallData>;
export type HeartbeatData = z.infer<typeof HeartbeatData>;
export type UsageData = z.infer<typeof UsageData>;
export type LogEntry = z.infer<typeof LogEntry>;
export type LogsData = z.infer<typeof LogsData>;
export type BroadcastData = z.infer<typeof BroadcastData>;
export type MigrationSuccessorData = z.infer<typeof MigrationSuccessorData>;
export type MigrationSuccessor = z.infer<typeof MigrationSuccessor>;
export type KeyRotationData = z.infer<typeof KeyRotationData>;
export type BackboneUpdateData = z.infer<typeof BackboneUpdateData>;
export type MasterKeyRotationData = z.infer<typeof MasterKeyRotationData>;
export type IdentityRecoveryData = z.infer<typeof IdentityRecoveryData>;
export type PermanentTerminationData = z.infer<typeof PermanentTerminationData>;
export type TerminationReceiptData = z.infer<typeof TerminationReceiptData>;
export type TerminationReceipt = z.infer<typeof TerminationReceipt>;
export type DecommissionData = z.infer<typeof DecommissionData>;
export type OwnerQueryData = z.infer<typeof OwnerQueryData>;
export type BroadcastRetryData = z.infer<typeof BroadcastRetryData>;
export type TokenRequestData = z.infer<typeof TokenRequestData>;
export type AuthKeyRotationData = z.infer<typeof AuthKeyRotationData>;

/**
 * Validates `value` against `schema`: the typed value, or `invalid_request` naming the first
 * offending field. Then checks the envelope version (SPEC §3 order: body rules, then version).
 */
export function parseMessage<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
    throw new SwarmError('invalid_request', `${where}: ${issue?.message ?? 'invalid'}`);
  }
  const parsed = result.data as { version?: unknown };
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && parsed.version !== '1.0') {
    throw new SwarmError('unsupported_version', 'version must be "1.0"');
  }
  return result.data;
}

/** `invalid_app_id` unless the string is a well-formed app_id. */
export function requireAppId(value: string): string {
  if (!isAppId(value)) throw new SwarmError('invalid_app_id', 'app_id must be <tld>.<registry>.<namespace>.<project_slug>.<hash>');
  return value;
}
