import { isAppId, NAMESPACE_PATTERN, type NamespaceAppsAnswer, SwarmError } from '@swarm/protocol';
import type { FastifyInstance } from 'fastify';
import type { RegistryContext } from '../context.js';
import { pageLimit } from '../pages.js';
import { findNamespace } from '../storage/namespaces.js';

const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

/**
 * `GET /v1/namespaces/{ns}/apps?after=<app_id>&limit=<n>`: the namespace's apps in app_id order,
 * a page at a time (`swarm apps --namespace`). Public, like each app's record and the namespace
 * record it lists from: ids, names, status and epochs, no keys beyond what those show.
 */
export function namespaceAppRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get<{ Params: { ns: string }; Querystring: { after?: unknown; limit?: unknown } }>(
    '/v1/namespaces/:ns/apps',
    async (request): Promise<NamespaceAppsAnswer> => {
      const name = request.params.ns;
      if (!NAMESPACE_PATTERN.test(name)) throw new SwarmError('invalid_request', 'namespace must be 1–63 of [a-z0-9_-]');
      const after = request.query.after;
      if (after !== undefined && after !== '' && !isAppId(after)) {
        throw new SwarmError('invalid_request', 'after must be the last app_id of the page before');
      }
      const limit = pageLimit(request.query.limit, PAGE_DEFAULT, PAGE_MAX);
      if (!(await findNamespace(ctx.db, name))) throw new SwarmError('unknown_namespace', `no namespace ${name} here`);
      let query = ctx.db
        .selectFrom('apps')
        .select(['app_id', 'project_slug', 'display_name', 'status', 'created_at', 'config_epoch'])
        .where('owner_namespace', '=', name)
        .orderBy('app_id')
        .limit(limit + 1);
      if (typeof after === 'string' && after !== '') query = query.where('app_id', '>', after);
      const rows = await query.execute();
      const page = rows.slice(0, limit);
      return {
        namespace: name,
        apps: page.map((row) => ({
          app_id: row.app_id,
          project_slug: row.project_slug,
          display_name: row.display_name,
          status: row.status,
          created_at: Number(row.created_at),
          config_epoch: Number(row.config_epoch),
        })),
        next: rows.length > limit ? (page.at(-1)?.app_id ?? null) : null,
      };
    },
  );
}
