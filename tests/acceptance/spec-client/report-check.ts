import { get, type Json } from './http.js';
import { verifyObject } from './keys.js';

export interface ReportVerdict {
  status: 202 | 400 | 401 | 403;
  reason: string;
}

const USAGE_FIELDS = ['app_id', 'metrics', 'nonce', 'period_end', 'period_start', 'service_id', 'timestamp'];
const LOG_FIELDS = ['app_id', 'entries', 'nonce', 'service_id', 'timestamp'];

/**
 * What a SPEC §9.3 receiver decides: the envelope's shape, then the instance bound to the app in
 * the registry's Service DNS, then the `service_call` signature under that instance key.
 */
export async function judgeReport(registryUrl: string, kind: 'usage' | 'logs', envelope: Json): Promise<ReportVerdict> {
  const data = envelope?.data;
  if (envelope?.version !== '1.0' || typeof envelope.signature !== 'string' || !data) return { status: 400, reason: 'envelope' };
  const fields = Object.keys(data).sort();
  if (kind === 'usage' && JSON.stringify(fields) !== JSON.stringify(USAGE_FIELDS)) return { status: 400, reason: `fields ${fields}` };
  if (kind === 'logs' && JSON.stringify(fields) !== JSON.stringify(LOG_FIELDS)) return { status: 400, reason: `fields ${fields}` };
  const dns = await get(`${registryUrl}/v1/apps/${data.app_id}/services`);
  const record = dns.body?.records?.find((item: Json) => item.service_id === data.service_id);
  if (!record) return { status: 403, reason: 'not bound' };
  if (!verifyObject('service_call', data, envelope.signature, record.public_key)) return { status: 401, reason: 'signature' };
  return { status: 202, reason: 'ok' };
}
