import { createHash } from 'node:crypto';
import {
  type AppExport,
  canonicalDigest,
  type GuardianApproval,
  type MigrationActivation,
  type MigrationActivationData,
  type MigrationProof,
  type MigrationProofData,
  type MigrationRecord,
  migratedZone,
  publicKeyFromJwk,
  SignedAppExport,
  SwarmError,
  sameKeySet,
  signEnvelope,
  verifyAppExport,
  verifyGuardianApproval,
  verifyMigrationProof,
} from '@swarm/protocol';
import { isUniqueViolation } from '@swarm/runtime';
import { consumeNonce } from './checks.js';
import { MIGRATION_STALE_SECONDS, type RegistryContext } from './context.js';
import type { AppRow } from './storage/apps.js';
import { insertApp } from './storage/apps.js';
import { type BindingRow, bindingsOfApp, insertBinding } from './storage/bindings.js';
import { findProvider, insertProvider } from './storage/catalog.js';
import type { MigrationImportRow } from './storage/migration-imports.js';
import { findNamespace, insertNamespace } from './storage/namespaces.js';
import type { Executor } from './storage/schema.js';

/** What prepare verified: the export, the proof, and the Guardian key that co-signed, if any. */
export interface VerifiedPrepare {
  exported: AppExport;
  proof: MigrationProofData;
  guardianKey: string | null;
}

/**
 * Every check of a prepare, before anything is written (docs/REGISTRY.md, "Migration"): the export
 * under its source's key from THIS registry's trust table, the proof under the exported Master
 * key, the proof's fields against the export and this registry, the unchanged Guardian set, an
 * optional Guardian co-signature. Freshness and the nonce come after, in the route.
 */
export function verifyPrepare(
  ctx: RegistryContext,
  appId: string,
  signedExport: unknown,
  signedProof: unknown,
  approval?: GuardianApproval,
): VerifiedPrepare {
  const shape = SignedAppExport.safeParse(signedExport);
  if (!shape.success)
    throw new SwarmError('invalid_request', `export: not an app export (${shape.error.issues[0]?.message ?? 'bad shape'})`);
  const sourceAuthority = shape.data.data.source.authority;
  if (sourceAuthority === ctx.authority)
    throw new SwarmError('invalid_request', 'the export is from this registry: an app cannot move to where it is');
  const source = ctx.trust.byAuthority(sourceAuthority);
  const exported = verifyAppExport(signedExport, source.publicKey, appId);
  const proof = verifyMigrationProof(signedProof, exported.master_public_key, appId);
  if (proof.previous_registry !== exported.source.authority) {
    throw new SwarmError(
      'invalid_request',
      `the proof names ${proof.previous_registry} as the previous registry, the export is from ${exported.source.authority}`,
    );
  }
  if (proof.target_registry !== ctx.authority) {
    throw new SwarmError('invalid_request', `the proof moves the app to ${proof.target_registry}, this registry is ${ctx.authority}`);
  }
  if (proof.export_digest !== canonicalDigest(signedExport)) {
    throw new SwarmError('invalid_request', 'the proof export_digest is not the digest of the export sent with it');
  }
  if (!sameKeySet(proof.guardian_public_keys, exported.guardian_public_keys)) {
    throw new SwarmError(
      'invalid_request',
      'a Master key can never change the Guardian set: the proof must name the exported Guardian keys',
    );
  }
  for (const binding of proof.active_bindings) {
    const found = exported.bindings.find((candidate) => candidate.service_id === binding.service_id);
    if (
      !found ||
      found.service_type !== binding.service_type ||
      found.public_key !== binding.public_key ||
      found.endpoint_url !== binding.endpoint_url
    ) {
      throw new SwarmError(
        'invalid_request',
        `active_bindings: ${binding.service_id} is not a binding of the export as the proof names it`,
      );
    }
  }
  const guardianKey = approval ? verifyGuardianApproval(approval, proof, exported.guardian_public_keys) : null;
  return { exported, proof, guardianKey };
}

/** Consumes a proof's nonce under the Master key: a second use is `409 proof_reused` (SPEC §14). */
export async function consumeProof(ctx: RegistryContext, masterKey: string, proof: MigrationProofData): Promise<void> {
  try {
    await consumeNonce(ctx, masterKey, proof);
  } catch (error) {
    if (error instanceof SwarmError && error.code === 'nonce_reused') {
      throw new SwarmError('proof_reused', 'this Proof of Continuity was already used at this registry');
    }
    throw error;
  }
}

/**
 * Writes what a prepare creates, in the caller's transaction: the namespace (if absent, with the
 * exported keys), the app in status `importing` under its zone here, the imported bindings (status
 * `imported`), catalog entries of their providers that this registry lacks. Answers what was
 * created, so an abort removes exactly that.
 */
export async function importApp(
  trx: Executor,
  ctx: RegistryContext,
  verified: VerifiedPrepare,
  now: number,
): Promise<{ createdNamespace: boolean; createdProviders: string[]; serviceIds: string[] }> {
  const { exported, proof } = verified;
  if (await trx.selectFrom('apps').select('app_id').where('app_id', '=', exported.app_id).executeTakeFirst()) {
    throw new SwarmError('conflict', `app ${exported.app_id} is already held here`);
  }
  let createdNamespace = false;
  const namespace = await findNamespace(trx, exported.namespace);
  if (namespace) {
    if (namespace.publicKey !== exported.master_public_key || !sameKeySet(namespace.guardianPublicKeys, exported.guardian_public_keys)) {
      throw new SwarmError('namespace_taken', `namespace ${exported.namespace} is held here by other keys`);
    }
  } else {
    await insertNamespace(trx, {
      namespace: exported.namespace,
      publicKey: exported.master_public_key,
      guardianPublicKeys: exported.guardian_public_keys,
      formerPublicKeys: exported.former_master_public_keys,
      // The export never carries the contact e-mail (docs/REGISTRY.md, "Export").
      contactEmail: '',
      metadata: null,
      status: 'active',
      createdAt: now,
    });
    createdNamespace = true;
  }
  const imported = exported.bindings.filter((binding) => proof.active_bindings.some((listed) => listed.service_id === binding.service_id));
  const createdProviders: string[] = [];
  for (const provider of new Set(imported.map((binding) => binding.provider))) {
    if (await findProvider(trx, provider)) continue;
    // The source registry signed the export, entries included; this registry trusts it.
    const entry = exported.providers.find((candidate) => candidate.provider === provider);
    if (!entry) throw new SwarmError('invalid_request', `the export has no catalog entry for ${provider}`);
    await insertProvider(trx, entry, now);
    createdProviders.push(provider);
  }
  try {
    await insertApp(trx, importedAppRow(ctx, exported));
  } catch (error) {
    if (isUniqueViolation(error)) throw new SwarmError('conflict', `the zone of ${exported.app_id} is taken here`);
    throw error;
  }
  for (const binding of imported) {
    const row: BindingRow = {
      appId: exported.app_id,
      serviceId: binding.service_id,
      provider: binding.provider,
      serviceType: binding.service_type,
      endpointUrl: binding.endpoint_url,
      publicKey: binding.public_key,
      previousPublicKey: null,
      previousKeyExpiresAt: null,
      serviceTier: binding.service_tier,
      region: binding.region,
      storageLimitGb: binding.storage_limit_gb,
      boundAt: binding.bound_at,
      status: 'imported',
      // Unique per binding like a developer proof's hash, and never equal to one.
      proofHash: createHash('sha256').update(`migration\n${exported.app_id}\n${binding.service_id}`).digest('hex'),
      lastHeartbeatAt: 0,
      heartbeatStatus: null,
      revokedAt: null,
      changedAt: null,
    };
    try {
      await insertBinding(trx, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new SwarmError('conflict', `service_id ${binding.service_id} is already bound here`);
      throw error;
    }
  }
  return { createdNamespace, createdProviders, serviceIds: imported.map((binding) => binding.service_id) };
}

function importedAppRow(ctx: RegistryContext, exported: AppExport): AppRow {
  const context = exported.operational_context;
  const keys = context.auth?.jwks.keys ?? [];
  const current = keys.find((key) => key.exp === undefined) ?? keys[0];
  const previous = keys.find((key) => key !== current && key.exp !== undefined);
  return {
    appId: exported.app_id,
    zone: migratedZone(exported.app_id, ctx.authority),
    ownerNamespace: exported.namespace,
    projectSlug: exported.app.project_slug,
    displayName: exported.app.display_name,
    description: exported.app.description ?? null,
    status: 'importing',
    createdAt: exported.app.created_at,
    configEpoch: exported.config_epoch,
    authProviderUrl: context.auth?.auth_provider_url ?? null,
    authPublicKey: current ? publicKeyFromJwk(current) : null,
    authPreviousPublicKey: previous ? publicKeyFromJwk(previous) : null,
    authPreviousExpiresAt: previous?.exp ?? null,
    billingProviderUrl: context.billing_provider_url,
    loggingServiceUrl: context.logging_service_url,
    services: context.services,
    logSeq: exported.audit_head.seq,
    logHash: exported.audit_head.hash,
    successor: null,
  };
}

/** Removes what a prepare created (an abort): bindings, app, and the namespace and catalog entries it added if nothing else uses them. */
export async function removeImport(trx: Executor, row: MigrationImportRow, namespace: string): Promise<void> {
  await trx.deleteFrom('bindings').where('app_id', '=', row.appId).execute();
  await trx.deleteFrom('apps').where('app_id', '=', row.appId).execute();
  if (row.createdNamespace) {
    const other = await trx.selectFrom('apps').select('app_id').where('owner_namespace', '=', namespace).executeTakeFirst();
    if (!other) {
      await trx.deleteFrom('delegations').where('namespace', '=', namespace).execute();
      await trx.deleteFrom('namespaces').where('namespace', '=', namespace).execute();
    }
  }
  for (const provider of row.createdProviders) {
    const used = await trx.selectFrom('bindings').select('service_id').where('provider', '=', provider).executeTakeFirst();
    if (!used) await trx.deleteFrom('catalog').where('provider', '=', provider).execute();
  }
}

/** The owner's view of a migration: its state and each imported instance (`stale` 7 days after activation without a re-bind). */
/**
 * T's signed statement that it activated the move (`migration_activation`), built from the stored
 * row: Ed25519 is deterministic, so every read answers the same bytes and nothing more is stored.
 */
export function migrationActivation(ctx: RegistryContext, row: MigrationImportRow): MigrationActivation | undefined {
  if (row.state !== 'active' || row.activatedAt === null) return undefined;
  const data: MigrationActivationData = {
    app_id: row.appId,
    previous_registry: row.source,
    registry: ctx.authority,
    path: row.path,
    prepared_at: row.preparedAt,
    contest_ends_at: row.contestEndsAt,
    activated_at: row.activatedAt,
    proof_digest: row.proofDigest,
  };
  return signEnvelope('migration_activation', data, ctx.registryKey.privateKey);
}

export async function migrationRecord(ctx: RegistryContext, db: Executor, row: MigrationImportRow, now: number): Promise<MigrationRecord> {
  const bindings = new Map((await bindingsOfApp(db, row.appId)).map((binding) => [binding.serviceId, binding]));
  const staleAfter = row.activatedAt === null ? null : row.activatedAt + MIGRATION_STALE_SECONDS;
  const instances: MigrationRecord['instances'] = [];
  for (const serviceId of row.serviceIds) {
    const binding = bindings.get(serviceId);
    if (!binding) continue;
    const waiting = binding.status === 'imported';
    instances.push({
      service_id: serviceId,
      state: !waiting ? 'rebound' : staleAfter !== null && now >= staleAfter ? 'stale' : 'imported',
    });
  }
  return {
    app_id: row.appId,
    state: row.state,
    source: row.source,
    path: row.path,
    contest_ends_at: row.contestEndsAt,
    prepared_at: row.preparedAt,
    activated_at: row.activatedAt,
    instances,
    ...activationEvidence(ctx, row),
  };
}

/** Once active: the activation and the proof it names, so the owner can hand the evidence to the parts. */
function activationEvidence(ctx: RegistryContext, row: MigrationImportRow): Pick<MigrationRecord, 'activation' | 'proof'> {
  const activation = migrationActivation(ctx, row);
  return activation ? { activation, proof: JSON.parse(row.proofJson) as MigrationProof } : {};
}
