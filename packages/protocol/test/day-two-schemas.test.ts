import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AppRetirement,
  Delegation,
  DelegationRevocation,
  generateSigningKey,
  InstanceUpdateRequest,
  parseMessage,
  SwarmError,
  sign,
  signEnvelope,
  UpdateBindingRequest,
  verify,
} from '../src/index.js';

const master = generateSigningKey();
const delegate = generateSigningKey();
const appId = 'local.swarm.alice.blog.k3j9x0d2ab';

const samples = {
  delegation: signEnvelope(
    'delegation',
    {
      namespace: 'alice',
      public_key: delegate.publicKey,
      apps: [appId],
      actions: ['provision'],
      expires_at: 1_800_000_000,
      timestamp: 1_700_000_000,
      nonce: 'abcdefgh',
      context: 'delegation',
    },
    master.privateKey,
  ),
  update: signEnvelope(
    'instance_update',
    {
      app_id: appId,
      service_id: 'cms-article-abc',
      target_provider: 'article.cms.local',
      service_tier: 'pro_cluster',
      storage_limit_gb: 10,
      timestamp: 1_700_000_000,
      nonce: 'abcdefgh',
      context: 'instance_update',
    },
    master.privateKey,
  ),
};

/** Any JSON value a client could send in place of a field. */
const anyJson = fc.jsonValue({ maxDepth: 2 });

describe('day-two messages: strict shapes and purposes of their own', () => {
  it('takes the well-formed messages', () => {
    assert.equal(parseMessage(Delegation, samples.delegation).data.actions[0], 'provision');
    assert.equal(parseMessage(InstanceUpdateRequest, samples.update).data.storage_limit_gb, 10);
  });

  it('answers any field replaced by any JSON value with invalid_request or the valid message, never another error', () => {
    const schemas = [
      [Delegation, samples.delegation],
      [InstanceUpdateRequest, samples.update],
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.string({ maxLength: 20 }), anyJson, (which, field, value) => {
        const [schema, sample] = schemas[which] as (typeof schemas)[number];
        const data = { ...(sample.data as Record<string, unknown>), [field]: value };
        try {
          parseMessage(schema, { ...sample, data });
        } catch (error) {
          assert.ok(error instanceof SwarmError, String(error));
          assert.equal(error.code, 'invalid_request');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never verifies a day-two signature under another purpose', () => {
    const purposes = ['instance_update', 'update_binding', 'app_retirement', 'delegation', 'delegation_revocation'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...purposes), fc.constantFrom(...purposes), (signedAs, checkedAs) => {
        const data = samples.delegation.data;
        const signature = sign(signedAs, data, master.privateKey);
        assert.equal(verify(checkedAs, data, signature, master.publicKey), signedAs === checkedAs);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses the wrong context literal in every day-two message', () => {
    const bad = (schema: Parameters<typeof parseMessage>[0], data: Record<string, unknown>) =>
      assert.throws(() => parseMessage(schema, { version: '1.0', data: { ...data, context: 'decommission' }, signature: 'a'.repeat(128) }));
    bad(AppRetirement, { app_id: appId, timestamp: 1, nonce: 'abcdefgh' });
    bad(DelegationRevocation, { namespace: 'alice', delegation_id: 'a'.repeat(32), timestamp: 1, nonce: 'abcdefgh' });
    bad(InstanceUpdateRequest, { ...samples.update.data });
    assert.throws(() => parseMessage(UpdateBindingRequest, { version: '1.0' }));
  });
});
