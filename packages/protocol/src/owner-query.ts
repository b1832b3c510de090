import type { z } from 'zod';
import { HttpUrl, OwnerQuery, OwnerQueryData } from './schemas.js';

/**
 * An owner's signed read (`owner_query`) as receivers take it: `audience` names the service it
 * is meant for, the receiver's base URL as the app's operational context lists it
 * (`billing_provider_url` or `logging_service_url`), so a query made for Billing is refused by
 * Logging and the other way round (docs/PROTOCOL.md). Supersedes `OwnerQuery` without it.
 */
export const AddressedOwnerQueryData = OwnerQueryData.extend({ audience: HttpUrl });
export const AddressedOwnerQuery = OwnerQuery.extend({ data: AddressedOwnerQueryData });
export type AddressedOwnerQueryData = z.infer<typeof AddressedOwnerQueryData>;

/** One spelling of a base URL for comparing audiences: what `URL` normalises, no trailing `/`. */
export function audienceOf(url: string): string {
  return new URL(url).href.replace(/\/+$/, '');
}
