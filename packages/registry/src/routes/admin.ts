import { nowSeconds } from '@swarm/protocol';
import type { FastifyInstance } from 'fastify';
import { changeApp } from '../app-change.js';
import { pathAppId, requireAdmin } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { appendAudit } from '../storage/audit.js';

/** Operator actions behind the admin token: suspending an app stops its Master key being served. */
export function adminRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  for (const [action, status] of [
    ['suspend', 'suspended'],
    ['resume', 'active'],
  ] as const) {
    app.post<{ Params: { app_id: string } }>(`/v1/admin/apps/:app_id/${action}`, async (request) => {
      requireAdmin(ctx, request);
      const appId = pathAppId(request.params.app_id);
      await changeApp(ctx, appId, async (trx, row) => {
        if (row.status === status) return;
        row.status = status;
        await appendAudit(trx, row, nowSeconds(), status === 'suspended' ? 'app_suspended' : 'app_resumed', { by: 'operator' });
      });
      return { app_id: appId, status };
    });
  }
}
