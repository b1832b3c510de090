import { z } from 'zod';
import { AppRecord } from './answers.js';
import { PROTOCOL_VERSION } from './canonical.js';
import { SwarmError } from './errors.js';
import {
  AppIdString,
  CatalogEntry,
  HttpUrl,
  Namespace,
  OperationalContext,
  PublicKey,
  RegionName,
  ServiceId,
  ServiceType,
  StorageGb,
  Timestamp,
} from './schemas.js';
import { verify } from './signature.js';

/** The version of the export document; a registry refuses to import a format it does not know. */
export const APP_EXPORT_FORMAT = 'swarm-app-export/1';

/** One bound instance as the source registry holds it: enough to bind it elsewhere and to check its requests. */
export const ExportedBinding = z.strictObject({
  service_id: ServiceId,
  service_type: ServiceType,
  provider: z.string().min(1).max(253),
  endpoint_url: HttpUrl,
  public_key: PublicKey,
  service_tier: z.string().max(63).nullable(),
  region: RegionName.nullable(),
  storage_limit_gb: StorageGb.nullable(),
  bound_at: Timestamp,
});

/**
 * `GET /v1/apps/{app_id}/export` (SPEC §15): everything another App Registry needs to carry the
 * app on: the namespace's Master and Guardian keys (never its contact e-mail), the app's public
 * record, its operational context and `config_epoch`, its active bindings with their keys and
 * endpoints, the catalog entries of the providers they run at, and the head of the audit chain,
 * which the target continues from. Sent as `{ version, data, signature }`, signed by the source
 * registry under `export`, so the reader checks it against the source's key from its own trust
 * table.
 */
export const AppExportData = z.strictObject({
  format: z.literal(APP_EXPORT_FORMAT),
  source: z.strictObject({ authority: z.string().min(1).max(127), public_key: PublicKey }),
  exported_at: Timestamp,
  app_id: AppIdString,
  namespace: Namespace,
  master_public_key: PublicKey,
  guardian_public_keys: z.array(PublicKey).max(16),
  former_master_public_keys: z.array(PublicKey).max(1000),
  app: AppRecord,
  operational_context: OperationalContext,
  config_epoch: z.int().min(0),
  bindings: z.array(ExportedBinding).max(100_000),
  providers: z.array(CatalogEntry).max(1000),
  audit_head: z.strictObject({ seq: z.int().min(0), hash: z.string().regex(/^[0-9a-f]{64}$/) }),
});
export type AppExport = z.infer<typeof AppExportData>;
export type ExportedBinding = z.infer<typeof ExportedBinding>;

export const SignedAppExport = z.strictObject({ version: z.string().max(16), data: AppExportData, signature: z.string().max(128) });
export type SignedAppExport = z.infer<typeof SignedAppExport>;

/**
 * The export, if `signed` is one and verifies under `registryKey`, which must come from the
 * reader's own trust table, never from the document (`source.public_key` only has to agree).
 */
export function verifyAppExport(signed: unknown, registryKey: string, appId?: string): AppExport {
  const parsed = SignedAppExport.safeParse(signed);
  if (!parsed.success) throw new SwarmError('invalid_request', `not an app export: ${parsed.error.issues[0]?.message ?? 'bad shape'}`);
  const { version, data: document, signature } = parsed.data;
  if (version !== PROTOCOL_VERSION) throw new SwarmError('unsupported_version', `export version ${version} is not ${PROTOCOL_VERSION}`);
  if (document.source.public_key !== registryKey || !verify('export', document, signature, registryKey)) {
    throw new SwarmError('invalid_signature', 'the export is not signed by the trusted key of its source registry');
  }
  if (appId !== undefined && AppIdString.parse(appId) !== document.app_id) {
    throw new SwarmError('invalid_request', 'the export is of another app');
  }
  return document;
}
