import {
  AppUpdateAnswer,
  type AppUpdateData,
  AuditEntry,
  type GuardianChangeData,
  NamespaceRecord,
  type SigningKey,
  SwarmError,
  sign,
  signEnvelope,
} from '@swarm/protocol';
import { auditPages } from './audit.js';
import { appPath, type ClientOptions, call, registryUrl } from './http.js';
import { freshness } from './keys.js';

/**
 * Changes an app's display data (docs/PROTOCOL.md, "Apps and namespaces change"): the Master key
 * only; `description: null` clears it, an absent field keeps its value. The answer's
 * `audit_seq` is the operation's id (`swarm operation SEQ --app APP`).
 *
 * @example
 * await updateApp(options, { appId, master, displayName: 'Notes ✓' });
 */
export async function updateApp(
  options: ClientOptions,
  input: { appId: string; master: SigningKey; displayName?: string; description?: string | null },
): Promise<AppUpdateAnswer> {
  if (input.displayName === undefined && input.description === undefined) {
    throw new SwarmError('invalid_request', 'give a display name and/or a description');
  }
  const data: AppUpdateData = {
    app_id: input.appId,
    ...(input.displayName === undefined ? {} : { display_name: input.displayName }),
    ...(input.description === undefined ? {} : { description: input.description }),
    ...freshness(),
    context: 'app_update',
  };
  const envelope = signEnvelope('app_update', data, input.master.privateKey);
  return (await call('PATCH', registryUrl(options, appPath(input.appId)), AppUpdateAnswer, envelope)).body;
}

/**
 * Replaces the namespace's Guardian set: the Master key signs and a CURRENT Guardian key co-signs
 * the same data. Recovery (`swarm recover`) accepts the new set from then on, and only it.
 *
 * @example
 * await setGuardians(options, { namespace: 'alice', master, guardian, guardianPublicKeys: [g1.publicKey, g2.publicKey] });
 */
export async function setGuardians(
  options: ClientOptions,
  input: { namespace: string; master: SigningKey; guardian: SigningKey; guardianPublicKeys: string[] },
): Promise<NamespaceRecord> {
  const data: GuardianChangeData = {
    namespace: input.namespace,
    guardian_public_keys: input.guardianPublicKeys,
    ...freshness(),
    context: 'guardian_change',
  };
  const envelope = {
    ...signEnvelope('guardian_change', data, input.master.privateKey),
    guardian_approval: { public_key: input.guardian.publicKey, signature: sign('guardian_change', data, input.guardian.privateKey) },
  };
  const path = `/v1/namespaces/${encodeURIComponent(input.namespace)}/guardians`;
  return (await call('POST', registryUrl(options, path), NamespaceRecord, envelope)).body;
}

export interface OperationAnswer {
  app_id: string;
  id: string;
  entries: AuditEntry[];
}

/**
 * What the registry logged for one operation of the app. An id of digits is an audit seq (the
 * id every registry change answers with, `GET …/log/{seq}`); any other id (an update_id, a
 * delegation_id, a service_id, a receipt_id, a key) is looked up in the log's entries, every page
 * read: each entry with a field equal to it or a list holding it. None is `404 not_found`.
 */
export async function operation(options: ClientOptions, appId: string, id: string): Promise<OperationAnswer> {
  if (/^[0-9]+$/.test(id)) {
    const entry = (await call('GET', registryUrl(options, `${appPath(appId)}/log/${id}`), AuditEntry)).body;
    return { app_id: appId, id, entries: [entry] };
  }
  const entries: AuditEntry[] = [];
  for await (const page of auditPages(options, appId)) {
    entries.push(
      ...page.filter((entry) => Object.values(entry).some((value) => value === id || (Array.isArray(value) && value.includes(id)))),
    );
  }
  if (entries.length === 0) throw new SwarmError('not_found', `no operation ${id} in the audit log of ${appId}`);
  return { app_id: appId, id, entries };
}
