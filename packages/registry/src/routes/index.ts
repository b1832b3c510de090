import type { FastifyInstance } from 'fastify';
import type { RegistryContext } from '../context.js';
import { adminRoutes } from './admin.js';
import { appRetirementRoutes } from './app-retirement.js';
import { appRoutes } from './apps.js';
import { bindingRoutes } from './bindings.js';
import { broadcastRoutes } from './broadcasts.js';
import { catalogRoutes } from './catalog.js';
import { delegationRoutes } from './delegations.js';
import { exportRoutes } from './export.js';
import { providerHeartbeatRoutes } from './heartbeats.js';
import { instanceUpdateRoutes } from './instance-updates.js';
import { instanceRoutes } from './instances.js';
import { migrationRoutes } from './migration.js';
import { namespaceAppRoutes } from './namespace-apps.js';
import { namespaceRoutes } from './namespaces.js';
import { openApiRoutes } from './openapi.js';
import { releaseRoutes } from './release.js';
import { wellKnownRoutes } from './well-known.js';

export function registerRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  wellKnownRoutes(app, ctx);
  namespaceRoutes(app, ctx);
  namespaceAppRoutes(app, ctx);
  appRoutes(app, ctx);
  exportRoutes(app, ctx);
  migrationRoutes(app, ctx);
  releaseRoutes(app, ctx);
  delegationRoutes(app, ctx);
  appRetirementRoutes(app, ctx);
  broadcastRoutes(app, ctx);
  catalogRoutes(app, ctx);
  bindingRoutes(app, ctx);
  instanceRoutes(app, ctx);
  providerHeartbeatRoutes(app, ctx);
  instanceUpdateRoutes(app, ctx);
  adminRoutes(app, ctx);
  openApiRoutes(app);
}
