import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical.js';
import { SwarmError } from './errors.js';
import {
  AppIdString,
  Authority,
  Digest,
  HttpUrl,
  MigrationSuccessor,
  type MigrationSuccessorData,
  Nonce,
  ProviderName,
  PublicKey,
  ServiceId,
  ServiceType,
  SignatureHex,
  Timestamp,
} from './schemas.js';
import { verify } from './signature.js';
import type { TrustedRegistries, TrustedRegistry } from './trust.js';

/*
 * Registry migration (docs/PROTOCOL.md, "Registry migration"): an app moves from a source
 * registry S to a target T, keeping its app_id. Six signed messages carry it: the Master-signed
 * Proof of Continuity (`registry_migration`, SPEC §15), S's signed successor
 * (`migration_successor`), the owner's activate/abort (`migration_control`), a Guardian's veto
 * (`migration_veto`), an instance's re-binding at T (`service_rebind`) and T's statement that it
 * activated the move (`migration_activation`). Nothing here does I/O.
 */

/** base64url SHA-256 of the RFC 8785 bytes of `value` (an export or proof envelope as sent). */
export function canonicalDigest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('base64url');
}

// 1. The Proof of Continuity, Master-signed; one proof goes to T (prepare) and S (release).
export const MigrationBinding = z.strictObject({
  service_id: ServiceId,
  service_type: ServiceType,
  public_key: PublicKey,
  endpoint_url: HttpUrl,
});
export const MigrationProofData = z.strictObject({
  app_id: AppIdString,
  context: z.literal('registry_migration'),
  previous_registry: Authority,
  target_registry: Authority,
  migration_timestamp: Timestamp,
  timestamp: Timestamp,
  nonce: Nonce,
  export_digest: Digest,
  active_bindings: z.array(MigrationBinding).max(100_000),
  master_public_key: PublicKey,
  guardian_public_keys: z.array(PublicKey).max(16),
});
export const MigrationProof = z.strictObject({ version: z.string().max(16), data: MigrationProofData, signature: SignatureHex });

/** A Guardian key's signature over the same proof `data`, purpose `registry_migration`. */
export const GuardianApproval = z.strictObject({ public_key: PublicKey, signature: SignatureHex });

// 2. S's signed successor (`MigrationSuccessor`, schemas.ts): the tombstone in every 410 app_migrated
// and in the APP_MIGRATED broadcast.

// 3. The owner's activate or abort at T, Master-signed. Activate may carry S's successor.
export const MigrationControlData = z.strictObject({
  app_id: AppIdString,
  context: z.enum(['activate', 'abort']),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const MigrationControl = z.strictObject({
  version: z.string().max(16),
  data: MigrationControlData,
  signature: SignatureHex,
  successor: MigrationSuccessor.optional(),
});

// 4. A Guardian's veto at T, before activation.
export const MigrationVetoData = z.strictObject({
  app_id: AppIdString,
  context: z.literal('migration_veto'),
  timestamp: Timestamp,
  nonce: Nonce,
});
export const MigrationVeto = z.strictObject({ version: z.string().max(16), data: MigrationVetoData, signature: SignatureHex });

// 5. An instance re-binds at T: the instance key and its provider's catalog key sign one `data`.
export const ServiceRebindData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  provider: ProviderName,
  public_key: PublicKey,
  endpoint_url: HttpUrl,
  previous_registry: Authority,
  timestamp: Timestamp,
  nonce: Nonce,
});
export const ServiceRebind = z.strictObject({
  version: z.string().max(16),
  data: ServiceRebindData,
  instance_signature: SignatureHex,
  provider_signature: SignatureHex,
});

// The bodies of the routes.
export const MigrationPrepare = z.strictObject({
  export: z.unknown(),
  proof: z.unknown(),
  guardian_approval: GuardianApproval.optional(),
});

export const MIGRATION_STATES = ['importing', 'active', 'aborted', 'vetoed'] as const;
export const MIGRATION_PATHS = ['release', 'guardian', 'contest'] as const;

// 6. T's statement that it activated the move, signed by T's registry key: with the export and
// the proof it proves a move completed without S's release (the contest path) to any part.
export const MigrationActivationData = z.strictObject({
  app_id: AppIdString,
  previous_registry: Authority,
  registry: Authority,
  path: z.enum(MIGRATION_PATHS),
  prepared_at: Timestamp,
  contest_ends_at: Timestamp.nullable(),
  activated_at: Timestamp,
  proof_digest: Digest,
});
export const MigrationActivation = z.strictObject({
  version: z.string().max(16),
  data: MigrationActivationData,
  signature: SignatureHex,
});

/**
 * The owner's evidence of a move S did not release, at a part's `POST …/v1/events/migration`:
 * the export and proof as sent to T's prepare, with a Guardian co-signature (Guardian path) or
 * T's signed activation (contest path).
 */
export const MigrationEvidence = z.strictObject({
  export: z.unknown(),
  proof: z.unknown(),
  guardian_approval: GuardianApproval.optional(),
  activation: z.unknown().optional(),
});
export const MIGRATED_INSTANCE_STATES = ['imported', 'rebound', 'stale'] as const;

/** `GET|POST /v1/apps/{app_id}/migration…` at T. */
export const MigrationRecord = z.object({
  app_id: AppIdString,
  state: z.enum(MIGRATION_STATES),
  source: Authority,
  path: z.enum(MIGRATION_PATHS),
  contest_ends_at: Timestamp.nullable(),
  prepared_at: Timestamp,
  activated_at: Timestamp.nullable(),
  instances: z.array(z.object({ service_id: ServiceId, state: z.enum(MIGRATED_INSTANCE_STATES) })).max(100_000),
  /** Once active: T's signed activation, and the Proof of Continuity it names (the evidence parts follow on). */
  activation: MigrationActivation.optional(),
  proof: MigrationProof.optional(),
});
/** `POST /v1/apps/{app_id}/release` at S. */
export const ReleaseAnswer = z.object({ successor: MigrationSuccessor });
/** `POST /v1/apps/{app_id}/services/{service_id}/rebind` at T. */
export const RebindAnswer = z.object({ app_id: AppIdString, service_id: ServiceId, config_epoch: z.int().min(0), context_url: HttpUrl });
/** S's answer to every write (and the app lookup) of a released app (SPEC §15). */
export const AppMigratedBody = z.object({
  error: z.object({ code: z.literal('app_migrated'), message: z.string().max(2000) }),
  successor: MigrationSuccessor,
});

export type MigrationProofData = z.infer<typeof MigrationProofData>;
export type MigrationProof = z.infer<typeof MigrationProof>;
export type GuardianApproval = z.infer<typeof GuardianApproval>;
export type MigrationControlData = z.infer<typeof MigrationControlData>;
export type MigrationControl = z.infer<typeof MigrationControl>;
export type MigrationVetoData = z.infer<typeof MigrationVetoData>;
export type ServiceRebindData = z.infer<typeof ServiceRebindData>;
export type ServiceRebind = z.infer<typeof ServiceRebind>;
export type MigrationRecord = z.infer<typeof MigrationRecord>;
export type MigrationActivationData = z.infer<typeof MigrationActivationData>;
export type MigrationActivation = z.infer<typeof MigrationActivation>;
export type MigrationEvidence = z.infer<typeof MigrationEvidence>;
export type ReleaseAnswer = z.infer<typeof ReleaseAnswer>;
export type RebindAnswer = z.infer<typeof RebindAnswer>;
export type AppMigratedBody = z.infer<typeof AppMigratedBody>;

/**
 * `410 app_migrated` (SPEC §15): the error of every write a source registry refuses for a released
 * app; its body carries the signed successor next to `error`.
 */
export class AppMigratedError extends SwarmError {
  readonly successor: MigrationSuccessor;

  constructor(appId: string, successor: MigrationSuccessor) {
    super('app_migrated', `app ${appId} moved to registry ${successor.data.successor} (${successor.data.successor_url})`);
    this.successor = successor;
  }

  override toBody(): AppMigratedBody {
    return { error: { code: 'app_migrated', message: this.message }, successor: this.successor };
  }
}

function parsed<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new SwarmError('invalid_request', `not a ${what}: ${where}${issue?.message ?? 'bad shape'}`);
  }
  const version = (result.data as { version: string }).version;
  if (version !== '1.0') throw new SwarmError('unsupported_version', `${what} version ${version} is not 1.0`);
  return result.data;
}

/** Whether the two key lists hold the same keys (order does not matter, repeats do not count). */
export function sameKeySet(left: readonly string[], right: readonly string[]): boolean {
  const a = new Set(left);
  const b = new Set(right);
  return a.size === b.size && [...a].every((key) => b.has(key));
}

/**
 * A Proof of Continuity whose Master signature verifies under `masterKey` (which the reader takes
 * from the export it trusts, or from its own store at the source): its data, or the SwarmError of
 * the first check that failed. Freshness and the nonce are the caller's (they need a clock and a store).
 */
export function verifyMigrationProof(envelope: unknown, masterKey: string, appId: string): MigrationProofData {
  const proof = parsed(MigrationProof, envelope, 'Proof of Continuity');
  if (proof.data.app_id !== appId) throw new SwarmError('invalid_request', 'data.app_id does not match the path');
  if (proof.data.master_public_key !== masterKey) {
    throw new SwarmError('invalid_signature', 'the proof names another Master key than the one this registry holds for the app');
  }
  if (!verify('registry_migration', proof.data, proof.signature, masterKey)) {
    throw new SwarmError('invalid_signature', 'the proof is not signed by the app namespace Master key');
  }
  return proof.data;
}

/** A Guardian co-signature over the proof `data` by a key of the app's Guardian set; `invalid_signature` otherwise. */
export function verifyGuardianApproval(approval: GuardianApproval, proof: MigrationProofData, guardianKeys: readonly string[]): string {
  if (!guardianKeys.includes(approval.public_key) || !verify('registry_migration', proof, approval.signature, approval.public_key)) {
    throw new SwarmError('invalid_signature', 'the Guardian approval is not a signature of a Guardian key of this app over the proof');
  }
  return approval.public_key;
}

export interface VerifiedSuccessor {
  data: MigrationSuccessorData;
  /** The registry the successor names, from the reader's trust table; null when `requireTrustedSuccessor` is false and it is not there. */
  successor: TrustedRegistry | null;
}

/**
 * A successor envelope that the registry it names as `previous_registry` signed, under that
 * registry's key from the reader's OWN trust table (`unknown_registry` if absent,
 * `invalid_signature` if forged), for `appId`. By default the successor must be in the table too
 * (`unknown_registry`: nothing of it is contacted); `expectPrevious` pins who must have signed.
 */
export function verifySuccessor(
  envelope: unknown,
  trusted: TrustedRegistries,
  appId: string,
  options: { expectPrevious?: string; requireTrustedSuccessor?: boolean } = {},
): VerifiedSuccessor {
  const successor = parsed(MigrationSuccessor, envelope, 'migration successor');
  const data = successor.data;
  if (data.app_id !== appId) throw new SwarmError('invalid_request', 'the successor is of another app');
  if (options.expectPrevious !== undefined && data.previous_registry !== options.expectPrevious) {
    throw new SwarmError('invalid_request', `the successor was issued by ${data.previous_registry}, not ${options.expectPrevious}`);
  }
  if (data.successor === data.previous_registry) throw new SwarmError('invalid_request', 'a registry cannot succeed itself');
  const previous = trusted.byAuthority(data.previous_registry);
  if (!verify('migration_successor', data, successor.signature, previous.publicKey)) {
    throw new SwarmError('invalid_signature', `the successor is not signed by the trusted key of ${data.previous_registry}`);
  }
  if (options.requireTrustedSuccessor === false) {
    const found = trusted.list().find((entry) => entry.authority === data.successor) ?? null;
    return { data, successor: found };
  }
  return { data, successor: trusted.byAuthority(data.successor) };
}

/**
 * T's activation of a contest-path move, checked against the proof the reader verified: signed
 * under `targetKey` (the reader's trust table's key for `proof.target_registry`), for the same
 * app, source, target and proof digest, path `contest`, activated once the window had ended.
 * A Guardian-path activation is refused here: that path is proven by the Guardian's co-signature.
 */
export function verifyContestActivation(
  envelope: unknown,
  targetKey: string,
  proof: MigrationProofData,
  proofDigest: string,
): MigrationActivationData {
  const activation = parsed(MigrationActivation, envelope, 'migration activation');
  const data = activation.data;
  if (!verify('migration_activation', data, activation.signature, targetKey)) {
    throw new SwarmError('invalid_signature', `the activation is not signed by the trusted key of ${proof.target_registry}`);
  }
  if (data.app_id !== proof.app_id) throw new SwarmError('invalid_request', 'the activation is of another app');
  if (data.registry !== proof.target_registry || data.previous_registry !== proof.previous_registry) {
    throw new SwarmError('invalid_request', 'the activation names other registries than the proof');
  }
  if (data.proof_digest !== proofDigest) throw new SwarmError('invalid_request', 'the activation is of another proof');
  if (data.path !== 'contest') {
    throw new SwarmError(
      'invalid_request',
      `a ${data.path}-path activation is not evidence on its own: a Guardian approval or the release is`,
    );
  }
  if (data.contest_ends_at === null || data.activated_at < data.contest_ends_at) {
    throw new SwarmError('invalid_request', 'the activation came before the contest window ended');
  }
  return data;
}

/** A rebind whose two signatures verify: the instance's under `instanceKey`, the provider's under `providerKey`. */
export function verifyServiceRebind(envelope: ServiceRebind, instanceKey: string, providerKey: string): void {
  if (!verify('service_rebind', envelope.data, envelope.instance_signature, instanceKey)) {
    throw new SwarmError('invalid_signature', 'the instance signature does not verify under the instance key');
  }
  if (!verify('service_rebind', envelope.data, envelope.provider_signature, providerKey)) {
    throw new SwarmError('invalid_signature', 'the provider signature does not verify under the provider catalog key');
  }
}

/** Parses a body against one of the migration schemas: `invalid_request` / `unsupported_version` naming the field. */
export function parseMigrationMessage<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  return parsed(schema, value, what);
}

/**
 * The app zone labels at another registry (docs/DNS.md, "Migration"): the app_id reversed with the
 * source authority's labels replaced by the target's. `local.swarm.alice.shop.abc` moved to
 * `swarm.other` is served as `abc.shop.alice.swarm.other` (no trailing dot).
 */
export function migratedZone(appId: string, targetAuthority: string): string {
  const labels = appId.split('.');
  const [registry, tld] = targetAuthority.split('.');
  return [...labels.slice(2).reverse(), registry, tld].join('.');
}
