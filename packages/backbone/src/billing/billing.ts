import { nowSeconds, parseMessage, SwarmError, UsageReport } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import { readFilters } from '../shared/query-params.js';
import { type ReceiverContext, startReportReceiver, verifyReport } from '../shared/report-receiver.js';
import type { BackboneServerOptions, ServerHandle } from '../shared/server-options.js';
import { migrateUsage, UsageStore } from './usage-store.js';

/**
 * Billing (SPEC §9.3): takes signed usage reports from bound instances, counts each nonce once,
 * and shows an app's usage to its owner.
 *
 * @example
 * const billing = await startBilling({ port: 0, dataDir, trustedRegistries: [registry] });
 */
export function startBilling(options: BackboneServerOptions): Promise<ServerHandle> {
  return startReportReceiver(options, { name: 'billing', file: 'billing.db', migrate: migrateUsage, routes: billingRoutes });
}

function billingRoutes(context: ReceiverContext): void {
  const { app, owners } = context;
  const usage = new UsageStore(context.db);

  app.post('/v1/usage', async (request, reply) => {
    const report = parseMessage(UsageReport, jsonBody(request));
    if (report.data.period_end < report.data.period_start) throw new SwarmError('invalid_request', 'period_end is before period_start');
    const signer = await verifyReport(context, report);
    await usage.record(report.data, signer, nowSeconds());
    reply.code(202).send({ accepted: true });
  });

  app.get('/v1/usage', async (request) => {
    const filters = readFilters(request.query, ['app_id', 'service_id']);
    await owners.requireAdminToken(filters.app_id, request.headers.authorization);
    return usage.summary(filters.app_id, filters.service_id);
  });

  app.post('/v1/usage/query', async (request) => {
    const query = await owners.verifySignedQuery(jsonBody(request), { kind: 'billing', ownUrls: () => [context.url()] });
    return usage.summary(query.app_id, query.service_id);
  });
}
