import { z } from 'zod';
import { AppIdString, Nonce, ProviderName, RegionName, ServiceId, SignatureHex, StorageGb, TierName, Timestamp } from './schemas.js';

/*
 * Day-two messages (docs/PROTOCOL.md, "Changing a running instance" and "Retiring an app"),
 * strict like every request: an unknown field is `invalid_request`.
 */

/**
 * What the owner signs (`instance_update`, Master key) and sends to the provider:
 * `PATCH {provision_url}/{service_id}`. Tier and storage limit are both explicit, so the
 * provider and the registry apply exactly what was signed; `region` absent keeps the region.
 */
export const InstanceUpdateData = z.strictObject({
  app_id: AppIdString,
  service_id: ServiceId,
  target_provider: ProviderName,
  service_tier: TierName,
  storage_limit_gb: StorageGb,
  region: RegionName.optional(),
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('instance_update'),
});
export const InstanceUpdateRequest = z.strictObject({ version: z.string().max(16), data: InstanceUpdateData, signature: SignatureHex });

/** The provider's own part of the notice: which instance, when, and its nonce. */
export const ServiceUpdate = z.strictObject({ service_id: ServiceId, timestamp: Timestamp, nonce: Nonce });

/**
 * The provider tells the registry (`POST /v1/apps/{app_id}/services/{service_id}/update`):
 * the owner's signed update verbatim, plus the provider key's signature (`update_binding`) over
 * `{ developer_proof, service_update }`. Only the bound provider holding the owner's signature
 * can change what the registry lists for an instance.
 */
export const UpdateBindingRequest = z.strictObject({
  version: z.string().max(16),
  developer_proof: z.strictObject({ payload: InstanceUpdateData, signature: SignatureHex }),
  service_update: ServiceUpdate,
  update_signature: SignatureHex,
});

/**
 * An app's retirement (`app_retirement`, Master key): `POST /v1/apps/{app_id}/retire`. Refused
 * while instances are bound; the app_id and its slug stay taken and the audit log readable.
 */
export const AppRetirementData = z.strictObject({
  app_id: AppIdString,
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('app_retirement'),
});
export const AppRetirement = z.strictObject({ version: z.string().max(16), data: AppRetirementData, signature: SignatureHex });

export type InstanceUpdateData = z.infer<typeof InstanceUpdateData>;
export type InstanceUpdateRequest = z.infer<typeof InstanceUpdateRequest>;
export type ServiceUpdate = z.infer<typeof ServiceUpdate>;
export type UpdateBindingRequest = z.infer<typeof UpdateBindingRequest>;
export type AppRetirementData = z.infer<typeof AppRetirementData>;
