import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AnswerSchema,
  AppRecord,
  AuditLogAnswer,
  ConfigEpochAnswer,
  DecommissionAnswer,
  generateSigningKey,
  LogsAnswer,
  MasterKeyRecord,
  NamespaceRecord,
  ProvisionAnswer,
  ProvisionedInstance,
  parseAnswer,
  RegistryInfo,
  ServicesAnswer,
  SwarmError,
  TokenAnswer,
  UsageSummary,
} from '../src/index.js';

const appId = 'local.swarm.alice.blog.k3j9x2abcd';
const key = generateSigningKey().publicKey;
const binding = {
  app_id: appId,
  service_id: 'cms-article-abc123defg',
  service_type: 'cms-article',
  provider: 'article.cms.local',
  endpoint_url: 'http://127.0.0.1:7410/i/cms-article-abc123defg/api/v1',
  public_key: key,
  service_tier: 'free',
  region: 'local',
  storage_limit_gb: 1,
  bound_at: 1705412605,
  status: 'active' as const,
};

/** One valid answer of each kind, as the servers send them. */
const valid: Array<[string, AnswerSchema<unknown>, unknown]> = [
  ['namespace', NamespaceRecord, { namespace: 'alice', public_key: key, guardian_public_keys: [key], status: 'active', created_at: 1 }],
  [
    'app',
    AppRecord,
    {
      app_id: appId,
      owner_namespace: 'alice',
      project_slug: 'blog',
      display_name: 'Blog',
      description: null,
      status: 'active',
      created_at: 1,
      config_epoch: 2,
      auth: null,
      billing_provider_url: 'http://127.0.0.1:7402',
      logging_service_url: null,
      services: {},
    },
  ],
  ['config epoch', ConfigEpochAnswer, { app_id: appId, config_epoch: 3 }],
  ['master key', MasterKeyRecord, { app_id: appId, namespace: 'alice', public_key: key, status: 'active' }],
  [
    'services',
    ServicesAnswer,
    {
      app_id: appId,
      records: [{ ...binding, health: 'healthy', last_heartbeat_at: 5, previous_public_key: key, previous_key_expires_at: 9 }],
    },
  ],
  [
    'provision (201)',
    ProvisionedInstance,
    {
      service_id: binding.service_id,
      status: 'active',
      endpoint_url: binding.endpoint_url,
      app_id: appId,
      service_type: 'cms-article',
      service_tier: 'free',
      region: 'local',
      storage_limit_gb: 1,
      bound_at: 1705412605,
    },
  ],
  [
    'provision (failed)',
    ProvisionAnswer,
    {
      service_id: binding.service_id,
      status: 'failed',
      endpoint_url: binding.endpoint_url,
      app_id: appId,
      service_type: 'cms-article',
      error: { code: 'unknown_app', message: 'no such app' },
    },
  ],
  ['registry info', RegistryInfo, { authority: 'swarm.local', public_key: key, version: '1.0', dns_port: null }],
  ['decommission', DecommissionAnswer, { binding: { ...binding, status: 'revoked' }, revoked: true }],
  [
    'usage',
    UsageSummary,
    {
      app_id: appId,
      reports: 2,
      period: { start: 1, end: 2 },
      totals: [{ service_id: binding.service_id, metric: 'calls', value: 3 }],
      app_totals: [],
    },
  ],
  [
    'logs',
    LogsAnswer,
    {
      app_id: appId,
      entries: [{ service_id: binding.service_id, level: 'info', message: 'hi', at: 1, fields: { a: [1] }, received_at: 2 }],
    },
  ],
  ['token', TokenAnswer, { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 3600 }],
  ['audit log', AuditLogAnswer, { entries: [{ seq: 1, at: 1, event: 'app_registered', prev_hash: '0', hash: '1', app_id: appId }] }],
];

/** A SwarmError with `code` whose message names the peer. */
const refused =
  (code: string, peer = 'peer') =>
  (error: unknown) =>
    error instanceof SwarmError && error.code === code && error.message.includes(peer);

describe('answer schemas', () => {
  for (const [name, schema, answer] of valid) {
    it(`a valid ${name} answer reads back as sent`, () => {
      assert.deepEqual(parseAnswer(schema, answer, 'peer'), answer);
      // What reaches the wire is the JSON form: it reads back the same.
      assert.deepEqual(parseAnswer(schema, JSON.parse(JSON.stringify(answer)), 'peer'), answer);
    });
  }

  it('a field a later profile adds is dropped, not refused', () => {
    const answer = { app_id: appId, config_epoch: 3, added_later: true };
    assert.deepEqual(parseAnswer(ConfigEpochAnswer, answer, 'peer'), { app_id: appId, config_epoch: 3 });
  });

  it('a wrong answer is the peer’s fault: registry_unavailable, or the code the caller names', () => {
    const keyless = { app_id: appId, namespace: 'alice', status: 'active' };
    assert.throws(
      () => parseAnswer(MasterKeyRecord, keyless, 'registry swarm.local'),
      refused('registry_unavailable', 'registry swarm.local'),
    );
    assert.throws(
      () => parseAnswer(ServicesAnswer, { app_id: appId }, 'registry', 'internal_error'),
      refused('internal_error', 'registry'),
    );
    assert.throws(() => parseAnswer(ProvisionAnswer, null, 'article.cms.local'), refused('registry_unavailable', 'article.cms.local'));
  });

  it('any valid answer with one required field dropped or retyped is refused', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid.filter(([name]) => name !== 'audit log')),
        fc.nat(),
        fc.constantFrom(undefined, 'x', -1, null, [], {}),
        ([, schema, answer], pick, replacement) => {
          const object = answer as Record<string, unknown>;
          const required = Object.keys(object).filter((field) => {
            const { [field]: _dropped, ...rest } = object;
            return !schema.safeParse(rest).success;
          });
          fc.pre(required.length > 0);
          const field = required[pick % required.length] as string;
          const wrong = { ...object, [field]: replacement };
          fc.pre(!schema.safeParse(wrong).success);
          assert.throws(() => parseAnswer(schema, wrong, 'peer'), refused('registry_unavailable'));
        },
      ),
      { numRuns: 200 },
    );
  });
});
