import { type Data, type Envelope, envelope, fresh } from './envelope.js';
import type { SigningKey } from './keys.js';

/**
 * The project's `owner_query` extension (docs/PROTOCOL.md): an owner's read of usage or logs,
 * signed by the Master key and addressed to the receiving service by its base URL
 * (`audience`), so Billing and Logging each refuse a query made for the other.
 */
export function ownerQuery(appId: string, audience: string, key: SigningKey, extra: Data = {}): Envelope {
  return envelope('owner_query', fresh({ app_id: appId, audience: audience.replace(/\/+$/, ''), ...extra }), key);
}
