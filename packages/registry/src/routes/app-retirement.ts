import { AppRetirement, type AppRetirementAnswer, nowSeconds, parseMessage, SwarmError } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp, requireApp } from '../app-change.js';
import { pathAppId, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { requireMasterSigned } from '../master-key.js';
import { countActiveBindings, findRetirement, insertRetirement } from '../storage/app-retirements.js';
import { appendAudit, lastEventSeq } from '../storage/audit.js';

/**
 * An owner retires an app (docs/REGISTRY.md, "Retiring an app"). Like deleting a service
 * instance that still has bindings in the Open Service Broker API, it is refused while any
 * instance is bound: each is decommissioned first, with its provider's receipt. The app's row,
 * app_id, zone and audit log stay; every write for it is `410 gone` from then on.
 */
export function appRetirementRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.post<{ Params: { app_id: string } }>('/v1/apps/:app_id/retire', async (request): Promise<AppRetirementAnswer> => {
    const appId = pathAppId(request.params.app_id);
    const retirement = parseMessage(AppRetirement, jsonBody(request));
    const data = retirement.data;
    requireSame('app_id', data.app_id, appId);
    requireFresh(ctx, data.timestamp);
    const row = await requireApp(ctx, appId);
    const signedBy = await requireMasterSigned(ctx, row, 'app_retirement', data, retirement.signature);
    return changeApp(ctx, appId, async (trx, locked): Promise<AppRetirementAnswer> => {
      // A retry after success: the same answer (its nonce was fresh, so it was signed again).
      const done = await findRetirement(trx, appId);
      if (locked.status === 'retired' && done) {
        const seq = await lastEventSeq(trx, appId, 'app_retired');
        return { app_id: appId, status: 'retired', retired_at: done.retiredAt, ...(seq === null ? {} : { audit_seq: seq }) };
      }
      if (locked.status === 'suspended') throw new SwarmError('app_suspended', `app ${appId} is suspended`);
      const bound = await countActiveBindings(trx, appId);
      if (bound > 0) {
        throw new SwarmError(
          'conflict',
          `app ${appId} still has ${bound} bound instance${bound === 1 ? '' : 's'}: decommission ${bound === 1 ? 'it' : 'them'} first`,
        );
      }
      const now = nowSeconds();
      locked.status = 'retired';
      await insertRetirement(trx, { appId, ownerNamespace: locked.ownerNamespace, projectSlug: locked.projectSlug, retiredAt: now });
      const entry = await appendAudit(trx, locked, now, 'app_retired', { signed_by: signedBy });
      return { app_id: appId, status: 'retired', retired_at: now, audit_seq: entry.seq };
    });
  });
}
