import { nowSeconds, parseTrustList, type TrustedRegistry } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { changeApp } from '../app-change.js';
import { pathAppId, requireAdmin } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { appendAudit } from '../storage/audit.js';

const trustView = (entries: TrustedRegistry[]) => ({
  registries: entries.map((entry) => ({ authority: entry.authority, baseUrl: entry.baseUrl, publicKey: entry.publicKey })),
});

/**
 * Operator actions behind the admin token: suspending an app stops its Master key being served;
 * the table of peer registries trusted for migrations is read and replaced whole (the trust
 * file's format; a bad list changes nothing). A followed `--trust` file replaces it again on its
 * next change.
 */
export function adminRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get('/v1/admin/trust', async (request) => {
    requireAdmin(ctx, request);
    return trustView(ctx.trust.list());
  });
  app.put('/v1/admin/trust', async (request) => {
    requireAdmin(ctx, request);
    // `{ registries: [...] }`: a body is a JSON object; the list is the trust file's.
    ctx.trust.replace(parseTrustList(JSON.stringify(jsonBody(request).registries ?? null)));
    return trustView(ctx.trust.list());
  });

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
