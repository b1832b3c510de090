import { type LogsAnswer, LogsReport, nowSeconds, parseMessage } from '@swarm/protocol';
import { jsonBody } from '@swarm/runtime';
import { readFilters } from '../shared/query-params.js';
import { type ReceiverContext, startReportReceiver, verifyReport } from '../shared/report-receiver.js';
import type { BackboneServerOptions, ServerHandle } from '../shared/server-options.js';
import { LogStore, migrateLogs } from './log-store.js';

/**
 * Logging (SPEC §9.3): takes signed log batches from bound instances, stores each nonce once,
 * and shows an app's logs to its owner.
 *
 * @example
 * const logging = await startLogging({ port: 0, dataDir, trustedRegistries: [registry] });
 */
export function startLogging(options: BackboneServerOptions): Promise<ServerHandle> {
  return startReportReceiver(options, { name: 'logging', file: 'logging.db', migrate: migrateLogs, routes: loggingRoutes });
}

function loggingRoutes(context: ReceiverContext): void {
  const { app, owners } = context;
  const logs = new LogStore(context.db);

  app.post('/v1/logs', async (request, reply) => {
    const report = parseMessage(LogsReport, jsonBody(request));
    const signer = await verifyReport(context, report);
    await logs.record(report.data, signer, nowSeconds());
    reply.code(202).send({ accepted: true });
  });

  app.get('/v1/logs', async (request): Promise<LogsAnswer> => {
    const filters = readFilters(request.query, ['app_id', 'service_id', 'level', 'since', 'limit']);
    await owners.requireAdminToken(filters.app_id, request.headers.authorization);
    return { app_id: filters.app_id, entries: await logs.entries(filters) };
  });

  app.post('/v1/logs/query', async (request): Promise<LogsAnswer> => {
    const query = await owners.verifySignedQuery(jsonBody(request), { kind: 'logging', ownUrls: () => [context.url()] });
    return { app_id: query.app_id, entries: await logs.entries(query) };
  });
}
