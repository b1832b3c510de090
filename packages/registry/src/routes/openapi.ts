import {
  AppManifest,
  AppRetirement,
  AppRetirementAnswer,
  AppUpdate,
  AppUpdateAnswer,
  BackboneUpdate,
  BindingAnswer,
  BindingRequest,
  CatalogEntry,
  Decommission,
  DelegateAuthority,
  Delegation,
  DelegationRecord,
  DelegationRevocation,
  DelegationsAnswer,
  GuardianChange,
  Heartbeat,
  IdentityRecovery,
  KeyRotation,
  MasterKeyRotation,
  MigrationControl,
  MigrationPrepare,
  MigrationProof,
  MigrationRecord,
  MigrationVeto,
  NamespaceClaim,
  Offer,
  ProviderHeartbeat,
  ProviderHeartbeatAnswer,
  RebindAnswer,
  ReleaseAnswer,
  ServiceCall,
  ServiceRebind,
  SignedContext,
  UpdateBindingAnswer,
  UpdateBindingRequest,
} from '@swarm/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

type Operation = { summary: string; body?: z.ZodType; answer?: z.ZodType; status?: number; admin?: boolean };

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

const OPERATIONS: Record<string, Record<string, Operation>> = {
  '/.well-known/swarm-registry': { get: { summary: 'Registry authority, public key, protocol version and DNS port' } },
  '/v1/namespaces': { post: { summary: 'Claim a namespace (self-signed, purpose namespace)', body: NamespaceClaim, status: 201 } },
  '/v1/namespaces/{ns}': { get: { summary: 'A namespace record' } },
  '/v1/namespaces/{ns}/master-key': { post: { summary: 'Planned Master key rotation', body: MasterKeyRotation } },
  '/v1/namespaces/{ns}/recovery': { post: { summary: 'Guardian recovery of the Master key', body: IdentityRecovery } },
  '/v1/namespaces/{ns}/guardians': {
    post: { summary: 'A new Guardian set (Master key, co-signed by a current Guardian; guardian_change)', body: GuardianChange },
  },
  '/v1/namespaces/{ns}/apps': { get: { summary: 'The namespace’s apps, a page at a time (?after=APP_ID&limit=N)' } },
  '/v1/apps': { post: { summary: 'Register an app (Master key, purpose app)', body: AppManifest, status: 201 } },
  '/v1/apps/{app_id}': {
    get: { summary: 'The app’s public record' },
    patch: { summary: 'The app’s display data (Master key, app_update)', body: AppUpdate, answer: AppUpdateAnswer },
  },
  '/v1/apps/{app_id}/master-key': { get: { summary: 'The app’s Master public key' } },
  '/v1/apps/{app_id}/auth': { post: { summary: 'Auth delegation (purpose delegate_authority)', body: DelegateAuthority } },
  '/v1/apps/{app_id}/operational-context': { patch: { summary: 'Backbone update (purpose backbone_update)', body: BackboneUpdate } },
  '/v1/apps/{app_id}/services': { get: { summary: 'Service DNS over HTTP: bound instances with health' } },
  '/v1/apps/{app_id}/export': {
    get: { summary: 'The app’s signed export (purpose export): keys, bindings, providers, audit head' },
  },
  '/v1/apps/{app_id}/log': { get: { summary: 'The app’s hash-chained audit log, a page at a time (?after=SEQ&limit=N)' } },
  '/v1/apps/{app_id}/log/{seq}': { get: { summary: 'One audit entry by its seq (the id of an operation the registry logged)' } },
  '/v1/apps/{app_id}/broadcasts': { get: { summary: 'The app’s broadcast outbox by state (?state=dead|pending|delivered)' } },
  '/v1/apps/{app_id}/broadcasts/retry': { post: { summary: 'Puts dead-letter broadcasts back in the queue (Master-signed)' } },
  '/v1/bindings': { post: { summary: 'Binding handshake (Proof of Duty)', body: BindingRequest, answer: BindingAnswer, status: 201 } },
  '/v1/apps/{app_id}/services/{service_id}/context': {
    post: { summary: 'Signed operational context for a bound instance', body: ServiceCall, answer: SignedContext },
  },
  '/v1/apps/{app_id}/services/{service_id}/heartbeat': { post: { summary: 'Instance heartbeat', body: Heartbeat } },
  '/v1/apps/{app_id}/services/{service_id}/key': { post: { summary: 'Instance key rotation', body: KeyRotation } },
  '/v1/apps/{app_id}/services/{service_id}/decommission': { post: { summary: 'Revoke an instance', body: Decommission } },
  '/v1/catalog': { get: { summary: 'The catalog of providers' } },
  '/v1/catalog/{service_type}': { get: { summary: 'Providers of one service_type' } },
  '/v1/catalog/{provider}': {
    put: { summary: 'A provider’s signed offer (admin token the first time)', body: Offer, answer: CatalogEntry },
  },
  '/v1/apps/{app_id}/migration': {
    post: {
      summary: 'Prepare a migration here: the source’s signed export and the Proof of Continuity',
      body: MigrationPrepare,
      answer: MigrationRecord,
      status: 201,
    },
    get: { summary: 'The migration prepared here', answer: MigrationRecord },
  },
  '/v1/apps/{app_id}/migration/activate': {
    post: { summary: 'Activate a prepared migration (Master key, migration_control)', body: MigrationControl, answer: MigrationRecord },
  },
  '/v1/apps/{app_id}/migration/abort': {
    post: { summary: 'Abort a prepared migration (Master key, migration_control)', body: MigrationControl, answer: MigrationRecord },
  },
  '/v1/apps/{app_id}/migration/veto': {
    post: { summary: 'A Guardian vetoes a prepared migration (migration_veto)', body: MigrationVeto, answer: MigrationRecord },
  },
  '/v1/apps/{app_id}/services/{service_id}/rebind': {
    post: {
      summary: 'An imported instance re-binds (instance and provider keys, service_rebind)',
      body: ServiceRebind,
      answer: RebindAnswer,
    },
  },
  '/v1/apps/{app_id}/release': {
    post: {
      summary: 'Release the app to another registry (the Proof of Continuity); then 410 app_migrated',
      body: MigrationProof,
      answer: ReleaseAnswer,
    },
  },
  '/v1/namespaces/{namespace}/delegations': {
    post: { summary: 'Grant a delegated key (Master key only, delegation)', body: Delegation, answer: DelegationRecord, status: 201 },
    get: { summary: 'The namespace’s delegated keys (public, like the audit log)', answer: DelegationsAnswer },
  },
  '/v1/namespaces/{namespace}/delegations/{delegation_id}/revoke': {
    post: {
      summary: 'Revoke a delegated key (Master key only, delegation_revocation)',
      body: DelegationRevocation,
      answer: DelegationRecord,
    },
  },
  '/v1/apps/{app_id}/delegations': { get: { summary: 'The delegated keys granted for the app (public)', answer: DelegationsAnswer } },
  '/v1/apps/{app_id}/retire': {
    post: {
      summary: 'Retire the app once its services are gone (Master key only, app_retirement)',
      body: AppRetirement,
      answer: AppRetirementAnswer,
    },
  },
  '/v1/providers/{provider}/heartbeats': {
    post: {
      summary: 'Batched liveness of a provider’s instances (the provider’s catalog key, provider_heartbeat)',
      body: ProviderHeartbeat,
      answer: ProviderHeartbeatAnswer,
    },
  },
  '/v1/apps/{app_id}/services/{service_id}/update': {
    post: {
      summary: 'An instance’s provider passes on the owner’s update (provider key over the owner’s instance_update, update_binding)',
      body: UpdateBindingRequest,
      answer: UpdateBindingAnswer,
      status: 201,
    },
  },
  '/v1/admin/trust': {
    get: { summary: 'Peer registries trusted for migrations (admin token)', admin: true },
    put: { summary: 'Replace the peer registries trusted for migrations: { registries: [...] } (admin token)', admin: true },
  },
  '/v1/admin/apps/{app_id}/suspend': { post: { summary: 'Suspend an app (admin token)', admin: true } },
  '/v1/admin/apps/{app_id}/resume': { post: { summary: 'Resume a suspended app (admin token)', admin: true } },
};

/** Served by every part for operators and probes, described in docs/OPERATIONS.md rather than here. */
const OPERATIONAL_PATHS = new Set(['/openapi.json', '/healthz', '/readyz', '/metrics']);

/**
 * The registry's routes, each of which must be in OPERATIONS: its summary says who may call it
 * (a key and purpose, the admin token, or nobody in particular for public reads). Collects the
 * routes registered after it and `check()` stops the start when one was never described.
 */
export function describedRoutes(app: FastifyInstance): { check(): void } {
  const undescribed: string[] = [];
  app.addHook('onRoute', (route) => {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    if (OPERATIONAL_PATHS.has(path)) return;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      if (!OPERATIONS[path]?.[method.toLowerCase()]) undescribed.push(`${method} ${route.url}`);
    }
  });
  return {
    check() {
      if (undescribed.length > 0) {
        throw new Error(`registry routes without a description of who may call them (routes/openapi.ts): ${undescribed.join(', ')}`);
      }
    },
  };
}

const schema = (type: z.ZodType) => z.toJSONSchema(type, { unrepresentable: 'any', io: 'input' });

/** OpenAPI 3.1 of the registry, built from the protocol's zod schemas. */
export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(OPERATIONS)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) {
      const parameters = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      paths[path][method] = {
        summary: op.summary,
        ...(parameters.length ? { parameters } : {}),
        ...(op.admin ? { security: [{ bearer: [] }] } : {}),
        ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(op.body) } } } } : {}),
        responses: {
          [String(op.status ?? 200)]: {
            description: 'success',
            ...(op.answer ? { content: { 'application/json': { schema: schema(op.answer) } } } : {}),
          },
          default: { description: 'an error (SPEC §14)', content: { 'application/json': { schema: schema(ErrorBody) } } },
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Swarm App Registry', version: '1.0' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

export function openApiRoutes(app: FastifyInstance): void {
  let document: ReturnType<typeof openApiDocument> | null = null;
  app.get('/openapi.json', async () => {
    document ??= openApiDocument();
    return document;
  });
}
