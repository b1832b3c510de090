import { type AuditChainResult, type AuditEntry, AuditLogAnswer, verifyAuditChain } from '@swarm/protocol';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';

/** The app's audit log, as the registry keeps it (SPEC §6). */
export async function auditLog(options: ClientOptions, appId: string): Promise<AuditEntry[]> {
  return (await call('GET', registryUrl(options, `${appPath(appId)}/log`), AuditLogAnswer)).body.entries;
}

export type AuditVerification = AuditChainResult & { app_id: string; entries: number; head_hash: string | null };

/**
 * Fetches the app's audit log and checks its hash chain. Compare `head_hash` with one seen
 * before to notice a log cut short at its end.
 */
export async function verifyAuditLog(options: ClientOptions, appId: string): Promise<AuditVerification> {
  const entries = await auditLog(options, appId);
  const result = verifyAuditChain(entries);
  return { ...result, app_id: appId, entries: entries.length, head_hash: entries.at(-1)?.hash ?? null };
}
