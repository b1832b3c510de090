import { AppUpdate, type AppUpdateAnswer, nowSeconds, parseMessage, SwarmError } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireActive, requireApp } from '../app-change.js';
import { pathAppId, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { requireMasterSigned } from '../master-key.js';
import { appPublicRecord } from '../operational-context.js';
import { appendAudit, auditEntryText } from '../storage/audit.js';

/**
 * An owner changes an app's display data (docs/PROTOCOL.md, "Apps and namespaces change"):
 * display name and description only, under the Master key alone (no delegation grants it).
 * Display data is not in the operational context, so the config epoch stays and nothing is
 * broadcast; the change is in the audit log, and its seq is the operation's id.
 */
export function appUpdateRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.patch<{ Params: { app_id: string } }>('/v1/apps/:app_id', async (request): Promise<AppUpdateAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const update = parseMessage(AppUpdate, jsonBody(request));
    const data = update.data;
    requireSame('app_id', data.app_id, appId);
    requireFresh(ctx, data.timestamp);
    const row = requireActive(await requireApp(ctx, appId));
    const signedBy = await requireMasterSigned(ctx, row, 'app_update', data, update.signature);
    const now = nowSeconds();
    return changeApp(ctx, appId, async (trx, locked): Promise<AppUpdateAnswer> => {
      // Retired or suspended between the first read and the lock.
      if (locked.status !== 'active') requireActive(locked);
      if (data.display_name !== undefined) locked.displayName = data.display_name;
      if (data.description !== undefined) locked.description = data.description;
      const entry = await appendAudit(trx, locked, now, 'app_updated', {
        display_name: locked.displayName,
        description: locked.description,
        signed_by: signedBy,
      });
      return { ...appPublicRecord(locked, now), audit_seq: entry.seq };
    });
  });

  // One audit entry by its seq: the id of an operation the registry logged (docs/PROTOCOL.md).
  app.get<{ Params: { app_id: string; seq: string } }>('/v1/apps/:app_id/log/:seq', async (request, reply) => {
    const appId = pathAppId(request.params.app_id);
    const seq = /^[1-9][0-9]{0,15}$/.test(request.params.seq) ? Number(request.params.seq) : Number.NaN;
    if (!Number.isSafeInteger(seq)) throw new SwarmError('invalid_request', 'seq must be a positive integer');
    const row = await requireApp(ctx, appId, 'read');
    const entry = await auditEntryText(ctx.db, row.appId, seq);
    if (entry === null) throw new SwarmError('not_found', `no audit entry ${seq} for ${appId}`);
    return reply.type('application/json; charset=utf-8').send(entry);
  });
}
