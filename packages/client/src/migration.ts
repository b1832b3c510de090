import {
  canonicalDigest,
  errorFromBody,
  type GuardianApproval,
  type MigrationActivation,
  type MigrationControlData,
  type MigrationProof,
  type MigrationProofData,
  MigrationRecord,
  type MigrationSuccessor,
  type MigrationVetoData,
  parseAnswer,
  RegistryInfo,
  ReleaseAnswer,
  type SignedAppExport,
  type SigningKey,
  SwarmError,
  sign,
  signEnvelope,
  verifyAppExport,
} from '@swarm/protocol';
import { requestJson } from '@swarm/runtime/http-client';
import { exportApp } from './app-export.js';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

/** One step of `migrate`, as the CLI prints it. */
export type MigrationStep =
  | { step: 'export'; source: string; bindings: number }
  | { step: 'prepare'; target: string; state: string }
  | { step: 'release'; skipped: false; successor: string }
  | { step: 'release'; skipped: true; reason: string }
  | { step: 'contest'; ends_at: number }
  | { step: 'activate'; state: string; path: string }
  | { step: 'notify'; delivered: number; total: number; failed: string[] }
  | { step: 'rebound'; rebound: number; total: number };

export interface MigrateInput {
  appId: string;
  /** The source registry S (its URL); unused when `exportDocument` is given and S is gone. */
  source: ClientOptions;
  /** The target registry T's URL. */
  target: string;
  master: SigningKey;
  /** A Guardian key's co-signature: the move completes without S's release. */
  guardian?: SigningKey;
  /** An export saved earlier (`swarm export`), for when S cannot be reached. */
  exportDocument?: unknown;
  /** How long to wait for every instance to re-bind at T; 0 = do not wait. */
  waitSeconds: number;
  onStep?(step: MigrationStep): void;
  /** Poll interval while waiting (default 500 ms). */
  pollMs?: number;
}

export interface MigrateResult {
  /** `moved`: active at T; `contest`: prepared at T, activation waits for the contest window (run again after it). */
  status: 'moved' | 'contest';
  /** When the contest window ends (`contest` only; null otherwise). */
  contest_ends_at: number | null;
  app_id: string;
  source: string;
  target: string;
  path: string;
  record: MigrationRecord;
  /** Instances not re-bound at T within the wait. */
  not_rebound: string[];
}

/**
 * Moves an app to another registry (docs/REGISTRY.md, "Migration"): its export from S (or a
 * saved one) → the Master-signed Proof of Continuity → prepare at T → release at S (skipped when
 * S cannot be reached) → activate at T (at once with a release or a Guardian co-signature, else
 * once T's contest window ended: until then the result is `contest` and the owner runs it again)
 * → the evidence to every part when S released nothing → wait until every instance re-bound
 * there. Each step is reported through `onStep`.
 */
export async function migrateApp(input: MigrateInput): Promise<MigrateResult> {
  const step = input.onStep ?? (() => {});
  const signedExport = await loadExport(input);
  const exported = signedExport.data;
  step({ step: 'export', source: exported.source.authority, bindings: exported.bindings.length });
  if (exported.master_public_key !== input.master.publicKey) {
    throw new SwarmError('invalid_request', 'the key given is not the Master key the export names for this app');
  }
  const target = { registry: input.target };
  const targetInfo = (await call('GET', registryUrl(target, '/.well-known/swarm-registry'), RegistryInfo)).body;
  const proof = continuityProof(signedExport, targetInfo.authority, input.master);
  const guardianApproval = input.guardian ? approve(proof.data, input.guardian) : undefined;

  const prepared = await prepareOrResume(target, input.appId, exported.source.authority, () =>
    prepareMigration(target, input.appId, signedExport, proof, guardianApproval),
  );
  step({ step: 'prepare', target: targetInfo.authority, state: prepared.state });

  let successor: MigrationSuccessor | undefined;
  try {
    successor = await releaseApp(input.source, input.appId, proof);
    step({ step: 'release', skipped: false, successor: successor.data.successor });
  } catch (error) {
    if (!(error instanceof SwarmError) || error.code !== 'registry_unavailable') throw error;
    const why = input.guardian ? 'a Guardian approved' : 'no Guardian: the contest window decides';
    step({ step: 'release', skipped: true, reason: `source registry unreachable (${error.message}); ${why}` });
  }

  const result = (status: MigrateResult['status'], record: MigrationRecord): MigrateResult => ({
    status,
    contest_ends_at: status === 'contest' ? record.contest_ends_at : null,
    app_id: input.appId,
    source: exported.source.authority,
    target: targetInfo.authority,
    path: record.path,
    record,
    not_rebound: record.instances.filter((instance) => instance.state !== 'rebound').map((instance) => instance.service_id),
  });
  // A re-run after an activation that went through finds the move active already.
  const active =
    prepared.state === 'active'
      ? prepared
      : await activateOrWait(target, input.appId, input.master, successor, successor || guardianApproval ? null : prepared);
  if (active.state !== 'active') {
    step({ step: 'contest', ends_at: active.contest_ends_at ?? 0 });
    return result('contest', active);
  }
  step({ step: 'activate', state: active.state, path: active.path });
  if (!successor) {
    // No release, so no broadcast from S: the parts of the app get the evidence of the move itself.
    const evidence = guardianApproval
      ? { export: signedExport, proof, guardian_approval: guardianApproval }
      : contestEvidence(signedExport, active);
    const notified = await deliverApprovedMove(signedExport, evidence);
    step({ step: 'notify', ...notified });
  }

  const record = await waitForRebinds(target, input.appId, input.waitSeconds, input.pollMs ?? 500, (rebound, total) =>
    step({ step: 'rebound', rebound, total }),
  );
  return result('moved', record);
}

/**
 * Activates at T. Without a release or a Guardian (`contest` is the prepared record), a move
 * whose contest window has not ended is left prepared (answered as it stands, `importing`),
 * as is one T still refuses for its window (clocks differ): the owner runs the command again.
 */
async function activateOrWait(
  target: ClientOptions,
  appId: string,
  master: SigningKey,
  successor: MigrationSuccessor | undefined,
  contest: MigrationRecord | null,
): Promise<MigrationRecord> {
  const now = Math.floor(Date.now() / 1000);
  if (contest && contest.contest_ends_at !== null && now < contest.contest_ends_at) return contest;
  try {
    return await controlMigration(target, appId, 'activate', master, successor);
  } catch (error) {
    if (!contest || !(error instanceof SwarmError) || error.code !== 'conflict') throw error;
    const record = await migrationStatus(target, appId);
    if (record.state !== 'importing') throw error;
    return record;
  }
}

/**
 * The evidence of a move T activated after its contest window: the export, the proof T holds
 * (the activation names its digest; a re-run signs a new proof, which T never saw) and T's
 * activation. The export must be the one that proof was made for.
 */
function contestEvidence(
  signedExport: SignedAppExport,
  record: MigrationRecord,
): { export: SignedAppExport; proof: MigrationProof; activation: MigrationActivation } {
  if (!record.activation || !record.proof) {
    throw new SwarmError('registry_unavailable', 'the target answered an active move without its signed activation');
  }
  if (record.proof.data.export_digest !== canonicalDigest(signedExport)) {
    throw new SwarmError('invalid_request', 'the export given is not the one the move was prepared with: give that export (--export)');
  }
  return { export: signedExport, proof: record.proof, activation: record.activation };
}

/**
 * Prepare, or, when T already holds a move of this app from the same source (a run that was cut
 * short), that move as it stands: a re-run picks up where the last one stopped.
 */
async function prepareOrResume(
  target: ClientOptions,
  appId: string,
  source: string,
  prepare: () => Promise<MigrationRecord>,
): Promise<MigrationRecord> {
  try {
    return await prepare();
  } catch (error) {
    if (!(error instanceof SwarmError) || error.code !== 'conflict') throw error;
    const record = await migrationStatus(target, appId).catch(() => null);
    if (record && record.source === source && (record.state === 'importing' || record.state === 'active')) return record;
    throw error;
  }
}

async function loadExport(input: MigrateInput): Promise<SignedAppExport> {
  if (input.exportDocument === undefined) return (await exportApp(input.source, input.appId)).signed;
  // A saved export is checked against the key it names; the target checks it against its trust table.
  const key = (input.exportDocument as { data?: { source?: { public_key?: unknown } } } | null)?.data?.source?.public_key;
  verifyAppExport(input.exportDocument, typeof key === 'string' ? key : '', input.appId);
  return input.exportDocument as SignedAppExport;
}

/**
 * Sends the evidence of a move S did not release (`{ export, proof, guardian_approval }`, or
 * `{ export, proof, activation }` after a contest window) to every
 * part of the app named by the export, at `POST …/v1/events/migration`: each provider (its
 * catalog `events_url` + `/migration`), the Auth Provider (at the app's URL there), Billing and Logging. Each checks it on its own (docs/SERVICE-KIT.md,
 * "Following a migration"); one that cannot be reached learns of the move when it is told again.
 */
export async function deliverApprovedMove(
  signedExport: SignedAppExport,
  move:
    | { export: SignedAppExport; proof: MigrationProof; guardian_approval: GuardianApproval }
    | { export: SignedAppExport; proof: MigrationProof; activation: MigrationActivation },
): Promise<{ delivered: number; total: number; failed: string[] }> {
  const context = signedExport.data.operational_context;
  const urls = new Set<string>(signedExport.data.providers.map((provider) => `${provider.events_url}/migration`));
  // The Auth Provider takes it at the app's own URL there (`<auth>/apps/<app_id>`).
  if (context.auth) urls.add(`${context.auth.auth_provider_url.replace(/\/+$/, '')}/v1/events/migration`);
  for (const base of [context.billing_provider_url, context.logging_service_url]) {
    if (base) urls.add(`${base.replace(/\/+$/, '')}/v1/events/migration`);
  }
  const failed: string[] = [];
  await Promise.all(
    [...urls].map(async (url) => {
      const answer = await requestJson('POST', url, move, { timeoutMs: 15_000 }).catch(() => null);
      if (answer?.status !== 202) failed.push(url);
    }),
  );
  return { delivered: urls.size - failed.length, total: urls.size, failed };
}

/** The Proof of Continuity (SPEC §15, `registry_migration`) for moving the exported app to `targetAuthority`. */
export function continuityProof(signedExport: SignedAppExport, targetAuthority: string, master: SigningKey): MigrationProof {
  const exported = signedExport.data;
  const { timestamp, nonce } = freshness();
  const data: MigrationProofData = {
    app_id: exported.app_id,
    context: 'registry_migration',
    previous_registry: exported.source.authority,
    target_registry: targetAuthority,
    migration_timestamp: timestamp,
    timestamp,
    nonce,
    export_digest: canonicalDigest(signedExport),
    active_bindings: exported.bindings.map((binding) => ({
      service_id: binding.service_id,
      service_type: binding.service_type,
      public_key: binding.public_key,
      endpoint_url: binding.endpoint_url,
    })),
    master_public_key: exported.master_public_key,
    guardian_public_keys: exported.guardian_public_keys,
  };
  return signEnvelope('registry_migration', data, master.privateKey);
}

/** A Guardian key's co-signature over the proof data (same purpose). */
export function approve(proof: MigrationProofData, guardian: SigningKey): GuardianApproval {
  return { public_key: guardian.publicKey, signature: sign('registry_migration', proof, guardian.privateKey) };
}

export async function prepareMigration(
  target: ClientOptions,
  appId: string,
  signedExport: SignedAppExport,
  proof: MigrationProof,
  guardianApproval?: GuardianApproval,
): Promise<MigrationRecord> {
  const body = { export: signedExport, proof, ...(guardianApproval ? { guardian_approval: guardianApproval } : {}) };
  return (await call('POST', registryUrl(target, `${appPath(appId)}/migration`), MigrationRecord, body)).body;
}

/**
 * The release at S: its signed successor. An app S released already (a re-run) answers `410
 * app_migrated` carrying the same successor, which is taken as the release.
 */
export async function releaseApp(source: ClientOptions, appId: string, proof: MigrationProof): Promise<MigrationSuccessor> {
  const url = registryUrl(source, `${appPath(appId)}/release`);
  const origin = new URL(url).origin;
  const response = await requestJson('POST', url, proof, { timeoutMs: 15_000 }).catch((cause: unknown) => {
    throw new SwarmError('registry_unavailable', `${origin} cannot be reached`, { cause });
  });
  if (response.status === 200 || response.status === 410) {
    const successor = (response.body as { successor?: unknown } | null)?.successor;
    if (successor !== undefined) return parseAnswer(ReleaseAnswer, { successor }, origin).successor;
  }
  throw errorFromBody(response.body) ?? new SwarmError('registry_unavailable', `${origin} answered ${response.status}`);
}

/** Activate or abort at T (`migration_control`, Master-signed); activate may carry S's successor. */
export async function controlMigration(
  target: ClientOptions,
  appId: string,
  context: MigrationControlData['context'],
  master: SigningKey,
  successor?: MigrationSuccessor,
): Promise<MigrationRecord> {
  const data: MigrationControlData = { app_id: appId, context, ...freshness() };
  const body = { ...signEnvelope('migration_control', data, master.privateKey), ...(successor ? { successor } : {}) };
  return (await call('POST', registryUrl(target, `${appPath(appId)}/migration/${context}`), MigrationRecord, body)).body;
}

/** A Guardian's veto at T before activation (`migration_veto`). */
export async function vetoMigration(target: ClientOptions, appId: string, guardian: SigningKey): Promise<MigrationRecord> {
  const data: MigrationVetoData = { app_id: appId, context: 'migration_veto', ...freshness() };
  return (
    await call(
      'POST',
      registryUrl(target, `${appPath(appId)}/migration/veto`),
      MigrationRecord,
      signEnvelope('migration_veto', data, guardian.privateKey),
    )
  ).body;
}

export async function migrationStatus(target: ClientOptions, appId: string): Promise<MigrationRecord> {
  return (await call('GET', registryUrl(target, `${appPath(appId)}/migration`), MigrationRecord)).body;
}

/** Polls T's record until every instance is `rebound` or `waitSeconds` pass; reports each change of the count. */
export async function waitForRebinds(
  target: ClientOptions,
  appId: string,
  waitSeconds: number,
  pollMs: number,
  progress: (rebound: number, total: number) => void,
): Promise<MigrationRecord> {
  const deadline = Date.now() + waitSeconds * 1000;
  let last = -1;
  for (;;) {
    const record = await migrationStatus(target, appId);
    const rebound = record.instances.filter((instance) => instance.state === 'rebound').length;
    if (rebound !== last) progress(rebound, record.instances.length);
    last = rebound;
    if (rebound === record.instances.length || Date.now() >= deadline) return record;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
