import { LogEntry, ProviderName, RegionName, ServiceId, ServiceType, StorageGb, SwarmError, TierName } from '@swarm/protocol';
import { z } from 'zod';

/** What the page may ask the console to sign; anything else is `invalid_request`. */
export const ProvisionBody = z.strictObject({
  service_type: ServiceType,
  provider: ProviderName,
  tier: TierName,
  region: RegionName,
  storage_gb: StorageGb.optional(),
});
export const DecommissionBody = z.strictObject({ service_id: ServiceId, retain: z.boolean().default(false) });
const ConsoleUrl = z.url({ protocol: /^https?$/ }).max(2048);
export const BackboneBody = z
  .strictObject({ billing_url: ConsoleUrl.optional(), logging_url: ConsoleUrl.optional() })
  .refine((body) => body.billing_url !== undefined || body.logging_url !== undefined, 'give billing_url and/or logging_url');
export const LogsQuery = z.strictObject({
  service_id: ServiceId.optional(),
  level: LogEntry.shape.level.optional(),
  since: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 40)
    .optional(),
  text: z.string().max(200).optional(),
});
export const UsageQuery = z.strictObject({ service_id: ServiceId.optional() });

export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new SwarmError('invalid_request', `${where}${issue?.message ?? 'invalid'}`);
}
