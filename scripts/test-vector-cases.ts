import { createHash } from 'node:crypto';
import type { Purpose } from '@swarm/protocol';

/**
 * The signed objects behind docs/test-vectors.json: one realistic SPEC message per purpose, with
 * non-ASCII text, nested objects and keys out of JCS order. Seeds are fixed, so regenerating
 * the vectors must reproduce them byte for byte.
 */
export interface VectorCase {
  name: string;
  purpose: Purpose;
  seedLabel: string;
  object: unknown;
}

export function seedFor(label: string): Buffer {
  return createHash('sha256').update(`swarm test vector seed: ${label}`).digest();
}

const appId = 'org.omiappreg.alice.business_app.7f8a9d';
const keyA = 'ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
const keyB = 'ed25519:PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw';

export const VECTOR_CASES: VectorCase[] = [
  {
    name: 'namespace claim with metadata and non-ASCII organization',
    purpose: 'namespace',
    seedLabel: 'master',
    object: {
      public_key: 'ed25519:<master>',
      namespace_claim: 'alice',
      guardian_public_keys: [keyA],
      contact_email: 'alice@devagency.com',
      metadata: { website: 'https://devagency.com', organization: 'Dev Agency – Zürich ✓' },
      timestamp: 1705412400,
      nonce: '8f3k2l9a',
    },
  },
  {
    name: 'app manifest',
    purpose: 'app',
    seedLabel: 'master',
    object: {
      owner_namespace: 'alice',
      project_slug: 'business_app',
      display_name: 'Business App 商业',
      description: 'A decentralized business app',
      timestamp: 1705412400,
      nonce: 'a1b2c3d4e5',
    },
  },
  {
    name: 'domain provisioning request (SPEC §5.1)',
    purpose: 'provision',
    seedLabel: 'master',
    object: {
      app_id: appId,
      target_provider: 'article.cms.io',
      service_tier: 'pro_cluster',
      region: 'eu-central-1',
      storage_limit_gb: 50,
      timestamp: 1705412600,
      nonce: 'z3x9v2n8',
    },
  },
  {
    name: 'auth delegation',
    purpose: 'delegate_authority',
    seedLabel: 'master',
    object: {
      action: 'DELEGATE_AUTHORITY',
      app_id: appId,
      auth_public_key: keyA,
      auth_provider_url: 'https://auth.example/apps/org.omiappreg.alice.business_app.7f8a9d',
      retire_previous_after: 300,
      timestamp: 1705412500,
      nonce: 'x7v9n2q5',
    },
  },
  {
    name: 'backbone update with nested services',
    purpose: 'backbone_update',
    seedLabel: 'master',
    object: {
      app_id: appId,
      operational_context: {
        logging_service_url: 'https://logs.private-cloud.net',
        billing_provider_url: 'https://api.sovereign-pay.io/v1',
        services: { search: 'https://search.example/v1', analytics: 'https://analytics.example' },
      },
      timestamp: 1705412850,
      nonce: 'v4n2m8k1',
      context: 'backbone_update',
    },
  },
  {
    name: 'master key rotation',
    purpose: 'master_key_rotation',
    seedLabel: 'master',
    object: { namespace: 'alice', new_master_public_key: keyB, timestamp: 1705412600, nonce: 'q8w7e6r5', context: 'master_key_rotation' },
  },
  {
    name: 'identity recovery signed by a guardian',
    purpose: 'identity_recovery',
    seedLabel: 'guardian',
    object: { namespace: 'alice', new_master_public_key: keyB, timestamp: 1705412600, nonce: 'k3m9j2p1', context: 'identity_recovery' },
  },
  {
    name: 'catalog offer with tiers',
    purpose: 'offer',
    seedLabel: 'provider',
    object: {
      service_type: 'cms-article',
      provider: 'article.cms.io',
      provision_url: 'https://article.cms.io/v1/instances',
      events_url: 'https://article.cms.io/v1/events',
      public_key: 'ed25519:<self>',
      tiers: [
        { name: 'free', storage_limit_gb_max: 1, storage_limit_gb_default: 1 },
        { storage_limit_gb_default: 10, name: 'pro_cluster', storage_limit_gb_max: 100 },
      ],
      regions: ['eu-central-1', 'us-east-1'],
      description: 'Articles — créés, édités, publiés',
      timestamp: 1705412000,
      nonce: 'o1f2f3e4',
    },
  },
  {
    name: 'binding handshake (developer proof + service binding)',
    purpose: 'binding',
    seedLabel: 'provider',
    object: {
      service_binding: {
        service_id: 'cms-article-instance-77',
        service_type: 'cms-article',
        public_key: keyA,
        endpoint_url: 'https://i77.article.cms.io/api/v1',
        timestamp: 1705412605,
        nonce: 'k9m2p4r1',
      },
      developer_proof: {
        payload: {
          app_id: appId,
          target_provider: 'article.cms.io',
          service_tier: 'pro_cluster',
          region: 'eu-central-1',
          storage_limit_gb: 50,
          timestamp: 1705412600,
          nonce: 'z3x9v2n8',
        },
        signature: 'b'.repeat(128),
      },
    },
  },
  {
    name: 'operational context',
    purpose: 'operational_context',
    seedLabel: 'registry',
    object: {
      app_id: appId,
      config_epoch: 3,
      issued_at: 1705412606,
      auth: {
        auth_provider_url: 'https://auth.example/apps/org.omiappreg.alice.business_app.7f8a9d',
        issuer: 'https://auth.example/apps/org.omiappreg.alice.business_app.7f8a9d',
        audience: appId,
        jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'kid-1' }] },
      },
      billing_provider_url: 'https://api.sovereign-pay.io/v1',
      logging_service_url: 'https://logs.private-cloud.net',
      services: {},
      registry: { authority: 'omiappreg.org', public_key: keyB },
    },
  },
  {
    name: 'heartbeat service call',
    purpose: 'service_call',
    seedLabel: 'instance',
    object: { app_id: appId, service_id: 'cms-article-instance-77', timestamp: 1705412700, nonce: 'h1b2e3a4', status: 'ok' },
  },
  {
    name: 'instance key rotation',
    purpose: 'key_rotation',
    seedLabel: 'instance',
    object: {
      app_id: appId,
      service_id: 'cms-article-instance-77',
      new_public_key: keyB,
      rotation_timestamp: 1705412600,
      nonce: 'm5n8b2v1',
      context: 'key_rotation',
    },
  },
  {
    name: 'permanent termination',
    purpose: 'permanent_termination',
    seedLabel: 'master',
    object: {
      app_id: appId,
      service_id: 'cms-article-77',
      timestamp: 1705412950,
      nonce: 'k9b2v1x8',
      context: 'permanent_termination',
      data_handling: 'wipe',
    },
  },
  {
    name: 'termination receipt',
    purpose: 'termination_receipt',
    seedLabel: 'instance',
    object: {
      app_id: appId,
      service_id: 'cms-article-77',
      status: 'success',
      message: 'Instance purged — données effacées',
      receipt_id: 'RCPT-9921-X',
      timestamp: 1705412951,
    },
  },
  {
    name: 'decommission with nested receipt',
    purpose: 'decommission',
    seedLabel: 'master',
    object: {
      app_id: appId,
      service_id: 'cms-article-77',
      timestamp: 1705412960,
      nonce: 'r4t7y1u9',
      context: 'decommission',
      provider_receipt: {
        version: '1.0',
        data: {
          app_id: appId,
          service_id: 'cms-article-77',
          status: 'success',
          message: 'Instance purged',
          receipt_id: 'RCPT-9921-X',
          timestamp: 1705412951,
        },
        signature: 'c'.repeat(128),
      },
    },
  },
  {
    name: 'key rotation broadcast',
    purpose: 'broadcast',
    seedLabel: 'registry',
    object: {
      origin: 'omiappreg.org',
      app_id: appId,
      service_id: 'cms-article-77',
      event: 'KEY_ROTATION',
      old_public_key: keyA,
      new_public_key: keyB,
      grace_period_expiry: 1705412900,
      timestamp: 1705412610,
      nonce: 'n7b2v9x4',
    },
  },
  {
    name: 'owner query (extension)',
    purpose: 'owner_query',
    seedLabel: 'master',
    object: {
      app_id: appId,
      service_id: 'cms-article-77',
      audience: 'https://billing.example.org',
      timestamp: 1705413000,
      nonce: 'q1u2e3r4',
    },
  },
  {
    name: 'dead-letter broadcast retry (extension)',
    purpose: 'broadcast_retry',
    seedLabel: 'master',
    object: {
      app_id: appId,
      action: 'retry_broadcasts',
      ids: ['b-1', 'b-2'],
      timestamp: 1705413050,
      nonce: 'r3t5r7y9',
    },
  },
  {
    // The bytes of a registry-signed export (SPEC §15); `source.public_key` here is a fixed key, not the seed's.
    name: 'app export signed by its registry',
    purpose: 'export',
    seedLabel: 'registry',
    object: {
      format: 'swarm-app-export/1',
      source: { authority: 'omiappreg.org', public_key: keyA },
      exported_at: 1705413100,
      app_id: appId,
      namespace: 'alice',
      master_public_key: keyB,
      guardian_public_keys: [keyA],
      former_master_public_keys: [],
      app: {
        app_id: appId,
        owner_namespace: 'alice',
        project_slug: 'business_app',
        display_name: 'Café Müller',
        status: 'active',
        created_at: 1705400100,
        config_epoch: 3,
        auth: null,
        billing_provider_url: 'https://billing.example',
        logging_service_url: null,
        services: {},
      },
      operational_context: {
        app_id: appId,
        config_epoch: 3,
        issued_at: 1705413100,
        auth: null,
        billing_provider_url: 'https://billing.example',
        logging_service_url: null,
        services: {},
        registry: { authority: 'omiappreg.org', public_key: keyA },
      },
      config_epoch: 3,
      bindings: [],
      providers: [],
      audit_head: { seq: 4, hash: createHash('sha256').update('head').digest('hex') },
    },
  },
  {
    name: 'token request (extension)',
    purpose: 'token_request',
    seedLabel: 'master',
    object: { app_id: appId, sub: 'ops@devagency.com', roles: ['admin'], timestamp: 1705413000, nonce: 't0k3n4r5' },
  },
  {
    name: 'auth key rotation (extension)',
    purpose: 'auth_key_rotation',
    seedLabel: 'master',
    object: { app_id: appId, timestamp: 1705413000, nonce: 'r0t4t3k3', context: 'auth_key_rotation' },
  },
  {
    name: 'provider heartbeat: two instances (extension)',
    purpose: 'provider_heartbeat',
    seedLabel: 'provider',
    object: {
      provider: 'article.cms.io',
      timestamp: 1705413000,
      nonce: 'b4tch3dh34rt',
      beats: [
        { app_id: appId, service_id: 'cms-article-x7k2m9p4q1', status: 'ok' },
        { app_id: appId, service_id: 'cms-article-z3n8w5r2t6', status: 'degraded' },
      ],
    },
  },
  {
    name: 'auth admin: sign-up policy (extension)',
    purpose: 'auth_admin',
    seedLabel: 'master',
    object: {
      app_id: appId,
      timestamp: 1705413000,
      nonce: 's1gnup0p',
      context: 'signup_policy',
      policy: 'open',
      default_roles: ['reader'],
    },
  },
  {
    name: 'instance update: tier upgrade (extension)',
    purpose: 'instance_update',
    seedLabel: 'master',
    object: {
      app_id: appId,
      service_id: 'cms-article-instance-77',
      target_provider: 'article.cms.io',
      service_tier: 'pro_cluster',
      storage_limit_gb: 50,
      timestamp: 1705413100,
      nonce: 'upd4t3t1',
      context: 'instance_update',
    },
  },
  {
    name: 'update binding: the provider notice (extension)',
    purpose: 'update_binding',
    seedLabel: 'provider',
    object: {
      developer_proof: {
        payload: {
          app_id: appId,
          service_id: 'cms-article-instance-77',
          target_provider: 'article.cms.io',
          service_tier: 'pro_cluster',
          storage_limit_gb: 50,
          timestamp: 1705413100,
          nonce: 'upd4t3t1',
          context: 'instance_update',
        },
        signature: '0'.repeat(128),
      },
      service_update: { service_id: 'cms-article-instance-77', timestamp: 1705413101, nonce: 'n0t1c3u1' },
    },
  },
  {
    name: 'app retirement (extension)',
    purpose: 'app_retirement',
    seedLabel: 'master',
    object: { app_id: appId, timestamp: 1705413200, nonce: 'r3t1r3a1', context: 'app_retirement' },
  },
  {
    name: 'delegation: a CI key may provision (extension)',
    purpose: 'delegation',
    seedLabel: 'master',
    object: {
      namespace: 'alice',
      public_key: 'ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
      apps: [appId],
      actions: ['provision', 'read_usage'],
      expires_at: 1705499400,
      timestamp: 1705413300,
      nonce: 'd3l3g4t1',
      context: 'delegation',
    },
  },
  {
    name: 'delegation revocation (extension)',
    purpose: 'delegation_revocation',
    seedLabel: 'master',
    object: {
      namespace: 'alice',
      delegation_id: '0123456789abcdef0123456789abcdef',
      timestamp: 1705413400,
      nonce: 'r3v0k3d1',
      context: 'delegation_revocation',
    },
  },
  {
    name: 'instance move: the owner lets the old instance hand its data to the new one (extension)',
    purpose: 'instance_move',
    seedLabel: 'master',
    object: {
      app_id: appId,
      service_id: 'cms-article-instance-77',
      source_provider: 'article.cms.io',
      target_provider: 'article2.cms.io',
      new_service_id: 'cms-article-instance-78',
      timestamp: 1705413500,
      nonce: 'm0v3m0v3',
      context: 'instance_move',
    },
  },
  {
    name: 'transfer page: the new provider asks for the first page (extension)',
    purpose: 'transfer_page',
    seedLabel: 'provider',
    object: {
      move_id: 'db0c19b372ce66ef68774cc88cc83486',
      provider: 'article2.cms.io',
      authorization: {
        payload: {
          app_id: appId,
          service_id: 'cms-article-instance-77',
          source_provider: 'article.cms.io',
          target_provider: 'article2.cms.io',
          new_service_id: 'cms-article-instance-78',
          timestamp: 1705413500,
          nonce: 'm0v3m0v3',
          context: 'instance_move',
        },
        signature: '0'.repeat(128),
      },
      cursor: null,
      timestamp: 1705413501,
      nonce: 'p4g3p4g3',
    },
  },
];
