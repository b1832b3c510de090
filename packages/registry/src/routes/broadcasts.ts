import { BroadcastRetry, nowSeconds, parseMessage, SwarmError } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { requireApp } from '../app-change.js';
import { pathAppId, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { requireMasterSigned } from '../master-key.js';
import { pageLimit } from '../pages.js';
import { type BroadcastState, listBroadcasts, pendingBroadcastsOfApp, retryDead } from '../storage/outbox.js';

const STATES: readonly BroadcastState[] = ['pending', 'dead', 'delivered'];

/** `<created_at>.<id>` of the last row of a page. */
function parseCursor(value: unknown): { createdAt: number; id: string } | null {
  if (value === undefined || value === '') return null;
  const match = typeof value === 'string' ? /^([0-9]{1,15})\.([A-Za-z0-9-]{1,64})$/.exec(value) : null;
  if (!match) throw new SwarmError('invalid_request', 'after must be a cursor from the page before');
  return { createdAt: Number(match[1]), id: match[2] as string };
}

/**
 * The app's broadcast outbox as its owner sees it: what waits, what was delivered, and the dead
 * letters (a receiver refused them for good, or they stayed undelivered too long), which the
 * owner may put back in the queue with a Master-signed retry.
 */
export function broadcastRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get<{ Params: { app_id: string }; Querystring: { state?: unknown; after?: unknown; limit?: unknown } }>(
    '/v1/apps/:app_id/broadcasts',
    async (request) => {
      const appId = pathAppId(request.params.app_id);
      const state = (request.query.state ?? 'dead') as BroadcastState;
      if (!STATES.includes(state)) throw new SwarmError('invalid_request', `state must be one of ${STATES.join(', ')}`);
      const after = parseCursor(request.query.after);
      const limit = pageLimit(request.query.limit, 100, 1000);
      const row = await requireApp(ctx, appId, 'read');
      const broadcasts = await listBroadcasts(ctx.db, row.appId, state, after, limit + 1);
      const page = broadcasts.slice(0, limit);
      const last = page.at(-1);
      return {
        app_id: row.appId,
        state,
        broadcasts: page,
        next: broadcasts.length > limit && last ? `${last.created_at}.${last.id}` : null,
      };
    },
  );

  app.post<{ Params: { app_id: string } }>('/v1/apps/:app_id/broadcasts/retry', async (request) => {
    const appId = pathAppId(request.params.app_id);
    const retry = parseMessage(BroadcastRetry, jsonBody(request));
    const data = retry.data;
    requireSame('app_id', data.app_id, appId);
    requireFresh(ctx, data.timestamp);
    const row = await requireApp(ctx, appId);
    await requireMasterSigned(ctx, row, 'broadcast_retry', data, retry.signature);
    // Retried rows count against the app's cap like new ones.
    const room = ctx.broadcastQueueCap - (await pendingBroadcastsOfApp(ctx.db, appId));
    const retried = await retryDead(ctx.db, appId, data.ids ?? null, nowSeconds(), room);
    if (retried > 0) ctx.kickBroadcasts();
    return { app_id: appId, retried };
  });
}
