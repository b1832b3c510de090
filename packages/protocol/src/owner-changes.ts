import { z } from 'zod';
import { AppIdString, Namespace, Nonce, PublicKey, SignatureHex, Timestamp } from './schemas.js';

/*
 * Apps and namespaces change (docs/PROTOCOL.md, "Apps and namespaces change"): an app's display
 * data, and a namespace's Guardian set. Strict like every request: an unknown field is
 * `invalid_request`, so nothing but what is listed here can ride along in a signed change.
 */

/**
 * An app's display data (`app_update`, Master key): `PATCH /v1/apps/{app_id}`. Only what SPEC
 * §4.2 calls descriptive: the id, namespace, slug and keys never change. `description: null`
 * clears it; an absent field keeps its value; at least one field is given.
 */
export const AppUpdateData = z
  .strictObject({
    app_id: AppIdString,
    display_name: z.string().min(1).max(200).optional(),
    description: z.string().max(2000).nullable().optional(),
    timestamp: Timestamp,
    nonce: Nonce,
    context: z.literal('app_update'),
  })
  .refine((data) => data.display_name !== undefined || data.description !== undefined, 'give display_name and/or description');
export const AppUpdate = z.strictObject({ version: z.string().max(16), data: AppUpdateData, signature: SignatureHex });

/** A current Guardian key's co-signature over the same `guardian_change` data. */
export const GuardianCoSignature = z.strictObject({ public_key: PublicKey, signature: SignatureHex });

/**
 * A namespace's new Guardian set (`guardian_change`): `POST /v1/namespaces/{ns}/guardians`,
 * signed by the Master key AND co-signed by a key of the current Guardian set over the same
 * data. Neither alone can change who may recover the namespace (SPEC §10.3).
 */
export const GuardianChangeData = z.strictObject({
  namespace: Namespace,
  guardian_public_keys: z.array(PublicKey).min(1).max(5),
  timestamp: Timestamp,
  nonce: Nonce,
  context: z.literal('guardian_change'),
});
export const GuardianChange = z.strictObject({
  version: z.string().max(16),
  data: GuardianChangeData,
  signature: SignatureHex,
  guardian_approval: GuardianCoSignature,
});

export type AppUpdateData = z.infer<typeof AppUpdateData>;
export type AppUpdate = z.infer<typeof AppUpdate>;
export type GuardianCoSignature = z.infer<typeof GuardianCoSignature>;
export type GuardianChangeData = z.infer<typeof GuardianChangeData>;
export type GuardianChange = z.infer<typeof GuardianChange>;
